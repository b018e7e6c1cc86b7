import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A bearer token for an integration. Only the token's SHA-256 is stored: a leaked database
    (or backup) does not leak working credentials. The token itself is shown once, at creation."""

    name = models.CharField(max_length=100, help_text="Who uses it, e.g. “Website tracking”.")
    prefix = models.CharField(
        max_length=8,
        editable=False,
        help_text="The token's first characters, to tell tokens apart without revealing them.",
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(token: str) -> str:
        # A plain SHA-256 suffices: the token carries 256 random bits, so there is nothing to
        # brute-force, and lookups stay one indexed query per request.
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
