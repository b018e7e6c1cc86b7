"""The scoring engine: one lead, as of an instant T, with the reasons (design.md §3).

Pure Python on purpose (standard library only, no Django): the same function explains a score
on the lead page, scores a lead in tests and is the reference the SQL scorer (`scoring.sql`) is
checked against. Everything it needs arrives as plain values: the lead as a flat mapping, its
activities as `ActivityFact`s and the rule set as a `RuleSetSpec`.

Scores keep full float precision; rounding is for display only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType

__all__ = [
    "DEFAULT_MATRIX",
    "DEFAULT_SLA_HOURS",
    "ActivityContribution",
    "ActivityFact",
    "BehaviorRuleSpec",
    "Contribution",
    "FitRuleSpec",
    "RuleSetSpec",
    "Score",
    "decay",
    "fit_tier",
    "interest_tier",
    "lead_value",
    "rule_matches_value",
    "score_lead",
]

# The design's default matrix: fit tier (A/B/C) x interest tier (1 high … 3 low) → action.
DEFAULT_MATRIX: Mapping[str, str] = MappingProxyType(
    {
        "A1": "mql_priority",
        "A2": "mql_fast_track",
        "A3": "nurture",
        "B1": "mql_standard",
        "B2": "nurture",
        "B3": "monitor",
        "C1": "disqualify",
        "C2": "monitor",
        "C3": "exclude",
    }
)

# First-touch SLA per MQL class and the disposition SLA, in hours (design §4).
DEFAULT_SLA_HOURS: Mapping[str, float] = MappingProxyType(
    {"mql_priority": 1, "mql_fast_track": 4, "mql_standard": 24, "disposition": 72}
)

# Fit fields of type "number"; every other built-in field is compared as text, a list or a bool.
_NUMBER_FIELDS = frozenset({"employee_count", "annual_revenue"})
_ATTRIBUTE_PREFIX = "attributes."
_SECONDS_PER_DAY = 86_400.0


# Specs (what the rules say) -----------------------------------------------------------------


@dataclass(frozen=True)
class FitRuleSpec:
    """Points for who the lead is. `values` for contains_any/equals_any/includes_any,
    `min`/`max` (either may be None) for between."""

    name: str
    field: str
    operator: str
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    points: float = 0
    group: str = ""
    order: int = 0
    disqualify: bool = False


@dataclass(frozen=True)
class BehaviorRuleSpec:
    """Points for what the lead did: activities of `kind` whose URL passes `url_contains`."""

    name: str
    kind: str
    mode: str
    points: float
    url_contains: tuple[str, ...] = ()
    max_count: int | None = None
    min_count: int = 1
    window_days: float | None = None
    decays: bool = True
    group: str = ""
    order: int = 0


@dataclass(frozen=True)
class RuleSetSpec:
    """A rule set and its settings. Treat `matrix` and `sla_hours` as read-only.

    They are plain dicts (not read-only proxies) so that a spec pickles, e.g. into a cache.
    They take no part in the hash, so a spec can still be a dict key.
    """

    name: str
    half_life_days: float = 30
    fit_high: float = 40
    fit_medium: float = 20
    interest_high: float = 50
    interest_medium: float = 20
    matrix: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MATRIX), hash=False)
    sla_hours: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_SLA_HOURS), hash=False
    )
    recycle_days: int = 30
    fit_rules: tuple[FitRuleSpec, ...] = ()
    behavior_rules: tuple[BehaviorRuleSpec, ...] = ()


@dataclass(frozen=True)
class ActivityFact:
    """One activity of the lead. `occurred_at` must be timezone-aware."""

    id: int | None
    kind: str
    occurred_at: datetime
    url: str = ""


# Results (what the score is, and why) -------------------------------------------------------


@dataclass(frozen=True)
class ActivityContribution:
    """One activity's share of a behavior rule's contribution."""

    activity_id: int | None
    occurred_at: datetime
    age_days: float
    points: float  # before decay
    value: float  # after decay


@dataclass(frozen=True)
class Contribution:
    """A rule that counted: its points and what it added to the score (after decay)."""

    rule: str
    kind: str  # "fit" | "behavior"
    points: float
    value: float
    activities: tuple[ActivityContribution, ...] = ()


@dataclass(frozen=True)
class Score:
    fit: float
    interest: float
    total: float
    fit_tier: str  # "A" | "B" | "C"
    interest_tier: int  # 1 | 2 | 3
    cell: str  # e.g. "A1"
    action: str  # the rule set's matrix action for the cell
    disqualified: bool
    as_of: datetime
    contributions: tuple[Contribution, ...]  # rules that count: matched and first in group


# Small public helpers -------------------------------------------------------------------------


def decay(age_days: float, half_life_days: float) -> float:
    """The weight of an activity `age_days` old: 0.5 ** (age / half-life)."""
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be above 0, not {half_life_days!r}")
    return 0.5 ** (age_days / half_life_days)


def fit_tier(fit: float, ruleset: object) -> str:
    """A, B or C; bounds inclusive. `ruleset` needs fit_high and fit_medium (spec or model)."""
    if fit >= ruleset.fit_high:  # type: ignore[attr-defined]
        return "A"
    if fit >= ruleset.fit_medium:  # type: ignore[attr-defined]
        return "B"
    return "C"


def interest_tier(interest: float, ruleset: object) -> int:
    """1, 2 or 3; bounds inclusive. `ruleset` needs interest_high and interest_medium."""
    if interest >= ruleset.interest_high:  # type: ignore[attr-defined]
        return 1
    if interest >= ruleset.interest_medium:  # type: ignore[attr-defined]
        return 2
    return 3


def lead_value(lead: Mapping[str, object], field_name: str) -> object:
    """The lead's value for a fit field: a top-level key or `attributes.KEY`."""
    if field_name.startswith(_ATTRIBUTE_PREFIX):
        attributes = lead.get("attributes")
        if not isinstance(attributes, Mapping):
            return None
        return attributes.get(field_name[len(_ATTRIBUTE_PREFIX) :])
    return lead.get(field_name)


