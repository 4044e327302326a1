"""Bearer tokens: static API tokens and an OAuth 2.0 authorization server.

The real API accepts account-scoped API tokens (no expiry) and short-lived JWT access
tokens from Sprout's Okta-hosted authorization server. The sandbox issues JWT-shaped
tokens for the ``client_credentials``, ``authorization_code`` (PKCE S256 only) and
``refresh_token`` grants. Access tokens expire ``token_ttl_seconds`` after issue on the
sandbox clock, so a test expires them by advancing the clock. Tokens and secrets are
never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sprout_sandbox._asgi import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    customer_in_path,
    header,
    is_control,
    is_oauth,
    json_bytes,
    sandbox_now,
    send_json,
)
from sprout_sandbox.config import SandboxConfig

CODE_TTL = timedelta(minutes=10)
ORGANIZATION_SCOPE = "organization_id"
_FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class _Grant:
    client_id: str
    scope: str
    expires_at: datetime | None


@dataclass(frozen=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    expires_at: datetime


class OAuthError(Exception):
    """An RFC 6749 error answer: ``{"error": code, "error_description": ...}``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


class TokenStore:
    """Every token the sandbox accepts: static API tokens and issued OAuth tokens."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._codes: dict[str, _Code] = {}
        self._signing_key = secrets.token_bytes(32)

    def resolve(self, token: str, now: datetime) -> tuple[str, tuple[int, ...] | None]:
        """Check a bearer token.

        Returns:
            ``("ok", customers)`` (customers None: every customer), ``("expired", None)``
            or ``("invalid", None)``.
        """
        if token in self.config.tokens:
            return "ok", self.config.tokens[token]
        with self._lock:
            grant = self._access.get(token)
        if grant is None:
            return "invalid", None
        if grant.expires_at is not None and now >= grant.expires_at:
            return "expired", None
        return "ok", None

    def issue(self, client_id: str, scope: str, now: datetime, refresh: bool) -> dict[str, Any]:
        """Issue an access token (and a refresh token when asked); the token response."""
        ttl = self.config.token_ttl_seconds
        access = self._jwt(client_id, scope, now, ttl)
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": ttl,
            "access_token": access,
            "scope": scope,
        }
        with self._lock:
            self._access[access] = _Grant(client_id, scope, now + timedelta(seconds=ttl))
            if refresh:
                refresh_token = secrets.token_urlsafe(32)
                self._refresh[refresh_token] = _Grant(client_id, scope, None)
                answer["refresh_token"] = refresh_token
        return answer

    def store_code(self, code: _Code) -> str:
        """Remember an authorization code; return it."""
        value = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[value] = code
        return value

    def take_code(self, value: str) -> _Code | None:
        """Consume an authorization code (codes are single use)."""
        with self._lock:
            return self._codes.pop(value, None)

    def take_refresh(self, value: str) -> _Grant | None:
        """Consume a refresh token; the grant is rotated on every use."""
        with self._lock:
            return self._refresh.pop(value, None)

    def _jwt(self, client_id: str, scope: str, now: datetime, ttl: int) -> str:
        issued = int(now.timestamp())
        head = _b64(json_bytes({"alg": "HS256", "typ": "JWT"}))
        claims = {
            "sub": client_id,
            "cid": client_id,
            "scp": scope.split(),
            "iat": issued,
            "exp": issued + ttl,
            "jti": secrets.token_hex(8),
        }
        body = _b64(json_bytes(claims))
        signature = hmac.new(self._signing_key, f"{head}.{body}".encode(), hashlib.sha256)
        return f"{head}.{body}.{_b64(signature.digest())}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE ``code_verifier``."""
    return _b64(hashlib.sha256(verifier.encode()).digest())


# --- the authorization server's endpoints -------------------------------------------


def oauth_routes() -> list[Route]:
    """Routes of the sandbox's OAuth authorization server, under ``/oauth2/``."""
    return [
        Route("/oauth2/v1/token", _token, methods=["POST"]),
        Route("/oauth2/v1/authorize", _authorize, methods=["GET"]),
        Route("/oauth2/.well-known/oauth-authorization-server", _metadata, methods=["GET"]),
    ]


async def _metadata(request: Request) -> Response:
    base = str(request.base_url).rstrip("/") + "/oauth2"
    return JSONResponse(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/v1/authorize",
            "token_endpoint": f"{base}/v1/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": [ORGANIZATION_SCOPE, "openid", "offline_access"],
        }
    )


