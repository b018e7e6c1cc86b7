"""One form per row of the CSV files of contract §2: every field checked, every reason worded."""

from django import forms
from django.core.validators import MinValueValidator

from .models import country_validator, in_utc, kind_validator, time_problem


class CountryField(forms.CharField):
    def to_python(self, value):
        return super().to_python(value).upper()


class InstantField(forms.DateTimeField):
    """An ISO 8601 time (site time zone without an offset) that a real event could have, in UTC."""

    def __init__(self, *, future_ok: bool = False, **kwargs):
        self.future_ok = future_ok
        super().__init__(**kwargs)

    def clean(self, value):
        instant = super().clean(value)
        if instant is None:
            return None
        problem = time_problem(instant, future_ok=self.future_ok)
        if problem:
            raise forms.ValidationError(problem)
        return in_utc(instant)


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
    created_at = InstantField(required=False, future_ok=True)

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
    occurred_at = InstantField()
    external_id = forms.CharField(max_length=200, required=False)

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class ActivityRowForm(TimedRowForm):
    kind = forms.CharField(max_length=64, validators=[kind_validator])
    url = forms.CharField(max_length=2000, required=False)
    source = forms.CharField(max_length=100, required=False)
