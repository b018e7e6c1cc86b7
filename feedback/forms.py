from django import forms
from django.core.validators import MinValueValidator

from leads.forms import TimedRowForm

from .models import Disposition, Outcome, ScoreFlag


class OutcomeRowForm(TimedRowForm):
    type = forms.ChoiceField(
        choices=Outcome.Type.choices,
        error_messages={"invalid_choice": "Must be opportunity, won or lost."},
    )
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, required=False, validators=[MinValueValidator(0)]
    )


class DispositionForm(forms.Form):
    """One click on a disposition button, with the optional note typed next to it."""

    outcome = forms.ChoiceField(
        choices=Disposition.choices,
        error_messages={"invalid_choice": "Choose accepted, bad fit, bad timing or bad data."},
    )
    note = forms.CharField(required=False, max_length=2000, strip=True)


class ScoreFlagForm(forms.Form):
    """A "this score is wrong" flag: which way, and why (marketing reads the why)."""

    direction = forms.ChoiceField(
        choices=ScoreFlag.Direction.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Say whether the score is too high or too low."},
    )
    reason = forms.CharField(
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say why, so marketing can fix the rule."},
    )


class ReassignForm(forms.Form):
    """A manager moves an MQL to another SDR, or back to the unassigned pool (empty)."""

    to = forms.ModelChoiceField(queryset=None, required=False, empty_label="Unassigned")

    def __init__(self, *args, **kwargs):
        from .selectors import assignable_sdrs

        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = assignable_sdrs()


class BacktestForm(forms.Form):
    days = forms.IntegerField(
        initial=90,
        min_value=7,
        max_value=730,
        label="Days of history",
        error_messages={
            "min_value": "Backtest at least 7 days of history.",
            "max_value": "Backtest at most 730 days (two years) of history.",
            "invalid": "Days must be a whole number.",
        },
    )
