"""Writes of the leads app: leads, accounts and activities, each validated before it is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from scoring.models import ScoreChange
from scoring.services import rescore_leads

from .free_mail import is_free_mail
from .models import Account, Activity, Lead

LEAD_FIELDS = ("first_name", "last_name", "title", "source", "external_id", "attributes")
ACCOUNT_FIELDS = (
    "name",
    "industry",
    "employee_count",
    "annual_revenue",
    "country",
    "technologies",
    "funding_stage",
)


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def aware(value: datetime) -> datetime:
    """A time without an offset is in the site's time zone (contract §2)."""
    if timezone.is_naive(value):
        return timezone.make_aware(value, timezone.get_current_timezone())
    return value


def find_or_create_account(*, email: str, domain: str = "", **fields: Any) -> Account | None:
    """The lead's account by company domain, else by its e-mail's domain unless free-mail."""
    domain = (domain or "").strip().lower()
    if not domain:
        email_domain = email.rpartition("@")[2]
        if not email_domain or is_free_mail(email_domain):
            return None
        domain = email_domain
    values = {k: v for k, v in fields.items() if k in ACCOUNT_FIELDS and v not in (None, "")}
    account = Account.objects.filter(domain=domain).first()
    if account is None:
        account = Account(domain=domain, name=values.pop("name", "") or domain)
    for key, value in values.items():
        setattr(account, key, value)
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def upsert_lead(*, email: str, account: dict | None = None, **fields: Any) -> tuple[Lead, bool]:
    """Create or update the lead with this e-mail; rescore it. Raises ValidationError."""
    email = normalize_email(email)
    unknown = set(fields) - set(LEAD_FIELDS) - {"created_at"}
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    lead = Lead.objects.filter(email=email).first()
    created = lead is None
    if created:
        lead = Lead(email=email)
    for key, value in fields.items():
        if value is not None:
            setattr(lead, key, aware(value) if key == "created_at" else value)
    if account is not None or created:
        lead.account = find_or_create_account(email=email, **(account or {}))
    lead.full_clean(validate_unique=True)
    lead.save()
    rescore_leads([lead.pk], reason=ScoreChange.Reason.EDIT)
    lead.refresh_from_db()
    return lead, created


@transaction.atomic
def record_activity(
    *,
    lead: Lead,
    kind: str,
    occurred_at: datetime,
    url: str = "",
    properties: dict | None = None,
    source: str = "",
    external_id: str | None = None,
) -> Activity:
    """Store one activity and rescore its lead at once. Raises ValidationError when invalid,
    including a repeat of (source, external_id): a retried delivery is never a second event."""
    activity = Activity(
        lead=lead,
        kind=kind,
        occurred_at=aware(occurred_at),
        url=url or "",
        properties=properties or {},
        source=source or "",
        external_id=external_id or None,
    )
    activity.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            activity.save()
    except IntegrityError as error:
        raise ValidationError(
            {"external_id": f"An activity from {source!r} with id {external_id!r} exists already."}
        ) from error
    rescore_leads([lead.pk], reason=ScoreChange.Reason.ACTIVITY)
    return activity
