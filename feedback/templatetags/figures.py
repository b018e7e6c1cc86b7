"""Filters that show the calibration's numbers the way managers read them."""

from django import template

register = template.Library()


@register.filter
def pct(value: float | None) -> str:
    """0.703 -> "70 %"; None (nothing to divide) -> "—", never a misleading 0 %."""
    return "—" if value is None else f"{value * 100:.0f} %"


@register.filter
def ratio(value: float | None) -> str:
    """A lift or an AUC with two decimals, or "—"."""
    return "—" if value is None else f"{value:.2f}"


@register.filter
def share(part: float | None, whole: float | None) -> float:
    """part as a percentage of whole, for a bar's height or width (0 when there is no whole)."""
    return round(100 * (part or 0) / whole, 1) if whole else 0.0


@register.filter
def get(mapping: dict, key):
    return mapping.get(key) if mapping else None
