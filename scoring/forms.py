"""Admin forms for rule sets: the same checks a rule-set file gets, shown next to each field."""

import json

from django import forms

from .models import BehaviorRule, FitRule, RuleSet
from .rulesets import (
    ACTION_LABELS,
    BEHAVIOR_RULE_KEYS,
    FIT_RULE_KEYS,
    MATRIX_CELLS,
    OPERATORS,
    SLA_KEYS,
    behavior_rule_problems,
    fit_rule_problems,
)

MATRIX_CHOICES = list(ACTION_LABELS.items())
SLA_LABELS = {
    "mql_priority": "First touch, MQL priority (hours)",
    "mql_fast_track": "First touch, MQL fast track (hours)",
    "mql_standard": "First touch, MQL standard (hours)",
    "disposition": "Disposition within (hours)",
}


class ListField(forms.CharField):
    """A list of words edited as comma-separated text: 'vp, vice president, director'."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        return [part.strip() for part in text.split(",") if part.strip()]


def _attach(form: forms.ModelForm, problems) -> None:
    for problem in problems:
        field = problem.field if problem.field in form.fields else None
        form.add_error(field, problem.message)


class FitRuleForm(forms.ModelForm):
    operator = forms.ChoiceField(
        choices=[(op, op) for op in OPERATORS],
        help_text=FitRule._meta.get_field("operator").help_text,
    )
    values = ListField(required=False, help_text=FitRule._meta.get_field("values").help_text)

    class Meta:
        model = FitRule
        fields = FIT_RULE_KEYS

    def clean(self):
        data = super().clean()
        # Not Meta.fields: the admin's inline formset adds its foreign key ("ruleset") there.
        rule = {key: data.get(key) for key in FIT_RULE_KEYS}
        rule["values"] = data.get("values") or None
        rule["group"] = data.get("group") or None
        _attach(self, fit_rule_problems(rule, where=f'fit rule "{data.get("name")}"'))
        return data


class BehaviorRuleForm(forms.ModelForm):
    url_contains = ListField(
        required=False, help_text=BehaviorRule._meta.get_field("url_contains").help_text
    )

    class Meta:
        model = BehaviorRule
        # The rule-set file's keys, points next to the mode, where marketing looks first.
        fields = [
            "name",
            "kind",
            "url_contains",
            "mode",
            "points",
            "max_count",
            "min_count",
            "window_days",
            "decays",
            "group",
            "order",
        ]

    def clean(self):
        data = super().clean()
        rule = {key: data.get(key) for key in BEHAVIOR_RULE_KEYS}
        rule["url_contains"] = data.get("url_contains") or None
        rule["group"] = data.get("group") or None
        _attach(self, behavior_rule_problems(rule, where=f'behavior rule "{data.get("name")}"'))
        return data


def _cell(cell: str) -> forms.ChoiceField:
    return forms.ChoiceField(label=f"Cell {cell}", choices=MATRIX_CHOICES)


def _sla(key: str) -> forms.FloatField:
    return forms.FloatField(label=SLA_LABELS[key], min_value=0.01)


class RuleSetForm(forms.ModelForm):
    """The matrix and SLAs as nine selects and four numbers instead of raw JSON."""

    cell_A1, cell_A2, cell_A3 = _cell("A1"), _cell("A2"), _cell("A3")
    cell_B1, cell_B2, cell_B3 = _cell("B1"), _cell("B2"), _cell("B3")
    cell_C1, cell_C2, cell_C3 = _cell("C1"), _cell("C2"), _cell("C3")
    sla_mql_priority, sla_mql_fast_track = _sla("mql_priority"), _sla("mql_fast_track")
    sla_mql_standard, sla_disposition = _sla("mql_standard"), _sla("disposition")

    class Meta:
        model = RuleSet
        fields = [
            "name",
            "description",
            "half_life_days",
            "fit_high",
            "fit_medium",
            "interest_high",
            "interest_medium",
            "recycle_days",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for cell in MATRIX_CELLS:
            self.initial.setdefault(f"cell_{cell}", self.instance.matrix.get(cell))
        for key in SLA_KEYS:
            self.initial.setdefault(f"sla_{key}", self.instance.sla_hours.get(key))

    def clean(self):
        data = super().clean()
        fit_high, fit_medium = data.get("fit_high"), data.get("fit_medium")
        if fit_high is not None and fit_medium is not None and fit_medium > fit_high:
            self.add_error("fit_medium", "Must not be above the fit tier A cut-off.")
        high, medium = data.get("interest_high"), data.get("interest_medium")
        if high is not None and medium is not None and medium > high:
            self.add_error("interest_medium", "Must not be above the interest tier 1 cut-off.")
        return data

    def save(self, commit=True):
        self.instance.matrix = {c: self.cleaned_data[f"cell_{c}"] for c in MATRIX_CELLS}
        self.instance.sla_hours = {k: self.cleaned_data[f"sla_{k}"] for k in SLA_KEYS}
        return super().save(commit)


class RuleSetImportForm(forms.Form):
    file = forms.FileField(help_text="A rule-set JSON file, as dump_ruleset or Export writes.")
    publish = forms.BooleanField(required=False, help_text="Publish at once and rescore.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 2 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 2 MB; a rule set is far smaller.")
        try:
            data = json.loads(upload.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise forms.ValidationError(f"Not valid JSON: {error}") from error
        if not isinstance(data, dict):
            raise forms.ValidationError("A rule set is a JSON object ({...}).")
        return data
