"""Bearer-token authentication for the API (contract §3): `Authorization: Bearer TOKEN`."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from .models import ApiToken
from .services import touch_token


class ApiTokenAuth(HttpBearer):
    """Resolves the request's bearer token to an active ApiToken, or answers 401 saying why.

    Ninja marks its views CSRF-exempt and this class does no CSRF check: a bearer token is not
    sent by browsers on their own, so cross-site request forgery does not apply. Session cookies
    are deliberately not accepted, so a logged-in browser cannot be used against the API.
    """

    def __call__(self, request: HttpRequest) -> ApiToken:
        header = request.headers.get(self.header, "")
        if not header:
            raise AuthenticationError(
                message="Authentication required: send Authorization: Bearer TOKEN."
            )
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthenticationError(message="Use the header Authorization: Bearer TOKEN.")
        return self.authenticate(request, secret.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        api_token = find_token(token)
        if api_token is None:
            raise AuthenticationError(message="Invalid token.")
        if not api_token.is_active:
            raise AuthenticationError(message="This token has been revoked.")
        touch_token(api_token)
        return api_token


def find_token(secret: str) -> ApiToken | None:
    return ApiToken.objects.filter(key_hash=ApiToken.hash(secret)).first()


def bearer_token(request: HttpRequest) -> ApiToken | None:
    """The request's active token, or None (for views outside ninja's auth, like the schema)."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    api_token = find_token(secret.strip())
    return api_token if api_token is not None and api_token.is_active else None
