"""The read endpoints of the sandbox: metadata, analytics, messages, cases, listening.

Handlers read the world from ``request.app.state.world`` and the customers the token
may read from ``request.state.customer_ids`` (both set by the platform). They raise
:class:`~sprout_sandbox.errors.ApiError` for refusals, which the platform turns into
``{"error": message}`` with the status.
"""

from __future__ import annotations

from starlette.routing import Route

from sprout_sandbox.api.analytics import analytics_posts, analytics_profiles
from sprout_sandbox.api.inbox import cases, messages
from sprout_sandbox.api.listening import aggregate_topic, topic_messages, topic_metrics
from sprout_sandbox.api.metadata import (
    client,
    customer_profiles,
    customer_topics,
    listing_endpoint,
    served_topic,
)
from sprout_sandbox.world import World

__all__ = ["aggregate_topic", "read_routes", "served_topic"]


def read_routes() -> list[Route]:
    """Every read endpoint with its documented verb."""
    base = "/v1/{customer_id:int}"
    meta = f"{base}/metadata/customer"
    listing = {
        "tags": World.tags,
        "groups": World.groups,
        "users": World.users,
        "teams": World.teams,
        "queues": World.queues,
    }
    return [
        Route("/v1/metadata/client", client, methods=["GET"]),
        Route(meta, customer_profiles, methods=["GET"]),
        *(
            Route(f"{meta}/{name}", listing_endpoint(m), methods=["GET"])
            for name, m in listing.items()
        ),
        Route(f"{meta}/topics", customer_topics, methods=["GET"]),
        Route(f"{base}/analytics/profiles", analytics_profiles, methods=["POST"]),
        Route(f"{base}/analytics/posts", analytics_posts, methods=["POST"]),
        Route(f"{base}/messages", messages, methods=["POST"]),
        Route(f"{base}/cases/filter", cases, methods=["POST"]),
        Route(f"{base}/listening/topics/{{topic_id}}/messages", topic_messages, methods=["POST"]),
        Route(f"{base}/listening/topics/{{topic_id}}/metrics", topic_metrics, methods=["POST"]),
    ]
