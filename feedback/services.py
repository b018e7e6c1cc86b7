"""Writes of the feedback app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from leads.services import leads_by_email

from .models import Outcome


@dataclass
class NewOutcome:
    email: str
    type: str
    occurred_at: datetime
    amount: Decimal | None = None
    external_id: str | None = None


@dataclass
class OutcomeResult:
    created: int = 0
    duplicates: int = 0
    leads_created: int = 0


@transaction.atomic
def record_outcomes(items: Sequence[NewOutcome]) -> OutcomeResult:
    """Store what the CRM reports, idempotent on external_id (or, without one, on lead, type
    and date), so a resent outcome is never counted twice."""
    result = OutcomeResult()
    lead_of_email, result.leads_created = leads_by_email(i.email for i in items)
    seen_ids = set(
        Outcome.objects.filter(
            external_id__in={i.external_id for i in items if i.external_id}
        ).values_list("external_id", flat=True)
    )
    seen_keys = set(
        Outcome.objects.filter(
            lead_id__in=lead_of_email.values(), external_id__isnull=True
        ).values_list("lead_id", "type", "occurred_at")
    )
    new = []
    for item in items:
        lead_id = lead_of_email[item.email.strip().lower()]
        key, seen = (
            (item.external_id, seen_ids)
            if item.external_id
            else ((lead_id, item.type, item.occurred_at), seen_keys)
        )
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        new.append(
            Outcome(
                lead_id=lead_id,
                type=item.type,
                occurred_at=item.occurred_at,
                amount=item.amount,
                external_id=item.external_id or None,
            )
        )
    Outcome.objects.bulk_create(new)
    result.created = len(new)
    return result
