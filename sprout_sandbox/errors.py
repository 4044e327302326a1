"""How the sandbox answers a request it refuses: the documented ``{"error": ...}``."""

from __future__ import annotations


class ApiError(Exception):
    """A refusal with an HTTP status and the message the API would put in ``error``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    """A 400 whose message names what is wrong with the request."""
    return ApiError(400, message)


def forbidden(message: str) -> ApiError:
    """A 403: the token may not read this customer, profile, group or topic."""
    return ApiError(403, message)
