"""Rule-set files (contract.md §1): parse and validate them into engine specs, and back.

Pure Python (no Django), so the `load_ruleset` command, the admin's import and rule forms and
the tests all apply exactly the same checks. A file with any problem is refused whole, and
every problem is listed at once, each naming the rule (by name) and the field, because the
person fixing the file wants the complete list, not one error per attempt.

Public API:

- `parse_ruleset(data) -> RuleSetSpec`, raising `RuleSetInvalid` (its `.problems`);
  `parse_ruleset_json(text)` does the same from JSON text; `validate_ruleset(data)` only lists.
- `ruleset_to_dict(spec)`: the reverse; dict -> spec -> dict gives an equal dict.
- `ruleset_warnings(spec)`: things that are allowed but probably not meant.
- Per rule, for the admin's forms: `fit_rule_problems` / `behavior_rule_problems` (structured
  `Problem`s with the field at fault), `validate_fit_rule` / `validate_behavior_rule` (the same
  as strings), `parse_fit_rule` / `parse_behavior_rule`, `fit_rule_to_dict` /
  `behavior_rule_to_dict`.
- Constants: FIT_FIELDS (field -> type), OPERATORS, OPERATORS_BY_TYPE, VALUE_OPERATORS, MODES,
  ACTIONS, ACTION_LABELS, MQL_ACTIONS, MATRIX_CELLS, DEFAULT_MATRIX, SLA_KEYS,
  DEFAULT_SLA_HOURS, URL_KINDS.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

from .engine import (
    DEFAULT_MATRIX,
    DEFAULT_SLA_HOURS,
    BehaviorRuleSpec,
    FitRuleSpec,
    RuleSetSpec,
)

__all__ = [
    "ACTIONS",
    "ACTION_LABELS",
    "BEHAVIOR_RULE_KEYS",
    "DEFAULT_MATRIX",
    "DEFAULT_RULESET_PATH",
    "DEFAULT_SLA_HOURS",
    "FIT_FIELDS",
    "FIT_RULE_KEYS",
    "KIND_MAX_LENGTH",
    "MATRIX_CELLS",
    "MODES",
    "MQL_ACTIONS",
    "NAME_MAX_LENGTH",
    "OPERATORS",
    "OPERATORS_BY_TYPE",
    "RULESET_KEYS",
    "SLA_KEYS",
    "URL_KINDS",
    "VALUE_OPERATORS",
    "Problem",
    "RuleSetInvalid",
    "behavior_rule_problems",
    "behavior_rule_to_dict",
    "default_ruleset",
    "field_type",
    "fit_rule_problems",
    "fit_rule_to_dict",
    "parse_behavior_rule",
    "parse_fit_rule",
    "parse_ruleset",
    "parse_ruleset_json",
    "ruleset_to_dict",
    "ruleset_warnings",
    "validate_behavior_rule",
    "validate_fit_rule",
    "validate_ruleset",
]

# Vocabulary ---------------------------------------------------------------------------------

TEXT, NUMBER, LIST, BOOLEAN, ANY = "text", "number", "list", "boolean", "any"

# The lead's built-in fit fields and their types (design §3). `attributes.KEY` is type ANY.
FIT_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "title": TEXT,
        "industry": TEXT,
        "country": TEXT,
        "source": TEXT,
        "funding_stage": TEXT,
        "email_domain": TEXT,
        "employee_count": NUMBER,
        "annual_revenue": NUMBER,
        "technologies": LIST,
        "email_is_free": BOOLEAN,
    }
)
ATTRIBUTE_PREFIX = "attributes."
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_]+")

OPERATORS: tuple[str, ...] = (
    "contains_any",
    "equals_any",
    "between",
    "includes_any",
    "is_true",
    "is_false",
    "is_blank",
)
# Which operators make sense for which field type; a custom attribute may hold anything.
OPERATORS_BY_TYPE: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        TEXT: ("contains_any", "equals_any", "is_blank"),
        NUMBER: ("between", "equals_any", "is_blank"),
        LIST: ("includes_any", "is_blank"),
        BOOLEAN: ("is_true", "is_false", "is_blank"),
        ANY: OPERATORS,
    }
)
# Operators that need a non-empty `values` list.
VALUE_OPERATORS = frozenset({"contains_any", "equals_any", "includes_any"})

MODES: tuple[str, ...] = ("each", "once")

ACTIONS: tuple[str, ...] = (
    "mql_priority",
    "mql_fast_track",
    "mql_standard",
    "nurture",
    "monitor",
    "exclude",
    "disqualify",
)
ACTION_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "mql_priority": "MQL — priority",
        "mql_fast_track": "MQL — fast track",
        "mql_standard": "MQL — standard",
        "nurture": "Nurture",
        "monitor": "Monitor",
        "exclude": "Exclude",
        "disqualify": "Disqualify",
    }
)
# The actions that make a lead an MQL (and open a handoff), highest priority first.
MQL_ACTIONS: tuple[str, ...] = ("mql_priority", "mql_fast_track", "mql_standard")
MATRIX_CELLS: tuple[str, ...] = tuple(f"{fit}{interest}" for fit in "ABC" for interest in "123")
SLA_KEYS: tuple[str, ...] = ("mql_priority", "mql_fast_track", "mql_standard", "disposition")

# Activity kinds that carry a URL; url_contains on any other kind filters everything out.
URL_KINDS = frozenset(
    {
        "page_view",
        "content_download",
        "form_submit",
        "email_click",
        "webinar_registered",
        "ad_click",
    }
)

_KIND = re.compile(r"[a-z0-9_]+")
KIND_MAX_LENGTH = 64
# The database columns' limits (scoring.models): longer text would fail on save.
NAME_MAX_LENGTH = 200
GROUP_MAX_LENGTH = 100

RULESET_KEYS: tuple[str, ...] = (
    "name",
    "half_life_days",
    "fit_high",
    "fit_medium",
    "interest_high",
    "interest_medium",
    "matrix",
    "sla_hours",
    "recycle_days",
    "fit_rules",
    "behavior_rules",
)
FIT_RULE_KEYS: tuple[str, ...] = (
    "name",
    "field",
    "operator",
    "values",
    "min",
    "max",
    "points",
    "group",
    "order",
    "disqualify",
)
BEHAVIOR_RULE_KEYS: tuple[str, ...] = (
    "name",
    "kind",
    "url_contains",
    "mode",
    "max_count",
    "min_count",
    "window_days",
    "points",
    "decays",
    "group",
    "order",
)

DEFAULT_RULESET_PATH = Path(__file__).parent / "data" / "default_ruleset.json"

# The spec's own defaults (half-life 30, tiers 40/20 and 50/20, recycle 30 days): one source.
_SPEC_DEFAULTS = {f.name: f.default for f in fields(RuleSetSpec) if f.default is not MISSING}


def field_type(field_name: str) -> str | None:
    """The type of a fit field ("text", "number", "list", "boolean", "any"), None if unknown."""
    if field_name in FIT_FIELDS:
        return FIT_FIELDS[field_name]
    if field_name.startswith(ATTRIBUTE_PREFIX) and _ATTRIBUTE_KEY.fullmatch(
        field_name[len(ATTRIBUTE_PREFIX) :]
    ):
        return ANY
    return None


# Problems -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a rule set.

    `where` names the rule ('fit rule "Senior title"', 'behavior rule #3') or 'rule set';
    `field` is the key at fault ("" when the whole item is), so a form can attach `message`
    to the right input; str(problem) is the full sentence.
    """

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class RuleSetInvalid(Exception):
    """The rule set was refused. `.problems` lists every reason as a sentence; `.details`
    holds the structured `Problem`s behind them (when the parser produced them)."""

    def __init__(self, problems: Sequence[str | Problem]) -> None:
        self.details: list[Problem] = [p for p in problems if isinstance(p, Problem)]
        self.problems: list[str] = [str(p) for p in problems]
        super().__init__("; ".join(self.problems) or "the rule set is invalid")


