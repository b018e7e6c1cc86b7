from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from leads.models import Activity, Lead
from scoring.models import RuleSet
from scoring.rulesets import MQL_ACTIONS


def home_summary() -> dict:
    """Everyone's home page figures: leads, leads in an MQL cell, recent activity."""
    ruleset = RuleSet.objects.active()
    mql_cells = [c for c, a in (ruleset.matrix if ruleset else {}).items() if a in MQL_ACTIONS]
    counts = Lead.objects.aggregate(
        leads=Count("id"),
        in_mql_cells=Count("id", filter=Q(cell__in=mql_cells, disqualified=False)),
        disqualified=Count("id", filter=Q(disqualified=True)),
    )
    week_ago = timezone.now() - timedelta(days=7)
    counts["activities_7d"] = Activity.objects.filter(occurred_at__gte=week_ago).count()
    counts["ruleset"] = ruleset
    return counts
