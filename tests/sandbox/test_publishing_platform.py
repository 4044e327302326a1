"""Creating and retrieving draft publishing posts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sandbox.platform_fixtures import AUTH, CUSTOMER, mp4, png, stand_in_sandbox

GROUP = CUSTOMER * 10
FACEBOOK, INSTAGRAM, UNGROUPED = CUSTOMER * 100 + 1, CUSTOMER * 100 + 2, CUSTOMER * 100 + 3
TAG = CUSTOMER * 1000 + 1
POSTS = f"/v1/{CUSTOMER}/publishing/posts"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with stand_in_sandbox() as (_, client):
        yield client


def _upload(client: httpx.Client, content: bytes, name: str) -> str:
    response = client.post(f"/v1/{CUSTOMER}/media/", headers=AUTH, files={"media": (name, content)})
    assert response.status_code == 200
    return str(response.json()["data"][0]["media_id"])


def _post(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "group_id": GROUP,
        "customer_profile_ids": [FACEBOOK, INSTAGRAM],
        "is_draft": True,
        "text": "A draft post",
        "delivery": {
            "scheduled_times": ["2026-03-30T18:20:45Z", "2026-04-02T09:00:00Z"],
            "type": "SCHEDULED",
        },
        "tag_ids": [TAG],
    }
    body.update(changes)
    return body


def test_a_post_fans_out_per_profile_and_send_time(client: httpx.Client) -> None:
    photo = _upload(client, png(), "a.png")
    response = client.post(
        POSTS, headers=AUTH, json=_post(media=[{"media_id": photo, "media_type": "PHOTO"}])
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert [(d["customer_profile_id"], d["post_type"]) for d in data] == [
        (str(FACEBOOK), "FACEBOOK_POST"),
        (str(FACEBOOK), "FACEBOOK_POST"),
        (str(INSTAGRAM), "INSTAGRAM_MEDIA"),
        (str(INSTAGRAM), "INSTAGRAM_MEDIA"),
    ]
    ids = [d["internal"]["publishing"]["publishing_post_id"] for d in data]
    assert len(set(ids)) == 4
    first = data[0]
    assert first["post_category"] == "POST"
    assert first["profile_guid"] == "fbpr:1112345"
    assert data[2]["profile_guid"] == "igpr:5556789"
    assert first["internal"]["publishing"] == {
        "publishing_post_id": ids[0],
        "group_id": GROUP,
        "is_draft": True,
        "text": "A draft post",
        "perma_link": f"https://app.sproutsocial.com/publishing/activity/{CUSTOMER}/{ids[0]}",
        "deliveries": [
            {
                "type": "SCHEDULED",
                "delivery_status": "PENDING",
                "scheduled_time": "2026-03-30T18:20:00Z",
            }
        ],
        "media": [{"id": photo, "media_type": "PHOTO"}],
        "created_by": {
            "id": 77,
            "email": "sprout.user@example.com",
            "first_name": "Sprout",
            "last_name": "User",
        },
        "updated_by": {
            "id": 77,
            "email": "sprout.user@example.com",
            "first_name": "Sprout",
            "last_name": "User",
        },
        "created_time": "2026-03-10T12:00:00Z",
        "updated_time": "2026-03-10T12:00:00Z",
    }
    times = [d["internal"]["publishing"]["deliveries"][0]["scheduled_time"] for d in data]
    assert times == ["2026-03-30T18:20:00Z", "2026-04-02T09:00:00Z"] * 2


def test_retrieving_any_id_returns_its_fan_out_group(client: httpx.Client) -> None:
    created = client.post(POSTS, headers=AUTH, json=_post()).json()["data"]
    ids = [d["internal"]["publishing"]["publishing_post_id"] for d in created]
    for post_id in ids:
        response = client.get(f"{POSTS}/{post_id}", headers=AUTH)
        assert response.status_code == 200
        assert response.json()["data"] == created


def test_a_post_without_delivery_has_one_object_per_profile(client: httpx.Client) -> None:
    body = _post(customer_profile_ids=[FACEBOOK])
    del body["delivery"]
    data = client.post(POSTS, headers=AUTH, json=body).json()["data"]
    assert len(data) == 1
    assert data[0]["internal"]["publishing"]["deliveries"] == []


@pytest.mark.parametrize(
    ("post_id", "status"),
    [("999", 404), ("abc", 400)],
    ids=["unknown", "not-a-number"],
)
def test_retrieving_an_unknown_post(client: httpx.Client, post_id: str, status: int) -> None:
    response = client.get(f"{POSTS}/{post_id}", headers=AUTH)
    assert response.status_code == status
    assert post_id in response.json()["error"]


def test_another_customer_cannot_retrieve_the_post(client: httpx.Client) -> None:
    created = client.post(POSTS, headers=AUTH, json=_post()).json()["data"]
    post_id = created[0]["internal"]["publishing"]["publishing_post_id"]
    assert client.get(f"/v1/2002/publishing/posts/{post_id}", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"is_draft": False}, 400, '"is_draft": true'),
        ({"group_id": None}, 400, "group_id is required"),
        ({"group_id": 20020}, 403, "group_id 20020 belongs to another customer"),
        ({"group_id": 555}, 400, "group_id 555 is not a group"),
        ({"customer_profile_ids": []}, 400, "non-empty array"),
        ({"customer_profile_ids": [UNGROUPED]}, 400, f"{UNGROUPED} is not in group {GROUP}"),
        ({"customer_profile_ids": [200201]}, 403, "200201 belongs to another customer"),
        ({"customer_profile_ids": [77]}, 400, "77 is not a profile"),
        (
            {"delivery": {"scheduled_times": ["2026-03-10T11:59:00Z"], "type": "SCHEDULED"}},
            400,
            "is not in the future",
        ),
        ({"delivery": {"scheduled_times": ["soon"], "type": "SCHEDULED"}}, 400, "ISO 8601"),
        (
            {"delivery": {"scheduled_times": ["2026-04-01T00:00:00Z"], "type": "NOW"}},
            400,
            "SCHEDULED",
        ),
        ({"delivery": {"scheduled_times": [], "type": "SCHEDULED"}}, 400, "non-empty"),
        ({"tag_ids": [TAG, 5]}, 400, "tag_ids [5] are not tags"),
        (
            {"media": [{"media_id": "nope", "media_type": "PHOTO"}]},
            400,
            "media_id nope does not exist",
        ),
        ({"media": [{"media_id": "nope", "media_type": "GIF"}]}, 400, "PHOTO or VIDEO"),
    ],
    ids=[
        "not-draft",
        "no-group",
        "other-customers-group",
        "unknown-group",
        "no-profiles",
        "profile-outside-group",
        "other-customers-profile",
        "unknown-profile",
        "past-time",
        "bad-time",
        "bad-delivery-type",
        "no-times",
        "unknown-tag",
        "unknown-media",
        "bad-media-type",
    ],
)
def test_invalid_posts_are_refused_with_a_reason(
    client: httpx.Client, changes: dict[str, Any], status: int, message: str
) -> None:
    before = client.get("/_sandbox/state").json()["publishing_posts"]
    response = client.post(POSTS, headers=AUTH, json=_post(**changes))
    assert response.status_code == status
    assert message in response.json()["error"]
    assert client.get("/_sandbox/state").json()["publishing_posts"] == before


def test_media_type_must_match_the_uploaded_content(client: httpx.Client) -> None:
    video = _upload(client, mp4(4000), "clip.bin")
    wrong = client.post(
        POSTS, headers=AUTH, json=_post(media=[{"media_id": video, "media_type": "PHOTO"}])
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == f"media_id {video} is a VIDEO, not a PHOTO."
    right = client.post(
        POSTS, headers=AUTH, json=_post(media=[{"media_id": video, "media_type": "VIDEO"}])
    )
    assert right.status_code == 200


def test_media_expires_after_24_hours_of_sandbox_time() -> None:
    with stand_in_sandbox() as (_, client):
        photo = _upload(client, png(), "a.png")
        client.post("/_sandbox/clock", json={"advance": "P1D"})
        body = _post(
            media=[{"media_id": photo, "media_type": "PHOTO"}],
            delivery={"scheduled_times": ["2026-04-01T00:00:00Z"], "type": "SCHEDULED"},
        )
        response = client.post(POSTS, headers=AUTH, json=body)
    assert response.status_code == 400
    assert "has expired" in response.json()["error"]


def test_control_endpoint_lists_created_posts() -> None:
    with stand_in_sandbox() as (_, client):
        created = client.post(POSTS, headers=AUTH, json=_post()).json()["data"]
        listed = client.get("/_sandbox/publishing/posts").json()["data"]
    assert [{k: v for k, v in p.items() if k != "customer_id"} for p in listed] == created
    assert {p["customer_id"] for p in listed} == {CUSTOMER}