def rule_matches_value(rule: FitRuleSpec, value: object) -> bool:
    """Whether a fit rule's operator matches `value` (the lead's value for `rule.field`)."""
    return _matcher(rule)(value)


# Operator semantics ---------------------------------------------------------------------------


def _is_missing(value: object) -> bool:
    # Missing: absent/None, blank text or an empty list. False and 0 are values, not blanks.
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return not value
    return False


def _as_number(value: object, *, text_ok: bool) -> float | None:
    """A finite float, or None. bool is not a number here, although Python says it is an int."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return None
    elif text_ok and isinstance(value, str):
        try:
            number = float(value.strip())
        except (OverflowError, ValueError):
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _as_scalar_text(value: object) -> str | None:
    # Text operators look at text, numbers and booleans "as stored" (str(value)); a list or an
    # object attribute never matches them (the SQL scorer agrees).
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | Decimal):
        return str(value)
    return None


@lru_cache(maxsize=4096)
def _word_regex(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    # One alternation per rule: a phrase matches where no word character touches either end,
    # so "cto" is not found in "Director" but "vice president" is in "Senior Vice President".
    # Longest first so an alternation never settles on a shorter phrase that the lookahead then
    # refuses (backtracking would recover, but this is cheaper).
    cleaned = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    alternatives = "|".join(re.escape(p) for p in cleaned)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _never(value: object) -> bool:
    return False


def _matcher(rule: FitRuleSpec) -> Callable[[object], bool]:
    """A compiled predicate for the rule's operator; cached because it runs for every lead."""
    try:
        return _cached_matcher(rule)
    except TypeError:  # a hand-built spec holding a list is unhashable: build it uncached
        return _build_matcher(rule)


def _build_matcher(rule: FitRuleSpec) -> Callable[[object], bool]:
    operator = rule.operator
    is_attribute = rule.field.startswith(_ATTRIBUTE_PREFIX)
    is_number_field = rule.field in _NUMBER_FIELDS

    if operator == "is_blank":
        return _is_missing

    inner: Callable[[object], bool]
    if operator == "contains_any":
        regex = _word_regex(tuple(rule.values))
        if regex is None:
            return _never
        search = regex.search

        def inner(value: object) -> bool:
            text = _as_scalar_text(value)
            return text is not None and search(text) is not None

    elif operator == "equals_any" and is_number_field:
        # Numbers compare as numbers: "300" and 300.0 are the same employee count.
        numbers = frozenset(
            n for n in (_as_number(v, text_ok=True) for v in rule.values) if n is not None
        )

        def inner(value: object) -> bool:
            return _as_number(value, text_ok=True) in numbers

    elif operator == "equals_any":
        wanted = frozenset(v.strip().lower() for v in rule.values)

        def inner(value: object) -> bool:
            text = _as_scalar_text(value)
            return text is not None and text.strip().lower() in wanted

    elif operator == "between":
        low, high = rule.min, rule.max
        # A built-in number field may arrive as a numeric string (CSV, forms); an attribute is
        # taken as stored, so "300" there is text and never between anything.
        text_ok = not is_attribute

        def inner(value: object) -> bool:
            number = _as_number(value, text_ok=text_ok)
            if number is None:
                return False
            return (low is None or number >= low) and (high is None or number <= high)

    elif operator == "includes_any":
        wanted = frozenset(v.strip().lower() for v in rule.values)

        def inner(value: object) -> bool:
            if not isinstance(value, list | tuple):
                return False
            return any(item is not None and str(item).lower() in wanted for item in value)

    elif operator in ("is_true", "is_false"):
        target = operator == "is_true"
        word = "true" if target else "false"

        def inner(value: object) -> bool:
            if isinstance(value, bool):
                return value is target
            return isinstance(value, str) and value.strip().lower() == word

    else:
        # An unknown operator matches nothing; the rule-set parser refuses it long before.
        return _never

    def matches(value: object) -> bool:
        # A missing value matches nothing but is_blank (handled above).
        return not _is_missing(value) and inner(value)

    return matches


