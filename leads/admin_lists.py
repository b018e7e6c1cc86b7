"""Pieces of the admin's lists that stay quick at millions of rows, shared by the apps' admins.

Django's defaults read a whole table for things a list shows on every request: a SELECT DISTINCT
for each filter's choices (0.4–1.4 s each at a million leads or ten million activities), and a
"contains" search joined across tables (4–27 s). These read indexes instead.
"""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q, QuerySet

from .models import Lead


@admin.display(description="Score", ordering="total_score")
def total_points(obj) -> int:
    """A lead's, handoff's or change's total score as people read it: in whole points (design
    §3), rounded as the queue rounds it, not as 90.601282395…"""
    return round(obj.total_score)


class KnownValuesFilter(admin.SimpleListFilter):
    """A filter whose choices are known without reading the table. A value in the URL that is
    not one of them is refused as Django refuses any bad filter (the list reloads with ?e=1)."""

    values: tuple = ()
    field_path = ""  # what is filtered on, when it is not the parameter itself

    def lookups(self, request, model_admin):
        return [(str(value), str(value)) for value in self.values]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in {str(known) for known in self.values}:
            raise IncorrectLookupParameters(f"No {self.title} {value!r}.")
        return queryset.filter(**{self.field_path or self.parameter_name: value})


def by_lead_address(queryset: QuerySet, term: str, *, or_: Q | None = None) -> QuerySet:
    """Rows of the lead whose e-mail is `term` (any case, surrounding space ignored), or that
    match `or_`: the lead is looked up on the e-mail's index first, so the rows are found on
    their lead_id index instead of by joining every row to its lead."""
    address = term.strip().lower()
    lead_ids = list(Lead.objects.filter(email=address).values_list("pk", flat=True))
    match = Q(lead_id__in=lead_ids)
    return queryset.filter(match | or_ if or_ is not None else match)


class _AdminOrderOnly(ChangeList):
    def get_ordering(self, request, queryset):
        # A sort asked for in the URL (?o=, which the headers no longer offer) is ignored.
        return list(self.model_admin.get_ordering(request))


class NewestRecordedFirst:
    """For a ModelAdmin whose list is too long to sort: newest recorded first, down the primary
    key, and no other order. Sorted by a date or any column, every page read the whole table
    (ten million activities: 11 s)."""

    ordering = ["-pk"]
    sortable_by: list[str] = []

    def get_changelist(self, request, **kwargs):
        return _AdminOrderOnly
