"""Reads of the scoring app."""

from collections.abc import Iterator
from datetime import datetime

from django.utils import timezone

from leads.models import Lead

from . import engine
from .models import RuleSet


def score_rows() -> Iterator[dict]:
    """Each lead's stored score for export_scores, ordered by e-mail, streamed in chunks."""
    ruleset = RuleSet.objects.active()
    matrix = ruleset.matrix if ruleset else {}
    scores = ("fit_score", "interest_score", "total_score", "fit_tier", "interest_tier", "cell")
    leads = Lead.objects.order_by("email").values(
        "email",
        *(f"score__{name}" for name in (*scores, "disqualified")),
        "stage",
    )
    for row in leads.iterator(chunk_size=5000):
        # Named as the columns are: the scores live on the lead's score row.
        row = {key.removeprefix("score__"): value for key, value in row.items()}
        for key in ("fit_score", "interest_score", "total_score"):
            row[key] = round(row[key], 2)
        row["action"] = matrix.get(row["cell"], "")
        yield row


def lead_facts(lead: Lead) -> dict:
    """The lead as the engine sees it (design §3's fields), its account's fields included."""
    account = lead.account
    return {
        "title": lead.title,
        "source": lead.source,
        "email_domain": lead.email_domain,
        "email_is_free": lead.email_is_free,
        "attributes": lead.attributes or {},
        "industry": account.industry if account else None,
        "country": account.country if account else None,
        "funding_stage": account.funding_stage if account else None,
        "employee_count": account.employee_count if account else None,
        "annual_revenue": account.annual_revenue if account else None,
        "technologies": account.technologies if account else None,
    }


def explain_lead(lead: Lead, *, as_of: datetime | None = None) -> engine.Score | None:
    """Why the lead scores what it does under the active rule set, rule by rule."""
    ruleset = RuleSet.objects.active()
    if ruleset is None:
        return None
    activities = [
        engine.ActivityFact(id=pk, kind=kind, occurred_at=occurred_at, url=url)
        for pk, kind, occurred_at, url in lead.activities.values_list(
            "id", "kind", "occurred_at", "url"
        )
    ]
    return engine.score_lead(
        lead_facts(lead), activities, ruleset.to_spec(), as_of or timezone.now()
    )
