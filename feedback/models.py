from django.conf import settings
from django.db import models


class SdrProfile(models.Model):
    """Whether an SDR takes new MQLs; round-robin assignment only picks active, accepting SDRs."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sdr_profile"
    )
    active = models.BooleanField(default=True)
    accepting_leads = models.BooleanField(
        default=True, help_text="Untick while on holiday: no new MQLs are assigned."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "SDR profile"

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()
