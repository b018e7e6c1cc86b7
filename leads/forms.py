"""One form per row of the CSV files of contract §2: every field checked, every reason worded."""

from django import forms
from django.core.validators import MinValueValidator
from django.utils import timezone

from .models import FUTURE_TOLERANCE, country_validator, kind_validator


class CountryField(forms.CharField):
    def to_python(self, value):
        return super().to_python(value).upper()


class TechnologiesField(forms.CharField):
    """`Salesforce; HubSpot` -> ["Salesforce", "HubSpot"] (contract §2 separates with ;)."""

    def to_python(self, value):
        text = super().to_python(value)
        return [item.strip() for item in text.split(";") if item.strip()]


def provided(data: dict) -> dict:
    """A CSV row's given values: blank cells mean "not given", so an upsert never blanks one."""
    return {k: v for k, v in data.items() if v not in (None, "", [])}


class LeadRowForm(forms.Form):
    email = forms.EmailField(max_length=254)
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    title = forms.CharField(max_length=200, required=False)
    source = forms.CharField(max_length=100, required=False)
    external_id = forms.CharField(max_length=100, required=False)
    company_name = forms.CharField(max_length=200, required=False)
    company_domain = forms.RegexField(
        regex=r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$",
        max_length=253,
        required=False,
        error_messages={"invalid": "Enter a bare domain such as acme.com (no http:// or path)."},
    )
    industry = forms.CharField(max_length=100, required=False)
    employee_count = forms.IntegerField(min_value=0, max_value=10_000_000, required=False)
    annual_revenue = forms.DecimalField(
        max_digits=16, decimal_places=2, required=False, validators=[MinValueValidator(0)]
    )
    country = CountryField(max_length=2, required=False, validators=[country_validator])
    technologies = TechnologiesField(max_length=2000, required=False)
    funding_stage = forms.CharField(max_length=50, required=False)
    created_at = forms.DateTimeField(required=False)

    @staticmethod
    def lead_fields(cleaned: dict) -> dict:
        data = provided(cleaned)
        return {
            k: data[k]
            for k in ("first_name", "last_name", "title", "source", "external_id", "created_at")
            if k in data
        }

    @staticmethod
    def account_fields(cleaned: dict) -> dict:
        data = provided(cleaned)
        account = {
            k: data[k]
            for k in (
                "industry",
                "employee_count",
                "annual_revenue",
                "country",
                "technologies",
                "funding_stage",
            )
            if k in data
        }
        if "company_name" in data:
            account["name"] = data["company_name"]
        if "company_domain" in data:
            account["domain"] = data["company_domain"]
        return account


class TimedRowForm(forms.Form):
    email = forms.EmailField(max_length=254)
    occurred_at = forms.DateTimeField()
    external_id = forms.CharField(max_length=200, required=False)

    def clean_occurred_at(self):
        occurred_at = self.cleaned_data["occurred_at"]
        if occurred_at > timezone.now() + FUTURE_TOLERANCE:
            raise forms.ValidationError("More than 24 hours in the future.")
        return occurred_at

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class ActivityRowForm(TimedRowForm):
    kind = forms.CharField(max_length=64, validators=[kind_validator])
    url = forms.CharField(max_length=2000, required=False)
    source = forms.CharField(max_length=100, required=False)
