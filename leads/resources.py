"""Exports of leads with their scores (django-import-export), in the admin's Export button."""

from import_export import fields, resources

from scoring.models import RuleSet

from .models import Lead


class LeadScoreResource(resources.ModelResource):
    company = fields.Field(attribute="account__name", column_name="company")
    action = fields.Field(column_name="action")

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

    def before_export(self, queryset, **kwargs):
        ruleset = RuleSet.objects.active()
        self.matrix = ruleset.matrix if ruleset else {}

    def dehydrate_action(self, lead: Lead) -> str:
        return self.matrix.get(lead.cell, "")

    def dehydrate_fit_score(self, lead: Lead) -> str:
        return f"{lead.fit_score:.2f}"

    def dehydrate_interest_score(self, lead: Lead) -> str:
        return f"{lead.interest_score:.2f}"

    def dehydrate_total_score(self, lead: Lead) -> str:
        return f"{lead.total_score:.2f}"