_cached_matcher = lru_cache(maxsize=4096)(_build_matcher)


# Scoring -------------------------------------------------------------------------------------


def _first_match_order(rules: Sequence[FitRuleSpec] | Sequence[BehaviorRuleSpec]):
    """(ungrouped positions, [positions of each group in first-match order])."""
    ungrouped: list[int] = []
    groups: dict[str, list[int]] = {}
    for position, rule in enumerate(rules):
        if rule.group:
            groups.setdefault(rule.group, []).append(position)
        else:
            ungrouped.append(position)
    ordered = [sorted(members, key=lambda p: (rules[p].order, p)) for members in groups.values()]
    return tuple(ungrouped), tuple(tuple(m) for m in ordered)


class _CompiledRuleSet:
    """What can be worked out once per rule set rather than once per lead."""

    def __init__(self, ruleset: RuleSetSpec) -> None:
        self.fit_rules = tuple(ruleset.fit_rules)
        self.fit_matchers = tuple(_matcher(rule) for rule in self.fit_rules)
        self.fit_ungrouped, self.fit_groups = _first_match_order(self.fit_rules)
        self.disqualifiers = tuple(p for p, r in enumerate(self.fit_rules) if r.disqualify)
        self.behavior_rules = tuple(ruleset.behavior_rules)
        self.behavior_ungrouped, self.behavior_groups = _first_match_order(self.behavior_rules)
        self.kinds = frozenset(rule.kind for rule in self.behavior_rules)
        # Lower-cased once; empty substrings would match every URL, so they are dropped.
        self.url_needles = tuple(
            tuple(u.lower() for u in rule.url_contains if u) for rule in self.behavior_rules
        )


# Keyed by id(); the entry holds the spec itself so a recycled id can never return another
# rule set's compilation. A frozen spec's rules cannot change, so entries never go stale.
_compiled_cache: dict[int, tuple[RuleSetSpec, _CompiledRuleSet]] = {}
_COMPILED_CACHE_SIZE = 16


def _compiled(ruleset: RuleSetSpec) -> _CompiledRuleSet:
    hit = _compiled_cache.get(id(ruleset))
    if hit is not None and hit[0] is ruleset:
        return hit[1]
    compiled = _CompiledRuleSet(ruleset)
    if len(_compiled_cache) >= _COMPILED_CACHE_SIZE:
        _compiled_cache.clear()
    _compiled_cache[id(ruleset)] = (ruleset, compiled)
    return compiled


def _age_days(as_of: datetime, occurred_at: datetime) -> float:
    return (as_of - occurred_at).total_seconds() / _SECONDS_PER_DAY


def _recency_key(activity: ActivityFact) -> tuple[datetime, bool, int]:
    # Most recent first; equal instants fall back to the larger id so results are repeatable.
    return (activity.occurred_at, activity.id is not None, activity.id or 0)


