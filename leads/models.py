from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from .free_mail import is_free_mail

FUTURE_TOLERANCE = timedelta(hours=24)
# Nobody did anything we score before this: an earlier time is a bug at the sender (seconds read
# as milliseconds, a two-digit year), and PostgreSQL cannot store some of them at all.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def time_problem(value: datetime, *, future_ok: bool = False) -> str | None:
    """Why an aware time cannot be a real event's (None when it can)."""
    if value < EARLIEST_TIME:
        return "Before 1970: check the date (a Unix time in the wrong unit?)."
    if not future_ok and value > timezone.now() + FUTURE_TOLERANCE:
        return "More than 24 hours in the future."
    return None


def in_utc(value: datetime) -> datetime:
    """A checked time in UTC: some offsets a sender may write (+20:29) PostgreSQL refuses."""
    return value.astimezone(UTC)


kind_validator = RegexValidator(
    r"^[a-z0-9_]{1,64}$",
    "Use lower-case letters, digits and underscores only (for example page_view).",
)
country_validator = RegexValidator(
    r"^[A-Z]{2}$", "Use the two-letter ISO 3166 country code, for example US or DE."
)


class NormalizedOnSave:
    """Store the field's to_python() form, also on paths that skip full_clean (bulk_create)."""

    def pre_save(self, model_instance, add):
        value = self.to_python(getattr(model_instance, self.attname))
        setattr(model_instance, self.attname, value)
        return value