# Checking values --------------------------------------------------------------------------------

_ABSENT = object()


def _show(value: object) -> str:
    """A value as the user wrote it (JSON spelling), shortened for a message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _listed(items: Sequence[str]) -> str:
    return ", ".join(items)


def _is_number(value: object) -> bool:
    # bool is an int to Python, but `true` is not a number to anyone writing a rule set.
    return (
        isinstance(value, int | float | Decimal)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


class _Checker:
    """Collects problems for one object (a rule or the rule set) while reading its keys."""

    def __init__(self, where: str, data: Mapping[str, object]) -> None:
        self.where = where
        self.data = data
        self.problems: list[Problem] = []

    def add(self, field_name: str, message: str) -> None:
        self.problems.append(Problem(self.where, field_name, message))

    def unknown_keys(self, allowed: Sequence[str]) -> None:
        for key in self.data:
            if key not in allowed:
                self.add(str(key), f'unknown key "{key}" (allowed: {_listed(allowed)})')

    def raw(self, key: str) -> object:
        """The value, or _ABSENT when the key is missing or null (null means "not set")."""
        value = self.data.get(key, _ABSENT)
        return _ABSENT if value is None else value

    def required(self, key: str) -> object:
        value = self.raw(key)
        if value is _ABSENT:
            self.add(key, f"{key} is required")
        return value

    def text(self, key: str, value: object, *, max_length: int | None = None) -> str | None:
        if value is _ABSENT:
            return None
        if not isinstance(value, str):
            self.add(key, f"{key} must be text, not {_show(value)}")
            return None
        if max_length is not None and len(value.strip()) > max_length:
            self.add(key, f"{key} must be at most {max_length} characters")
            return None
        return value.strip()

    def name(self, *, required: bool = True) -> str | None:
        value = self.required("name") if required else self.raw("name")
        name = self.text("name", value, max_length=NAME_MAX_LENGTH)
        if name is not None and not name:
            self.add("name", "name must not be empty")
            return None
        return name

    def number(self, key: str, value: object) -> float | None:
        if value is _ABSENT:
            return None
        if not _is_number(value):
            self.add(key, f"{key} must be a number, not {_show(value)}")
            return None
        return float(value)  # type: ignore[arg-type]

    def integer(self, key: str, value: object) -> int | None:
        if value is _ABSENT:
            return None
        if not _is_number(value) or not float(value).is_integer():  # type: ignore[arg-type]
            self.add(key, f"{key} must be a whole number, not {_show(value)}")
            return None
        return int(value)  # type: ignore[arg-type]

    def boolean(self, key: str, value: object, default: bool) -> bool:
        if value is _ABSENT:
            return default
        if not isinstance(value, bool):
            self.add(key, f"{key} must be true or false, not {_show(value)}")
            return default
        return value

    def text_list(self, key: str, value: object) -> tuple[str, ...] | None:
        """A list of non-blank strings, each stripped; None (with a problem) otherwise."""
        if value is _ABSENT:
            return ()
        if not isinstance(value, list | tuple):
            self.add(key, f"{key} must be a list of text, not {_show(value)}")
            return None
        items = []
        ok = True
        for index, item in enumerate(value, start=1):
            if not isinstance(item, str):
                self.add(key, f"{key} item {index} must be text, not {_show(item)}")
                ok = False
            elif not item.strip():
                self.add(key, f"{key} item {index} must not be blank")
                ok = False
            else:
                items.append(item.strip())
        return tuple(items) if ok else None

    def group(self) -> str:
        group = self.text("group", self.raw("group"), max_length=GROUP_MAX_LENGTH)
        return group or ""

    def order(self) -> int:
        order = self.integer("order", self.raw("order"))
        return 0 if order is None else order


def _rule_label(kind: str, data: object, index: int | None) -> str:
    """'fit rule "Senior title"', or by position when the rule has no usable name."""
    name = data.get("name") if isinstance(data, Mapping) else None
    if isinstance(name, str) and name.strip():
        return f'{kind} rule "{name.strip()}"'
    return f"{kind} rule #{index}" if index is not None else f"{kind} rule"


def _not_an_object(where: str, data: object) -> list[Problem]:
    return [Problem(where, "", f"must be an object, not {_show(data)}")]


# Fit rules ------------------------------------------------------------------------------------


def _parse_fit_rule(data: object, where: str) -> tuple[FitRuleSpec | None, list[Problem]]:
    if not isinstance(data, Mapping):
        return None, _not_an_object(where, data)
    c = _Checker(where, data)
    c.unknown_keys(FIT_RULE_KEYS)
    name = c.name()
    field_name = c.text("field", c.required("field"))
    operator = c.text("operator", c.required("operator"))

    ftype = None
    if field_name is not None:
        ftype = field_type(field_name)
        if ftype is None:
            c.add(
                "field",
                f'field "{field_name}" is not one of {_listed(tuple(FIT_FIELDS))} '
                "or attributes.KEY (KEY made of letters, digits and _)",
            )
    known_operator = operator in OPERATORS
    if operator is not None and not known_operator:
        c.add("operator", f'operator "{operator}" is not one of {_listed(OPERATORS)}')
    elif operator is not None and ftype is not None and operator not in OPERATORS_BY_TYPE[ftype]:
        c.add(
            "operator",
            f'operator "{operator}" does not apply to the {ftype} field "{field_name}" '
            f"(use {_listed(OPERATORS_BY_TYPE[ftype])})",
        )

    raw_values = c.raw("values")
    values = c.text_list("values", raw_values)
    if operator in VALUE_OPERATORS:
        if values == ():
            c.add("values", f'values must list at least one value for operator "{operator}"')
        elif values and operator == "equals_any" and ftype == NUMBER:
            for value in values:
                try:
                    ok = math.isfinite(float(value))
                except ValueError:
                    ok = False
                if not ok:
                    c.add(
                        "values",
                        f'values item "{value}" is not a number (field "{field_name}" '
                        "holds numbers)",
                    )
    elif known_operator and values:
        c.add("values", f'values are not used by operator "{operator}"')

    raw_min, raw_max = c.raw("min"), c.raw("max")
    low, high = c.number("min", raw_min), c.number("max", raw_max)
    if operator == "between":
        if raw_min is _ABSENT and raw_max is _ABSENT:
            c.add("min", "between needs a min or a max (or both); both are empty")
        if low is not None and high is not None and low > high:
            c.add("min", f"min {_fmt(low)} is above max {_fmt(high)}")
    elif known_operator:
        for key, raw in (("min", raw_min), ("max", raw_max)):
            if raw is not _ABSENT:
                c.add(key, f'{key} is only used by operator "between", not "{operator}"')

    points = c.number("points", c.required("points"))
    group = c.group()
    order = c.order()
    disqualify = c.boolean("disqualify", c.raw("disqualify"), False)

    if c.problems:
        return None, c.problems
    assert name is not None and field_name is not None and operator is not None
    assert values is not None and points is not None
    return (
        FitRuleSpec(
            name=name,
            field=field_name,
            operator=operator,
            values=values,
            min=low,
            max=high,
            points=points,
            group=group,
            order=order,
            disqualify=disqualify,
        ),
        [],
    )


def fit_rule_problems(rule: object, *, where: str | None = None) -> list[Problem]:
    """Every problem with one fit rule given as a dict in the file's form (keys as in
    FIT_RULE_KEYS; null means not set). Empty when the rule is valid.

    For the admin's rule form: attach each problem's `message` to its `field`. Names must be
    unique within a rule set; that needs the other rules, so it is checked by `parse_ruleset`.
    """
    return _parse_fit_rule(rule, where or _rule_label("fit", rule, None))[1]


def validate_fit_rule(rule: object, *, where: str | None = None) -> list[str]:
    """`fit_rule_problems` as sentences, e.g. 'fit rule "X": operator "foo" is not one of …'."""
    return [str(p) for p in fit_rule_problems(rule, where=where)]


def parse_fit_rule(rule: object) -> FitRuleSpec:
    """One fit rule dict -> spec; raises RuleSetInvalid listing its problems."""
    spec, problems = _parse_fit_rule(rule, _rule_label("fit", rule, None))
    if spec is None:
        raise RuleSetInvalid(problems)
    return spec


# Behavior rules -------------------------------------------------------------------------------


def _parse_behavior_rule(data: object, where: str) -> tuple[BehaviorRuleSpec | None, list[Problem]]:
    if not isinstance(data, Mapping):
        return None, _not_an_object(where, data)
    c = _Checker(where, data)
    c.unknown_keys(BEHAVIOR_RULE_KEYS)
    name = c.name()

    kind = c.text("kind", c.required("kind"))
    if kind is not None and (len(kind) > KIND_MAX_LENGTH or not _KIND.fullmatch(kind)):
        c.add(
            "kind",
            f'kind "{kind}" must be a slug: lower-case letters, digits and _ '
            f"(at most {KIND_MAX_LENGTH} characters), e.g. page_view",
        )
        kind = None

    mode = c.text("mode", c.required("mode"))
    if mode is not None and mode not in MODES:
        c.add("mode", f'mode "{mode}" is not one of {_listed(MODES)}')

    points = c.number("points", c.required("points"))
    url_contains = c.text_list("url_contains", c.raw("url_contains"))

    max_count = c.integer("max_count", c.raw("max_count"))
    if max_count is not None:
        if max_count < 1:
            c.add("max_count", f"max_count must be at least 1, not {max_count}")
        elif mode == "once":
            # "once" counts the most recent activity only; a cap would silently mean nothing.
            c.add("max_count", 'max_count only applies to mode "each"; remove it or use "each"')

    raw_min_count = c.raw("min_count")
    min_count = c.integer("min_count", raw_min_count)
    if min_count is not None:
        if min_count < 1:
            c.add("min_count", f"min_count must be at least 1, not {min_count}")
        elif min_count > 1 and mode == "each":
            c.add("min_count", 'min_count only applies to mode "once"; remove it or use "once"')

    window_days = c.number("window_days", c.raw("window_days"))
    if window_days is not None and window_days <= 0:
        c.add("window_days", f"window_days must be above 0, not {_fmt(window_days)}")

    decays = c.boolean("decays", c.raw("decays"), True)
    group = c.group()
    order = c.order()

    if c.problems:
        return None, c.problems
    assert name is not None and kind is not None and mode is not None and points is not None
    assert url_contains is not None
    return (
        BehaviorRuleSpec(
            name=name,
            kind=kind,
            mode=mode,
            points=points,
            url_contains=url_contains,
            max_count=max_count,
            min_count=1 if min_count is None else min_count,
            window_days=window_days,
            decays=decays,
            group=group,
            order=order,
        ),
        [],
    )


def behavior_rule_problems(rule: object, *, where: str | None = None) -> list[Problem]:
    """Every problem with one behavior rule dict (keys as in BEHAVIOR_RULE_KEYS; null means
    not set). Empty when valid. Name uniqueness is checked by `parse_ruleset`."""
    return _parse_behavior_rule(rule, where or _rule_label("behavior", rule, None))[1]


def validate_behavior_rule(rule: object, *, where: str | None = None) -> list[str]:
    """`behavior_rule_problems` as sentences."""
    return [str(p) for p in behavior_rule_problems(rule, where=where)]


def parse_behavior_rule(rule: object) -> BehaviorRuleSpec:
    """One behavior rule dict -> spec; raises RuleSetInvalid listing its problems."""
    spec, problems = _parse_behavior_rule(rule, _rule_label("behavior", rule, None))
    if spec is None:
        raise RuleSetInvalid(problems)
    return spec


# The whole rule set -----------------------------------------------------------------------------


def _parse_matrix(c: _Checker) -> dict[str, str]:
    raw = c.raw("matrix")
    if raw is _ABSENT:
        return dict(DEFAULT_MATRIX)
    if not isinstance(raw, Mapping):
        c.add("matrix", f"matrix must be an object of the cells A1 … C3, not {_show(raw)}")
        return dict(DEFAULT_MATRIX)
    for cell in raw:
        if cell not in MATRIX_CELLS:
            c.add("matrix", f'matrix has an unknown cell "{cell}" (cells: A1 … C3)')
    matrix = {}
    for cell in MATRIX_CELLS:
        action = raw.get(cell)
        if action is None:
            c.add("matrix", f'matrix cell "{cell}" is missing')
        elif action not in ACTIONS:
            c.add(
                "matrix",
                f'matrix cell "{cell}": action {_show(action)} is not one of {_listed(ACTIONS)}',
            )
        else:
            matrix[cell] = action
    return matrix


def _parse_sla_hours(c: _Checker) -> dict[str, float]:
    raw = c.raw("sla_hours")
    if raw is _ABSENT:
        return {key: float(hours) for key, hours in DEFAULT_SLA_HOURS.items()}
    if not isinstance(raw, Mapping):
        c.add("sla_hours", f"sla_hours must be an object, not {_show(raw)}")
        return {}
    for key in raw:
        if key not in SLA_KEYS:
            c.add(
                "sla_hours",
                f'sla_hours has an unknown key "{key}" (keys: {_listed(SLA_KEYS)})',
            )
    hours = {}
    for key in SLA_KEYS:
        value = raw.get(key)
        if value is None:
            c.add("sla_hours", f'sla_hours "{key}" is missing')
        elif not _is_number(value):
            c.add("sla_hours", f'sla_hours "{key}" must be a number, not {_show(value)}')
        elif value <= 0:
            c.add("sla_hours", f'sla_hours "{key}" must be above 0, not {_show(value)}')
        else:
            hours[key] = float(value)
    return hours


def _parse_rules(c: _Checker, key: str, kind: str, parse) -> tuple:
    raw = c.raw(key)
    if raw is _ABSENT:
        return ()
    if not isinstance(raw, list | tuple):
        c.add(key, f"{key} must be a list of rules, not {_show(raw)}")
        return ()
    specs = []
    for index, item in enumerate(raw, start=1):
        spec, problems = parse(item, _rule_label(kind, item, index))
        c.problems.extend(problems)
        if spec is not None:
            specs.append(spec)
    # Names identify rules in score explanations and calibration, so they must be unique;
    # "Demo" and "demo" would read as one rule, so case does not make a name different.
    seen: dict[str, int] = {}
    for item in raw:
        name = item.get("name") if isinstance(item, Mapping) else None
        if isinstance(name, str) and name.strip():
            folded = name.strip().casefold()
            seen[folded] = seen.get(folded, 0) + 1
            if seen[folded] == 2:
                c.problems.append(
                    Problem(
                        f'{kind} rule "{name.strip()}"',
                        "name",
                        f"name is used by more than one {kind} rule (names must be unique, "
                        "ignoring case)",
                    )
                )
    return tuple(specs)


def _parse(data: object) -> tuple[RuleSetSpec | None, list[Problem]]:
    if not isinstance(data, Mapping):
        return None, [Problem("rule set", "", f"must be a JSON object, not {_show(data)}")]
    c = _Checker("rule set", data)
    c.unknown_keys(RULESET_KEYS)
    name = c.name()

    def number(key: str) -> float | None:
        # The default when absent; None (already reported) when present but not a number, so
        # that a broken value never triggers a second, confusing comparison problem.
        raw = c.raw(key)
        return float(_SPEC_DEFAULTS[key]) if raw is _ABSENT else c.number(key, raw)

    half_life_days = number("half_life_days")
    if half_life_days is not None and half_life_days <= 0:
        c.add("half_life_days", f"half_life_days must be above 0, not {_fmt(half_life_days)}")
    fit_high, fit_medium = number("fit_high"), number("fit_medium")
    if fit_high is not None and fit_medium is not None and fit_medium > fit_high:
        c.add("fit_medium", f"fit_medium {_fmt(fit_medium)} is above fit_high {_fmt(fit_high)}")
    interest_high, interest_medium = number("interest_high"), number("interest_medium")
    if (
        interest_high is not None
        and interest_medium is not None
        and interest_medium > interest_high
    ):
        c.add(
            "interest_medium",
            f"interest_medium {_fmt(interest_medium)} is above interest_high {_fmt(interest_high)}",
        )
    matrix = _parse_matrix(c)
    sla_hours = _parse_sla_hours(c)
    recycle_days = c.integer("recycle_days", c.raw("recycle_days"))
    if recycle_days is None:
        recycle_days = int(_SPEC_DEFAULTS["recycle_days"])
    elif recycle_days < 0:
        c.add("recycle_days", f"recycle_days must be 0 or more, not {recycle_days}")
    fit_rules = _parse_rules(c, "fit_rules", "fit", _parse_fit_rule)
    behavior_rules = _parse_rules(c, "behavior_rules", "behavior", _parse_behavior_rule)

    if c.problems:
        return None, c.problems
    assert name is not None and half_life_days is not None
    assert fit_high is not None and fit_medium is not None
    assert interest_high is not None and interest_medium is not None
    return (
        RuleSetSpec(
            name=name,
            half_life_days=half_life_days,
            fit_high=fit_high,
            fit_medium=fit_medium,
            interest_high=interest_high,
            interest_medium=interest_medium,
            matrix=matrix,
            sla_hours=sla_hours,
            recycle_days=recycle_days,
            fit_rules=fit_rules,
            behavior_rules=behavior_rules,
        ),
        [],
    )


def parse_ruleset(data: object) -> RuleSetSpec:
    """A rule-set dict (contract §1) -> RuleSetSpec, with the documented defaults applied.

    Raises RuleSetInvalid with every problem when anything is wrong. Also usable for the
    settings alone (a dict without rules) to check a rule set's thresholds, matrix and SLAs.
    """
    spec, problems = _parse(data)
    if spec is None:
        raise RuleSetInvalid(problems)
    return spec


def validate_ruleset(data: object) -> list[str]:
    """Every problem with a rule-set dict, as sentences; empty when it parses."""
    return [str(p) for p in _parse(data)[1]]


def parse_ruleset_json(text: str | bytes) -> RuleSetSpec:
    """`parse_ruleset` from JSON text; a syntax error or a key repeated within one object
    (JSON would silently keep the last) is reported as a problem too."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        result: dict[str, object] = {}
        for key, value in items:
            if key in result and key not in repeated:
                repeated.append(key)
            result[key] = value
        return result

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise RuleSetInvalid([f"rule set: the file is not UTF-8 text ({error})"]) from error
    try:
        data = json.loads(text.lstrip("\ufeff"), object_pairs_hook=pairs)
    except json.JSONDecodeError as error:
        raise RuleSetInvalid(
            [f"rule set: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"]
        ) from error
    problems: list[str | Problem] = [
        Problem("rule set", key, f'the key "{key}" appears twice in one object') for key in repeated
    ]
    spec, parse_problems = _parse(data)
    problems.extend(parse_problems)
    if spec is None or problems:
        raise RuleSetInvalid(problems)
    return spec


