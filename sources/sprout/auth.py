"""Access tokens for the Sprout API: a static API token, or one issued by the OAuth server.

Sprout accepts two kinds of bearer token: account-scoped API tokens, which do not
expire, and short-lived JWTs from its OAuth 2.0 server (client credentials for
machine-to-machine clients, or a refresh token for user-based ones). The lifetime of
a JWT is not documented, so it is read from ``expires_in`` on every issue.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from sources.sprout.redact import redact, register_secret

logger = logging.getLogger(__name__)

SPROUT_TOKEN_URL = (
    "https://identity.sproutsocial.com/oauth2/84e39c75-d770-45d9-90a9-7b79e3037d2c/v1/token"
)
# Renew this long before the token expires, so a request never starts with a token
# that runs out while it waits in the pacer.
_RENEW_EARLY_SECONDS = 60.0
# Used when the token endpoint leaves out expires_in; Sprout's JWTs live about an hour.
_DEFAULT_EXPIRES_IN = 3600.0
_TOKEN_ATTEMPTS = 4
_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class TokenError(Exception):
    """No usable token: the OAuth server refused, or a static token was rejected."""


class TokenProvider:
    """Hands out the bearer token for every request, renewing OAuth tokens in time.

    Give either ``access_token`` (a static API token), or ``client_id`` and
    ``client_secret`` (OAuth client credentials grant), optionally with
    ``refresh_token`` (then the refresh token grant is used). Every secret is
    registered for masking the moment it is seen.

    Args:
        access_token: a static API token (`sources.sprout.access_token`).
        client_id: the OAuth client id.
        client_secret: the OAuth client secret.
        token_url: the OAuth token endpoint; Sprout's when not given.
        refresh_token: an OAuth refresh token, for user-based clients.
        http: the HTTP client for the token endpoint; a private one when not given.
        clock: monotonic seconds; injectable for tests.
        sleep: blocks for the given seconds; injectable for tests.
    """

    def __init__(
        self,
        *,
        access_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        refresh_token: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for secret in (access_token, client_secret, refresh_token):
            register_secret(secret)
        if not access_token and not (client_id and client_secret):
            raise TokenError(
                "no credentials for the Sprout API: set `sources.sprout.access_token`, "
                "or `sources.sprout.client_id` and `sources.sprout.client_secret` "
                "for an OAuth client"
            )
        self._static = bool(access_token)
        self._token = access_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self.token_url = token_url or SPROUT_TOKEN_URL
        self._http = http
        self._owns_http = http is None
        self._clock = clock
        self._sleep = sleep
        self._expires_at = float("inf") if self._static else float("-inf")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        if self._static:
            return "TokenProvider(static API token)"
        grant = "refresh_token" if self._refresh_token else "client_credentials"
        return f"TokenProvider(OAuth {grant}, client_id={self._client_id!r})"

    @property
    def renewable(self) -> bool:
        """Whether a rejected token can be replaced by a new one (OAuth only)."""
        return not self._static

    def token(self) -> str:
        """Return a valid bearer token, fetching a new one shortly before expiry.

        Raises:
            TokenError: the OAuth server refused the credentials or could not be reached.
        """
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - _RENEW_EARLY_SECONDS:
                return self._fetch()
            return self._token

    def invalidate(self, rejected: str | None = None) -> None:
        """Forget the current token after a 401, so the next :meth:`token` fetches anew.

        Args:
            rejected: the token the API refused; when another thread has already
                replaced it, nothing is done, so a burst of 401s renews only once.

        Raises:
            TokenError: the token is a static API token, which cannot be renewed.
        """
        if self._static:
            raise TokenError(
                "the API token was refused (401): check `sources.sprout.access_token`, "
                "which may be mistyped, revoked, or lack the API permission"
            )
        with self._lock:
            if rejected is None or rejected == self._token:
                self._token = None

    def close(self) -> None:
        """Close the HTTP client of the token endpoint if this provider opened it."""
        if self._http is not None and self._owns_http:
            self._http.close()
            self._http = None

    def _fetch(self) -> str:
        grant = "refresh_token" if self._refresh_token else "client_credentials"
        form = {
            "grant_type": grant,
            "client_id": self._client_id or "",
            "client_secret": self._client_secret or "",
        }
        if self._refresh_token:
            form["refresh_token"] = self._refresh_token
        else:
            # Sprout's machine-to-machine clients ask for this scope.
            form["scope"] = "organization_id"
        token = self._accept(self._post_with_retries(form, grant))
        logger.info("obtained an OAuth access token (%s grant)", grant)
        return token

    def _accept(self, issued: dict[str, Any]) -> str:
        token = issued.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenError(
                f"the token endpoint {self.token_url} answered without an access_token: "
                "check `sources.sprout.token_url`"
            )
        register_secret(token)
        new_refresh = issued.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh:
            register_secret(new_refresh)
            self._refresh_token = new_refresh
        expires_in = float(issued.get("expires_in") or _DEFAULT_EXPIRES_IN)
        self._token = token
        self._expires_at = self._clock() + expires_in
        return token

    def _post_with_retries(self, form: dict[str, str], grant: str) -> dict[str, Any]:
        problem = ""
        for attempt in range(_TOKEN_ATTEMPTS):
            if attempt:
                self._sleep(random.uniform(0, 2.0**attempt))
            try:
                response = self._client().post(self.token_url, data=form)
            except httpx.HTTPError as exc:
                problem = redact(f"{type(exc).__name__}: {exc}")
                logger.warning("token endpoint unreachable (%s); retrying", problem)
                continue
            if response.status_code not in _TRANSIENT_STATUSES:
                return self._parse(response, grant)
            problem = f"status {response.status_code}"
            logger.warning("token endpoint answered %s; retrying", response.status_code)
        raise TokenError(
            f"the token endpoint {self.token_url} failed {_TOKEN_ATTEMPTS} times ({problem}): "
            "check `sources.sprout.token_url` and the network, then rerun"
        )

    def _parse(self, response: httpx.Response, grant: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            return body
        detail = _oauth_error(body) or response.text[:200]
        setting = (
            "`sources.sprout.refresh_token`"
            if grant == "refresh_token"
            else "`sources.sprout.client_id` and `sources.sprout.client_secret`"
        )
        raise TokenError(
            redact(
                f"the token endpoint {self.token_url} refused the {grant} grant "
                f"({response.status_code}: {detail}): check {setting}"
            )
        )

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=30.0)
        return self._http


def _oauth_error(body: Any) -> str:
    """The OAuth error code and description, or a gateway's ``message``."""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[key]) for key in ("error", "error_description", "message") if body.get(key)]
    return ": ".join(parts)
