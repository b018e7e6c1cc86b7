"""Writes of the api app: API tokens are created, revoked and marked as used here."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from .models import ApiToken

TOKEN_PREFIX = "lg_"
# last_used_at is for people ("is this integration still alive?"), so minute precision is
# plenty, and it spares the database a write on every request.
TOUCH_INTERVAL = timedelta(minutes=1)


def create_token(name: str, *, user: AbstractBaseUser | None = None) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is returned here once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name.strip(),
        prefix=secret[:8],
        key_hash=ApiToken.hash(secret),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    return token, secret


def revoke_tokens(tokens: Iterable[ApiToken]) -> int:
    """Revoke the tokens that are still active; returns how many were revoked."""
    ids = [token.pk for token in tokens]
    return ApiToken.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def touch_token(token: ApiToken) -> None:
    """Record that the token was used, at most once per TOUCH_INTERVAL."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_INTERVAL:
        return
    # Conditional, so concurrent requests on the same token write it once.
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_INTERVAL)
    ).update(last_used_at=now)
    token.last_used_at = now