def default_ruleset() -> RuleSetSpec:
    """The rule set the project ships (scoring/data/default_ruleset.json)."""
    return parse_ruleset_json(DEFAULT_RULESET_PATH.read_text(encoding="utf-8"))


# Spec -> dict ---------------------------------------------------------------------------------


def _number_out(value: float) -> int | float:
    # Whole numbers are written as integers so a file read and written back is unchanged.
    return int(value) if float(value).is_integer() else float(value)


def fit_rule_to_dict(rule: FitRuleSpec) -> dict[str, object]:
    """A fit rule in the file's form, omitting keys that hold their defaults.

    Nothing the spec holds is dropped: values or bounds that the operator does not use are
    still written, so that the parser reports them instead of the round trip losing them.
    """
    out: dict[str, object] = {"name": rule.name, "field": rule.field, "operator": rule.operator}
    if rule.operator in VALUE_OPERATORS or rule.values:
        out["values"] = list(rule.values)
    if rule.operator == "between" or rule.min is not None or rule.max is not None:
        out["min"] = None if rule.min is None else _number_out(rule.min)
        out["max"] = None if rule.max is None else _number_out(rule.max)
    out["points"] = _number_out(rule.points)
    if rule.group:
        out["group"] = rule.group
    if rule.order:
        out["order"] = rule.order
    if rule.disqualify:
        out["disqualify"] = True
    return out


