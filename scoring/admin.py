import json

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from leads.admin_lists import (
    KnownValuesFilter,
    NewestRecordedFirst,
    by_lead_address,
    total_points,
)

from . import services
from .forms import SLA_LABELS, BehaviorRuleForm, FitRuleForm, RuleSetForm, RuleSetImportForm
from .models import BehaviorRule, FitRule, RescoreRun, RuleSet, ScoreChange
from .rulesets import ACTION_LABELS, MATRIX_CELLS, SLA_KEYS, RuleSetInvalid, ruleset_warnings


class DraftOnlyInline(admin.TabularInline):
    """Rules of a published rule set are shown, never edited: clone it to a draft instead."""

    extra = 0

    def _editable(self, obj) -> bool:
        return obj is None or obj.is_editable

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)

    # Read-only, a list of words reads as the form shows it ("vp, director"), not as JSON.
    word_lists: tuple[str, ...] = ()

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.has_change_permission(request, obj):
            return fields
        # super() appended the *_text read-only fields; put each where its field was instead.
        shown = [f"{name}_text" if name in self.word_lists else name for name in fields]
        return list(dict.fromkeys(shown))

    def get_readonly_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return super().get_readonly_fields(request, obj)
        return [f"{name}_text" for name in self.word_lists]


class FitRuleInline(DraftOnlyInline):
    model = FitRule
    form = FitRuleForm
    word_lists = ("values",)

    @admin.display(description="Values")
    def values_text(self, rule: FitRule) -> str:
        return ", ".join(map(str, rule.values or [])) or "-"


