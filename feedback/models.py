from django.conf import settings
from django.core.validators import MinValueValidator
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


class Outcome(models.Model):
    """What the CRM says became of a lead: an opportunity, then won or lost."""

    class Type(models.TextChoices):
        OPPORTUNITY = "opportunity", "Opportunity created"
        WON = "won", "Closed won"
        LOST = "lost", "Closed lost"

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="outcomes")
    type = models.CharField(max_length=12, choices=Type.choices)
    occurred_at = models.DateTimeField()
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            # The CRM resends; the same outcome id is the same outcome.
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="outcome_external_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["lead", "type"], name="outcome_lead_type_idx")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.occurred_at:%Y-%m-%d}"
