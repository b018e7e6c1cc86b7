from django import forms
from django.core.validators import MinValueValidator

from leads.forms import TimedRowForm

from .models import Outcome


class OutcomeRowForm(TimedRowForm):
    type = forms.ChoiceField(
        choices=Outcome.Type.choices,
        error_messages={"invalid_choice": "Must be opportunity, won or lost."},
    )
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, required=False, validators=[MinValueValidator(0)]
    )