def behavior_rule_to_dict(rule: BehaviorRuleSpec) -> dict[str, object]:
    """A behavior rule in the file's form, omitting keys that hold their defaults."""
    out: dict[str, object] = {"name": rule.name, "kind": rule.kind}
    if rule.url_contains:
        out["url_contains"] = list(rule.url_contains)
    out["mode"] = rule.mode
    if rule.max_count is not None:
        out["max_count"] = rule.max_count
    if rule.min_count != 1:
        out["min_count"] = rule.min_count
    if rule.window_days is not None:
        out["window_days"] = _number_out(rule.window_days)
    out["points"] = _number_out(rule.points)
    if not rule.decays:
        out["decays"] = False
    if rule.group:
        out["group"] = rule.group
    if rule.order:
        out["order"] = rule.order
    return out


def ruleset_to_dict(spec: RuleSetSpec) -> dict[str, object]:
    """The rule set in contract §1's form (what `dump_ruleset` writes); every setting is
    written, rules omit keys at their defaults. parse_ruleset(ruleset_to_dict(s)) == s."""
    cells = [c for c in MATRIX_CELLS if c in spec.matrix]
    sla_keys = [k for k in SLA_KEYS if k in spec.sla_hours]
    # Unknown keys are kept (not silently dropped) so that parsing the output reports them.
    cells += [c for c in spec.matrix if c not in MATRIX_CELLS]
    sla_keys += [k for k in spec.sla_hours if k not in SLA_KEYS]
    return {
        "name": spec.name,
        "half_life_days": _number_out(spec.half_life_days),
        "fit_high": _number_out(spec.fit_high),
        "fit_medium": _number_out(spec.fit_medium),
        "interest_high": _number_out(spec.interest_high),
        "interest_medium": _number_out(spec.interest_medium),
        "matrix": {cell: spec.matrix[cell] for cell in cells},
        "sla_hours": {key: _number_out(spec.sla_hours[key]) for key in sla_keys},
        "recycle_days": spec.recycle_days,
        "fit_rules": [fit_rule_to_dict(rule) for rule in spec.fit_rules],
        "behavior_rules": [behavior_rule_to_dict(rule) for rule in spec.behavior_rules],
    }


# Warnings -----------------------------------------------------------------------------------


def ruleset_warnings(spec: RuleSetSpec) -> list[str]:
    """Allowed but probably unintended: reported by the loader and admin, never refused."""
    warnings = []
    for rule in spec.behavior_rules:
        if rule.url_contains and rule.kind not in URL_KINDS:
            warnings.append(
                f'behavior rule "{rule.name}": url_contains is set, but "{rule.kind}" '
                "activities carry no URL, so the rule will probably never match "
                f"(kinds with a URL: {_listed(sorted(URL_KINDS))})"
            )
    return warnings
