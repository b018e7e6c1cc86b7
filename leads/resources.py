"""Exports of leads with their scores (django-import-export), in the admin's Export button."""

from import_export import fields, resources

from scoring.models import RuleSet

from .models import Lead, LeadScore


def _score_field(name: str) -> fields.Field:
    """An export column of the lead's score row (`lead.score`), under the field's own name."""
    widget = resources.ModelResource.widget_from_django_field(LeadScore._meta.get_field(name))
    return fields.Field(attribute=f"score__{name}", column_name=name, widget=widget())


class LeadScoreResource(resources.ModelResource):
    company = fields.Field(attribute="account__name", column_name="company")
    # Read from the lead's score row, each with the widget its model field gets.
    fit_score = _score_field("fit_score")
    interest_score = _score_field("interest_score")
    total_score = _score_field("total_score")
    fit_tier = _score_field("fit_tier")
    interest_tier = _score_field("interest_tier")
    cell = _score_field("cell")
    action = fields.Field(column_name="action")
    disqualified = _score_field("disqualified")
    scored_at = _score_field("scored_at")

    class Meta:
        model = Lead
        fields = (
            "email",
            "first_name",
            "last_name",
            "title",
            "company",
            "source",
            "fit_score",
            "interest_score",
            "total_score",
            "fit_tier",
            "interest_tier",
            "cell",
            "action",
            "disqualified",
            "stage",
            "scored_at",
        )
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        return super().filter_export(queryset, **kwargs).select_related("account", "score")

    def before_export(self, queryset, **kwargs):
        ruleset = RuleSet.objects.active()
        self.matrix = ruleset.matrix if ruleset else {}

    def dehydrate_action(self, lead: Lead) -> str:
        return self.matrix.get(lead.score.cell, "")

    def dehydrate_fit_score(self, lead: Lead) -> str:
        return f"{lead.score.fit_score:.2f}"

    def dehydrate_interest_score(self, lead: Lead) -> str:
        return f"{lead.score.interest_score:.2f}"

    def dehydrate_total_score(self, lead: Lead) -> str:
        return f"{lead.score.total_score:.2f}"