async def _token(request: Request) -> Response:
    try:
        answer = await _grant(request)
    except OAuthError as exc:
        body = {"error": exc.code, "error_description": exc.description}
        headers = {"WWW-Authenticate": "Basic"} if exc.status == 401 else None
        return JSONResponse(body, status_code=exc.status, headers=headers)
    return JSONResponse(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def _grant(request: Request) -> dict[str, Any]:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != _FORM_TYPE:
        raise OAuthError("invalid_request", f"the token request must be sent as {_FORM_TYPE}")
    form = {key: str(value) for key, value in (await request.form()).items()}
    store: TokenStore = request.app.state.tokens
    now = sandbox_now(request.app.state.world)
    grant_type = form.get("grant_type", "")
    if grant_type == "client_credentials":
        client_id = _authenticate_client(request, form, store.config, secret_required=True)
        return _client_credentials(form, client_id, store, now)
    if grant_type == "authorization_code":
        client_id = _authenticate_client(request, form, store.config, secret_required=False)
        return _authorization_code(form, client_id, store, now)
    if grant_type == "refresh_token":
        client_id = _authenticate_client(request, form, store.config, secret_required=False)
        return _refresh_token(form, client_id, store, now)
    raise OAuthError(
        "unsupported_grant_type",
        "grant_type must be client_credentials, authorization_code or refresh_token",
    )


def _authenticate_client(
    request: Request, form: dict[str, str], config: SandboxConfig, secret_required: bool
) -> str:
    client_id, secret = form.get("client_id", ""), form.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(basic[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed Basic credentials", 401) from None
        client_id, _, secret = decoded.partition(":")
    expected = config.oauth_clients.get(client_id)
    if expected is None:
        raise OAuthError("invalid_client", "unknown client_id: check the client id", 401)
    if secret is None and not secret_required:
        return client_id
    if secret is None or not hmac.compare_digest(secret, expected):
        raise OAuthError("invalid_client", "client authentication failed", 401)
    return client_id


def _client_credentials(
    form: dict[str, str], client_id: str, store: TokenStore, now: datetime
) -> dict[str, Any]:
    scope = form.get("scope", "")
    if ORGANIZATION_SCOPE not in scope.split():
        raise OAuthError(
            "invalid_scope", f"client_credentials requests must ask for scope={ORGANIZATION_SCOPE}"
        )
    return store.issue(client_id, ORGANIZATION_SCOPE, now, refresh=False)


def _authorization_code(
    form: dict[str, str], client_id: str, store: TokenStore, now: datetime
) -> dict[str, Any]:
    code = store.take_code(form.get("code", ""))
    if code is None or code.client_id != client_id or now >= code.expires_at:
        raise OAuthError("invalid_grant", "the authorization code is invalid, used or expired")
    if form.get("redirect_uri", "") != code.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
    verifier = form.get("code_verifier", "")
    if not verifier:
        raise OAuthError("invalid_request", "code_verifier is required (PKCE)")
    if not hmac.compare_digest(pkce_challenge(verifier), code.challenge):
        raise OAuthError("invalid_grant", "PKCE verification failed: code_verifier does not match")
    return store.issue(client_id, code.scope, now, refresh=True)


def _refresh_token(
    form: dict[str, str], client_id: str, store: TokenStore, now: datetime
) -> dict[str, Any]:
    grant = store.take_refresh(form.get("refresh_token", ""))
    if grant is None or grant.client_id != client_id:
        raise OAuthError("invalid_grant", "the refresh token is invalid or was already used")
    return store.issue(client_id, grant.scope, now, refresh=True)


async def _authorize(request: Request) -> Response:
    """Issue a code at once: the sandbox has no login page, every user consents."""
    params = request.query_params
    config: SandboxConfig = request.app.state.config
    redirect_uri = params.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    if params.get("client_id") not in config.oauth_clients:
        return _oauth_json(400, "invalid_client", "unknown client_id")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _oauth_json(400, "invalid_request", "redirect_uri must be an absolute http(s) URL")
    error = _authorize_error(params)
    answer: dict[str, str] = {"error": error} if error else {}
    if not error:
        now = sandbox_now(request.app.state.world)
        code = _Code(
            client_id=params["client_id"],
            redirect_uri=redirect_uri,
            challenge=params["code_challenge"],
            scope=params.get("scope", "openid offline_access"),
            expires_at=now + CODE_TTL,
        )
        answer["code"] = request.app.state.tokens.store_code(code)
    if "state" in params:
        answer["state"] = params["state"]
    separator = "&" if parts.query else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(answer)}", status_code=302)


def _authorize_error(params: Any) -> str | None:
    if params.get("response_type") != "code":
        return "unsupported_response_type"
    if not params.get("code_challenge"):
        return "invalid_request"
    if params.get("code_challenge_method", "plain") != "S256":
        return "invalid_request"
    return None


def _oauth_json(status: int, code: str, description: str) -> Response:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


# --- checking bearer tokens on API requests -----------------------------------------


class AuthMiddleware:
    """ASGI middleware: 401 without a valid bearer token, 403 for another customer's path.

    Sets ``scope["state"]["customer_ids"]`` (read by handlers as
    ``request.state.customer_ids``) to the customers the token may read.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request's token, then serve it."""
        path = scope.get("path", "")
        if scope["type"] != "http" or is_control(path) or is_oauth(path):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        customers, refusal = _customers_of_request(scope, state)
        if refusal:
            await send_json(send, 401, {"error": refusal}, [(b"www-authenticate", b"Bearer")])
            return
        requested = customer_in_path(path)
        if requested is not None and requested not in customers:
            # The gateway refuses such paths in its own shape, not the API's envelope.
            await send_json(send, 403, {"code": 403, "message": "HTTP 403 Forbidden"})
            return
        scope.setdefault("state", {})["customer_ids"] = customers
        await self.app(scope, receive, send)


def _customers_of_request(scope: Scope, state: Any) -> tuple[frozenset[int], str | None]:
    value = header(scope, b"authorization")
    if not value:
        return frozenset(), (
            "Missing Authorization header: send `Authorization: Bearer <API token or "
            "OAuth access token>`."
        )
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return frozenset(), "The Authorization header must be `Bearer <token>`."
    verdict, allowed = state.tokens.resolve(token.strip(), sandbox_now(state.world))
    if verdict == "expired":
        return frozenset(), "The access token has expired: obtain a fresh token and retry."
    if verdict == "invalid":
        return frozenset(), "The access token is not valid: check the token or obtain a new one."
    every = state.customer_ids
    return (every if allowed is None else every & frozenset(allowed)), None