class NormalizedEmailField(NormalizedOnSave, models.EmailField):
    """An e-mail stored trimmed and lower-cased, so one person is one lead whatever the casing."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.strip().lower() if isinstance(value, str) else value


class DomainField(NormalizedOnSave, models.CharField):
    """A web domain, lower-case; blank is stored as NULL so uniqueness ignores it."""

    def to_python(self, value):
        value = super().to_python(value)
        return (value.strip().lower() or None) if isinstance(value, str) else value


class Account(models.Model):
    name = models.CharField(max_length=200)
    # Empty for a company known only by name (a lead on free-mail with a company column).
    domain = DomainField(
        max_length=253,
        null=True,
        blank=True,
        validators=[
            RegexValidator(
                r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
                "Enter a bare domain such as acme.com (no http:// or path).",
            )
        ],
        help_text="The company's web domain, e.g. acme.com. Leads are matched to it.",
    )
    industry = models.CharField(max_length=100, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    country = models.CharField(
        max_length=2, blank=True, validators=[country_validator], help_text="ISO 3166 alpha-2"
    )
    technologies = models.JSONField(default=list, blank=True)
    funding_stage = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain"],
                condition=models.Q(domain__isnull=False),
                name="account_domain_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})" if self.domain else self.name

    def save(self, *args, **kwargs):
        if self.country:
            self.country = self.country.strip().upper()
        self.technologies = [t.strip() for t in self.technologies or [] if str(t).strip()]
        super().save(*args, **kwargs)


class Stage(models.TextChoices):
    LEAD = "lead", "Lead"
    MQL = "mql", "MQL"
    ACCEPTED = "accepted", "Accepted by sales"
    REJECTED = "rejected", "Rejected by sales"
    RECYCLED = "recycled", "Recycled"
    OPPORTUNITY = "opportunity", "Opportunity"
    WON = "won", "Customer"
    LOST = "lost", "Closed lost"


class Lead(models.Model):
    email = NormalizedEmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=200, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    source = models.CharField(max_length=100, blank=True, help_text="The channel it came from.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
        help_text="The SDR who owns this lead.",
    )
    # NULL, not "", for "no CRM id": the unique constraint applies only to ids that are set.
    external_id = models.CharField(  # noqa: DJ001
        max_length=100, null=True, blank=True, help_text="The lead's id in the CRM."
    )
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Derived from the e-mail on save; stored so fit rules can match them in SQL.
    # Not indexed: no query looks leads up by domain (accounts have their own), and every
    # index on leads_lead is one more write for each new lead.
    email_domain = models.CharField(max_length=253, editable=False)
    email_is_free = models.BooleanField(default=False, editable=False)

    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.LEAD)
    # A lead's scores live in LeadScore (`lead.score`), one row per lead.

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="lead_external_id_unique",
                violation_error_message="Another lead has this CRM id (external_id).",
            ),
            models.CheckConstraint(condition=~models.Q(email=""), name="lead_email_not_empty"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def save(self, *args, **kwargs):
        self.normalize()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_domain", "email_is_free"}
        super().save(*args, **kwargs)

    def normalize(self) -> None:
        """Derive the stored e-mail fields; bulk_create skips save(), so bulk paths call this."""
        self.email = (self.email or "").strip().lower()
        self.email_domain = self.email.rpartition("@")[2]
        self.email_is_free = is_free_mail(self.email_domain)
        if self.external_id == "":
            self.external_id = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class LeadScore(models.Model):
    """A lead's scoring state, kept current by the scoring engine: one row per lead.

    A table of its own, not columns of leads_lead, because a full rescore rewrites about every
    lead's scores: here it writes and reads ~94-byte rows instead of the lead's ~224 bytes. A
    database trigger (migration leads.0009) inserts the row whenever a lead is inserted,
    whatever the path (ORM, bulk_create, COPY), so every lead has one; the database defaults
    make a new lead an unscored C3. Only the cell is indexed (the matrix's drill-down): an
    indexed column rules out PostgreSQL's HOT update whenever it changes, and the cell changes
    far less often than the scores do. Scoring writes these rows in SQL only, so the fields are
    not editable.
    """

    lead = models.OneToOneField(
        Lead, primary_key=True, on_delete=models.CASCADE, related_name="score"
    )
    fit_score = models.FloatField(default=0, db_default=0, editable=False)
    interest_score = models.FloatField(default=0, db_default=0, editable=False)
    total_score = models.FloatField(default=0, db_default=0, editable=False)
    fit_tier = models.CharField(max_length=1, default="C", db_default="C", editable=False)
    interest_tier = models.PositiveSmallIntegerField(default=3, db_default=3, editable=False)
    cell = models.CharField(max_length=2, default="C3", db_default="C3", editable=False)
    disqualified = models.BooleanField(default=False, db_default=False, editable=False)
    scored_at = models.DateTimeField(null=True, blank=True, editable=False)
    ruleset_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Which fit rules computed fit_score (`scoring.sql.fit_rules_digest`); scoring keeps the
    # stored fit while it matches. Database triggers clear it when a field fit rules read
    # changes, on the lead or its account (`leads.fit_triggers`: a migration altering those
    # tables must drop and re-create them).
    fit_rules_digest = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["cell", "disqualified"], name="leadscore_cell_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.cell}"


class Activity(models.Model):
    # No index of its own: activity_lead_time_idx starts with lead_id and serves every lookup
    # by lead, and one index fewer to maintain makes each ingested activity cheaper to store.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    kind = models.CharField(
        max_length=64,
        validators=[kind_validator],
        help_text="What happened, as a slug: page_view, demo_request, email_open…",
    )
    occurred_at = models.DateTimeField()
    url = models.CharField(max_length=2000, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=100, blank=True, default="")
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "activities"
        ordering = ["-occurred_at"]
        constraints = [
            # A retried delivery of the same event is a duplicate, never a second activity.
            # The event id leads: a batch looks up its ids with one source, and a new source
            # (few rows when the statistics were taken) made PostgreSQL read all of that
            # source's entries and filter the ids, which grows with every batch.
            models.UniqueConstraint(
                fields=["external_id", "source"],
                condition=models.Q(external_id__isnull=False),
                name="activity_source_external_id_unique",
            ),
        ]
        indexes = [
            # Covering (PostgreSQL): scoring a few leads reads their activities from the index
            # alone, a page or two per lead instead of one more page per activity. With the id,
            # so does the score snapshot of a new MQL: its older activities' table pages are
            # cold, a disk read each (15–60 ms of an API batch that opened ten handoffs).
            models.Index(
                fields=["lead", "occurred_at"],
                include=["kind", "url", "id"],
                name="activity_lead_time_idx",
            ),
            models.Index(fields=["kind", "occurred_at"], name="activity_kind_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.external_id == "":
            self.external_id = None
        super().save(*args, **kwargs)

    def clean(self):
        # A clock a day ahead is a bug at the sender, and a future event would score as fresh
        # interest for days.
        problem = self.occurred_at and time_problem(self.occurred_at)
        if problem:
            raise ValidationError({"occurred_at": problem})