class BehaviorRuleInline(DraftOnlyInline):
    model = BehaviorRule
    form = BehaviorRuleForm
    word_lists = ("url_contains",)

    @admin.display(description="URL contains")
    def url_contains_text(self, rule: BehaviorRule) -> str:
        return ", ".join(rule.url_contains or []) or "-"


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    form = RuleSetForm
    list_display = ["name", "version", "status", "rule_count", "published_at", "published_by"]
    list_filter = ["status"]
    search_fields = ["name", "description"]
    readonly_fields = [
        "status",
        "version",
        "matrix_table",
        "service_levels",
        "rescore_progress",
        "based_on",
    ]
    inlines = [FitRuleInline, BehaviorRuleInline]
    actions = ["clone_to_draft", "publish"]
    change_form_template = "scoring/admin/ruleset_change_form.html"
    change_list_template = "scoring/admin/ruleset_change_list.html"

    def get_fieldsets(self, request, obj=None):
        cells = [f"cell_{c}" for c in ("A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "C3")]
        sla = ["sla_mql_priority", "sla_mql_fast_track", "sla_mql_standard", "sla_disposition"]
        # Published, or a draft seen by someone who may not edit it (a manager): the matrix and
        # SLA fields exist only on the edit form, so a read-only view shows the matrix table.
        if obj is not None and not self.has_change_permission(request, obj):
            return [
                (None, {"fields": ["name", "version", "status", "based_on", "description"]}),
                (
                    "Tiers and decay",
                    {
                        "fields": [
                            "half_life_days",
                            ("fit_high", "fit_medium"),
                            ("interest_high", "interest_medium"),
                            "recycle_days",
                        ]
                    },
                ),
                ("Matrix", {"fields": ["matrix_table", "rescore_progress"]}),
                ("Service levels", {"fields": ["service_levels"]}),
            ]
        return [
            (None, {"fields": ["name", "description"]}),
            (
                "Tiers and decay",
                {
                    "fields": [
                        "half_life_days",
                        ("fit_high", "fit_medium"),
                        ("interest_high", "interest_medium"),
                        "recycle_days",
                    ]
                },
            ),
            (
                "Matrix: what each fit × interest cell means",
                {
                    "fields": [tuple(cells[0:3]), tuple(cells[3:6]), tuple(cells[6:9])],
                    "description": "Rows are fit tiers A (high) to C; columns interest tiers 1 "
                    "(high) to 3. Leads in an MQL cell are handed to an SDR.",
                },
            ),
            ("Service levels", {"fields": [tuple(sla)]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return [
                *self.readonly_fields,
                "name",
                "description",
                "half_life_days",
                "fit_high",
                "fit_medium",
                "interest_high",
                "interest_medium",
                "recycle_days",
            ]
        return self.readonly_fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="Rules")
    def rule_count(self, obj: RuleSet) -> int:
        return obj.fit_rules.count() + obj.behavior_rules.count()

    @admin.display(description="Matrix")
    def matrix_table(self, obj: RuleSet):
        rows = format_html_join(
            "",
            "<tr><th>{}</th>{}</tr>",
            (
                (
                    f"Fit {fit}",
                    format_html_join(
                        "",
                        '<td class="action-{}">{}<br><small>{}</small></td>',
                        (
                            (
                                obj.matrix.get(f"{fit}{i}"),
                                f"{fit}{i}",
                                ACTION_LABELS.get(obj.matrix.get(f"{fit}{i}"), "?"),
                            )
                            for i in "123"
                        ),
                    ),
                )
                for fit in "ABC"
            ),
        )
        return format_html(
            '<table class="matrix-table"><tr><th></th><th>Interest 1 (high)</th>'
            "<th>Interest 2</th><th>Interest 3 (low)</th></tr>{}</table>",
            rows,
        )

    @admin.display(description="Service levels")
    def service_levels(self, obj: RuleSet):
        return format_html_join(
            "",
            "<div>{}: {} h</div>",
            (
                (SLA_LABELS[key].removesuffix(" (hours)"), f"{obj.sla_hours[key]:g}")
                for key in SLA_KEYS
                if key in obj.sla_hours
            ),
        )

    @admin.display(description="Rescore")
    def rescore_progress(self, obj: RuleSet) -> str:
        run = obj.rescore_runs.first()
        if run is None:
            return "Not published yet."
        state = "done" if run.status == RescoreRun.Status.DONE else "running"
        return (
            f"{run.progress_percent}% ({run.done_chunks}/{run.total_chunks} chunks, {state}), "
            f"{run.leads_changed} leads changed, started {run.started_at:%Y-%m-%d %H:%M}"
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for warning in ruleset_warnings(form.instance.to_spec()):
            messages.warning(request, warning)

    # Actions and buttons ---------------------------------------------------------------

    @admin.action(description="Clone to a new draft")
    def clone_to_draft(self, request, queryset):
        for ruleset in queryset:
            self._clone(request, ruleset)

    @admin.action(description="Publish (and rescore every lead)", permissions=["publish"])
    def publish(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one draft to publish.", messages.ERROR)
            return
        self._publish(request, queryset.get())

    def has_publish_permission(self, request):
        return request.user.has_perm("scoring.change_ruleset")

    def _clone(self, request, ruleset: RuleSet) -> RuleSet:
        draft = services.clone_ruleset(ruleset, user=request.user)
        self.log_addition(request, draft, f"Cloned from {ruleset}")
        self.message_user(request, f"Created the draft “{draft}”.", messages.SUCCESS)
        return draft

    def _publish(self, request, ruleset: RuleSet) -> bool:
        try:
            with transaction.atomic():
                services.publish_ruleset(ruleset, user=request.user)
        except RuleSetInvalid as invalid:
            for problem in invalid.problems:
                self.message_user(request, problem, messages.ERROR)
            return False
        self.log_change(request, ruleset, "Published")
        self.message_user(
            request,
            f"Published “{ruleset}”. Every lead is being rescored in the background; "
            "progress shows on this page.",
            messages.SUCCESS,
        )
        return True

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=f"{info}_import"),
            path(
                "<int:pk>/publish/",
                self.admin_site.admin_view(self.publish_view),
                name=f"{info}_publish",
            ),
            path(
                "<int:pk>/clone/",
                self.admin_site.admin_view(self.clone_view),
                name=f"{info}_clone",
            ),
            path(
                "<int:pk>/export/",
                self.admin_site.admin_view(self.export_view),
                name=f"{info}_export",
            ),
            *super().get_urls(),
        ]

    def _change_url(self, ruleset: RuleSet) -> str:
        return reverse("admin:scoring_ruleset_change", args=[ruleset.pk])

    def publish_view(self, request, pk: int):
        ruleset = get_object_or_404(RuleSet, pk=pk)
        if request.method == "POST" and self.has_publish_permission(request):
            self._publish(request, ruleset)
        return HttpResponseRedirect(self._change_url(ruleset))

    def clone_view(self, request, pk: int):
        ruleset = get_object_or_404(RuleSet, pk=pk)
        if request.method == "POST" and self.has_add_permission(request):
            return HttpResponseRedirect(self._change_url(self._clone(request, ruleset)))
        return HttpResponseRedirect(self._change_url(ruleset))

    def export_view(self, request, pk: int):
        ruleset = get_object_or_404(RuleSet, pk=pk)
        if not self.has_view_permission(request, ruleset):
            return HttpResponseRedirect(reverse("admin:index"))
        body = json.dumps(services.dump_ruleset(ruleset), indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="ruleset-v{ruleset.version}.json"'
        return response

    def import_view(self, request):
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:scoring_ruleset_changelist"))
        form = RuleSetImportForm(request.POST or None, request.FILES or None)
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                ruleset = services.load_ruleset(
                    form.cleaned_data["file"],
                    publish=form.cleaned_data["publish"],
                    user=request.user,
                )
            except RuleSetInvalid as invalid:
                problems = invalid.problems
            else:
                self.log_addition(request, ruleset, "Imported from a file")
                self.message_user(request, f"Imported “{ruleset}”.", messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(ruleset))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "problems": problems,
            "title": "Import a rule set",
        }
        return TemplateResponse(request, "scoring/admin/ruleset_import.html", context)


@admin.register(RescoreRun)
class RescoreRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "ruleset", "reason", "progress", "leads_changed", "status"]
    list_filter = ["status", "reason"]
    list_select_related = ["ruleset"]

    @admin.display(description="Progress")
    def progress(self, obj: RescoreRun) -> str:
        return f"{obj.progress_percent}% ({obj.done_chunks}/{obj.total_chunks})"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ToCellFilter(KnownValuesFilter):
    title = "to cell"
    parameter_name = "to_cell"
    values = MATRIX_CELLS


@admin.register(ScoreChange)
class ScoreChangeAdmin(NewestRecordedFirst, admin.ModelAdmin):
    list_display = [
        "changed_at",
        "lead",
        "from_cell",
        "to_cell",
        "from_stage",
        "to_stage",
        "reason",
        total_points,
    ]
    list_filter = ["reason", ToCellFilter]
    search_fields = ["lead__email"]
    search_help_text = "The lead's e-mail, exactly."
    raw_id_fields = ["lead"]
    list_select_related = ["lead"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per reason and cell over all the history

    def get_search_results(self, request, queryset, search_term):
        # On the e-mail's index; "contains" joined every change to every lead.
        return (by_lead_address(queryset, search_term) if search_term.strip() else queryset), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