def _behavior_contribution(
    rule: BehaviorRuleSpec,
    needles: tuple[str, ...],
    recent_first: Sequence[ActivityFact],
    as_of: datetime,
    half_life_days: float,
) -> Contribution | None:
    """The rule's contribution, or None when it does not match."""
    matched: Iterable[ActivityFact] = recent_first
    if needles:
        matched = (a for a in matched if any(n in (a.url or "").lower() for n in needles))
    if rule.window_days is not None:
        # Exactly T - window is outside the window; compare instants, not float ages, so the
        # edge is exact.
        since = as_of - timedelta(days=rule.window_days)
        matched = (a for a in matched if a.occurred_at > since)
    chosen = list(matched)

    if rule.mode == "each":
        if not chosen:
            return None
        if rule.max_count is not None:
            chosen = chosen[: rule.max_count]  # the most recent ones
        carrying = len(chosen)
    elif rule.mode == "once":
        if len(chosen) < max(rule.min_count, 1):
            return None
        # Listed: the activities that satisfy min_count; only the most recent carries points.
        chosen = chosen[: max(rule.min_count, 1)]
        carrying = 1
    else:
        return None  # unknown mode; refused by the parser

    shares = []
    total = 0.0
    for index, activity in enumerate(chosen):
        age = _age_days(as_of, activity.occurred_at)
        points = float(rule.points) if index < carrying else 0.0
        weight = decay(age, half_life_days) if rule.decays else 1.0
        value = points * weight
        total += value
        shares.append(
            ActivityContribution(
                activity_id=activity.id,
                occurred_at=activity.occurred_at,
                age_days=age,
                points=points,
                value=value,
            )
        )
    return Contribution(
        rule=rule.name,
        kind="behavior",
        points=float(rule.points),
        value=total,
        activities=tuple(shares),
    )


def score_lead(
    lead: Mapping[str, object],
    activities: Iterable[ActivityFact],
    ruleset: RuleSetSpec,
    as_of: datetime,
) -> Score:
    """Score one lead as of `as_of` (timezone-aware) and say which rules made the score.

    `lead` is a flat mapping (title, industry, country, source, funding_stage, email_domain,
    employee_count, annual_revenue, technologies, email_is_free, attributes); absent keys are
    missing values. Activities may come in any order and of any kind; those after `as_of`
    are ignored.
    """
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    compiled = _compiled(ruleset)

    # Fit: evaluate each rule at most once, lazily (grouped rules after the first match are
    # only needed when they disqualify).
    fit_rules = compiled.fit_rules
    fit_results: list[bool | None] = [None] * len(fit_rules)

    def fit_matches(position: int) -> bool:
        result = fit_results[position]
        if result is None:
            value = lead_value(lead, fit_rules[position].field)
            result = fit_results[position] = compiled.fit_matchers[position](value)
        return result

    counted_fit = [p for p in compiled.fit_ungrouped if fit_matches(p)]
    for members in compiled.fit_groups:
        first = next((p for p in members if fit_matches(p)), None)
        if first is not None:
            counted_fit.append(first)
    counted_fit.sort()
    disqualified = any(fit_matches(p) for p in compiled.disqualifiers)

    contributions: list[Contribution] = []
    fit = 0.0
    for position in counted_fit:
        rule = fit_rules[position]
        points = float(rule.points)
        fit += points
        contributions.append(Contribution(rule=rule.name, kind="fit", points=points, value=points))

    # Interest: bucket the relevant activities by kind, most recent first, once per lead.
    by_kind: dict[str, list[ActivityFact]] = {}
    kinds = compiled.kinds
    for activity in activities:
        if activity.kind in kinds and activity.occurred_at <= as_of:
            by_kind.setdefault(activity.kind, []).append(activity)
    for bucket in by_kind.values():
        bucket.sort(key=_recency_key, reverse=True)

    behavior_rules = compiled.behavior_rules
    half_life = float(ruleset.half_life_days)

    def behavior(position: int) -> Contribution | None:
        rule = behavior_rules[position]
        bucket = by_kind.get(rule.kind)
        if not bucket:
            return None
        return _behavior_contribution(
            rule, compiled.url_needles[position], bucket, as_of, half_life
        )

    counted_behavior: list[tuple[int, Contribution]] = []
    for position in compiled.behavior_ungrouped:
        contribution = behavior(position)
        if contribution is not None:
            counted_behavior.append((position, contribution))
    for members in compiled.behavior_groups:
        for position in members:
            contribution = behavior(position)
            if contribution is not None:
                counted_behavior.append((position, contribution))
                break
    counted_behavior.sort(key=lambda item: item[0])

    interest = 0.0
    for _, contribution in counted_behavior:
        interest += contribution.value
        contributions.append(contribution)

    tier_f = fit_tier(fit, ruleset)
    tier_i = interest_tier(interest, ruleset)
    cell = f"{tier_f}{tier_i}"
    # A hand-built spec may carry a partial matrix; the default fills the gap rather than
    # crashing a page (parsed rule sets always have all nine cells).
    action = ruleset.matrix.get(cell) or DEFAULT_MATRIX[cell]
    return Score(
        fit=fit,
        interest=interest,
        total=fit + interest,
        fit_tier=tier_f,
        interest_tier=tier_i,
        cell=cell,
        action=action,
        disqualified=disqualified,
        as_of=as_of,
        contributions=tuple(contributions),
    )
