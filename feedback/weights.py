"""Suggested rule weights from what sales did with the MQLs.

A transparent model: an L2-regularised logistic regression of "sales accepted it" on which rules
were in each dispositioned handoff's score (and on candidate attributes no rule scores yet:
industry, country and source values), over the last 12 months. A coefficient is the rule's
effect on the log-odds of acceptance with the other rules held fixed; one scale factor, fitted
so the current points line up with the coefficients, turns them back into points. Rules with
too little evidence keep their points, and below a minimum of dispositions nothing is suggested
at all: noise dressed as advice is worse than none.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.utils import timezone

from scoring import engine
from scoring.models import RuleSet

from . import stats
from .models import Disposition, Handoff, HandoffContribution

WINDOW_DAYS = 365
MIN_DISPOSITIONS = 200
MIN_EACH = 30  # accepted, and rejected
MIN_N = 30  # handoffs with the rule (or attribute) before it is judged
L2 = 1.0
CANDIDATE_FIELDS = ("industry", "country", "source")


@dataclass
class Suggestion:
    rule: str
    kind: str  # fit | behavior
    current: float
    suggested: float
    n: int
    lift: float | None
    low: float | None
    high: float | None
    coefficient: float
    reason: str

    @property
    def change(self) -> float:
        return self.suggested - self.current


@dataclass
class Candidate:
    field: str
    value: str
    n: int
    lift: float | None
    low: float | None
    high: float | None
    suggested: float


@dataclass
class Suggestions:
    ruleset: RuleSet | None
    dispositioned: int
    accepted: int
    enough: bool
    message: str = ""
    rules: list[Suggestion] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def changes(self) -> list[Suggestion]:
        return [s for s in self.rules if s.change]


def fit_logistic(
    rows: list[dict[int, float]], labels: list[int], size: int, l2: float = L2
) -> list[float]:
    """Newton's method for L2-regularised logistic regression. Each row maps the indices of its
    non-zero features to their values; index 0 is the intercept (always 1, not regularised)."""
    beta = [0.0] * size
    for _ in range(25):
        gradient = [0.0] * size
        hessian = [[0.0] * size for _ in range(size)]
        for features, y in zip(rows, labels, strict=True):
            active = [(0, 1.0), *features.items()]
            z = sum(beta[j] * x for j, x in active)
            p = 1 / (1 + math.exp(-max(min(z, 30), -30)))
            w = p * (1 - p)
            for j, xj in active:
                gradient[j] += (y - p) * xj
                row = hessian[j]
                for k, xk in active:
                    row[k] += w * xj * xk
        for j in range(1, size):
            gradient[j] -= l2 * beta[j]
            hessian[j][j] += l2
        step = _solve(hessian, gradient)
        beta = [b + s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return beta


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the Hessian is small and well conditioned)."""
    n = len(vector)
    a = [[*row, vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            continue
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            if factor:
                for c in range(col, n + 1):
                    a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        if abs(a[r][r]) < 1e-12:
            continue
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def _covered(spec: engine.RuleSetSpec, field_name: str, value: str) -> bool:
    """Whether a fit rule already scores this attribute value."""
    return any(
        rule.field == field_name and value in {v.strip().lower() for v in rule.values}
        for rule in spec.fit_rules
    )


def suggest(*, now: datetime | None = None) -> Suggestions:
    """Suggested points for the active rule set's rules, with their evidence."""
    now = now or timezone.now()
    ruleset = RuleSet.objects.active()
    handoffs = Handoff.objects.filter(created_at__gte=now - timedelta(days=WINDOW_DAYS)).exclude(
        disposition=""
    )
    outcome = dict(handoffs.values_list("pk", "disposition"))
    accepted = sum(1 for d in outcome.values() if d == Disposition.ACCEPTED)
    result = Suggestions(ruleset, len(outcome), accepted, enough=False)
    if ruleset is None:
        result.message = "No rule set is active: there is nothing to suggest weights for."
        return result
    if len(outcome) < MIN_DISPOSITIONS or min(accepted, len(outcome) - accepted) < MIN_EACH:
        result.message = (
            f"{len(outcome)} dispositioned MQLs in the last 12 months ({accepted} accepted): "
            f"suggestions need at least {MIN_DISPOSITIONS}, with {MIN_EACH} accepted and "
            f"{MIN_EACH} rejected, or they would be noise."
        )
        return result
    result.enough = True
    spec = ruleset.to_spec()
    rule_specs = {r.name: ("fit", r) for r in spec.fit_rules} | {
        r.name: ("behavior", r) for r in spec.behavior_rules
    }

    features: dict[tuple[str, str], int] = {}  # ("rule", name) or (field, value) -> index

    def index(key: tuple[str, str]) -> int:
        return features.setdefault(key, len(features) + 1)

    # A fit rule or an attribute is there or not (1); a behavior rule counts its activities,
    # decayed as they were at the handoff (its value ÷ its points), since its points are per
    # activity.
    present: dict[int, dict[int, float]] = defaultdict(dict)
    for handoff_id, rule, value in HandoffContribution.objects.filter(
        handoff_id__in=outcome, rule__in=rule_specs
    ).values_list("handoff_id", "rule", "value"):
        kind, spec_rule = rule_specs[rule]
        amount = 1.0 if kind == "fit" or not spec_rule.points else value / spec_rule.points
        present[handoff_id][index(("rule", rule))] = amount
    seen = Counter()
    for handoff_id, *values in handoffs.values_list(
        "pk", "lead__account__industry", "lead__account__country", "lead__source"
    ):
        for name, value in zip(CANDIDATE_FIELDS, values, strict=True):
            value = (value or "").strip().lower()
            if value and not _covered(spec, name, value):
                seen[(name, value)] += 1
                present[handoff_id][index((name, value))] = 1.0
    # Only attributes frequent enough to judge enter the model.
    keep = {i for key, i in features.items() if key[0] == "rule" or seen[key] >= MIN_N}
    ids = list(outcome)
    rows = [{i: x for i, x in present[h].items() if i in keep} for h in ids]
    labels = [int(outcome[h] == Disposition.ACCEPTED) for h in ids]
    beta = fit_logistic(rows, labels, len(features) + 1)

    evidence = {}
    for key, i in features.items():
        with_it = [y for row, y in zip(rows, labels, strict=True) if i in row]
        interval = stats.lift(
            sum(with_it), len(with_it), accepted - sum(with_it), len(ids) - len(with_it)
        )
        evidence[key] = (len(with_it), interval)

    judged = {
        name
        for name, (_, rule) in rule_specs.items()
        if evidence.get(("rule", name), (0,))[0] >= MIN_N and not getattr(rule, "disqualify", False)
    }
    points = _rescaled(rule_specs, judged, features, beta, rows)
    for name, (kind, rule) in rule_specs.items():
        key = ("rule", name)
        n, interval = evidence.get(key, (0, None))
        if getattr(rule, "disqualify", False):
            reason = "disqualifies: not a matter of points"
        elif name not in judged:
            reason = _too_few(n)
        else:
            reason = _reason(rule.points, points[name], interval)
        lift, low, high = interval or (None, None, None)
        result.rules.append(
            Suggestion(
                rule=name,
                kind=kind,
                current=rule.points,
                suggested=points.get(name, rule.points),
                n=n,
                lift=lift,
                low=low,
                high=high,
                coefficient=beta[features[key]] if key in features else 0.0,
                reason=reason,
            )
        )
    fit_scale = _scale(
        [
            (beta[features[("rule", n)]], rule_specs[n][1].points, 1.0)
            for n in judged
            if rule_specs[n][0] == "fit"
        ]
    )
    for (name, value), i in features.items():
        if name == "rule" or i not in keep:
            continue
        n, interval = evidence[(name, value)]
        if interval and (interval[1] > 1 or interval[2] < 1):
            result.candidates.append(
                Candidate(name, value, n, *interval, suggested=float(round(fit_scale * beta[i])))
            )
    result.rules.sort(key=lambda s: -abs(s.change))
    result.candidates.sort(key=lambda c: -abs(c.suggested))
    return result


def _scale(pairs: list[tuple[float, float, float]]) -> float:
    """Points per unit of log-odds that keeps the family's points on the MQLs as they are:
    Σ weight × points ÷ Σ weight × coefficient, over (coefficient, points, weight)."""
    denominator = sum(w * b for b, _, w in pairs)
    numerator = sum(w * p for _, p, w in pairs)
    return numerator / denominator if denominator > 0 and numerator > 0 else 0.0


def _rescaled(rule_specs, judged, features, beta, rows) -> dict[str, float]:
    """The judged rules' suggested points, one scale per family (fit, behavior), so that the
    MQLs' fit and interest keep their size against the tier cut-offs. A rule keeps its sign:
    a reward whose evidence says nothing goes to 0, not to a penalty, and the other way round.
    """
    weight = Counter()  # how much of each rule the MQLs carried
    for row in rows:
        for i, x in row.items():
            weight[i] += x
    points = {}
    for family in ("fit", "behavior"):
        names = [n for n in judged if rule_specs[n][0] == family]
        pairs = [
            (beta[features[("rule", n)]], rule_specs[n][1].points, weight[features[("rule", n)]])
            for n in names
        ]
        scale = _scale(pairs)
        raw = {n: scale * b for n, (b, _, _) in zip(names, pairs, strict=True)}
        raw = {
            n: max(v, 0.0) if rule_specs[n][1].points >= 0 else min(v, 0.0) for n, v in raw.items()
        }
        # Clamping changed the total: scale once more so the family keeps its size.
        before = sum(w * p for _, p, w in pairs)
        after = sum(w * raw[n] for n, (_, _, w) in zip(names, pairs, strict=True))
        again = before / after if after > 0 and before > 0 else 1.0
        points |= {n: float(round(v * again)) for n, v in raw.items()}
    return points


def _too_few(n: int) -> str:
    if n == 0:
        return "no dispositioned MQL had it: too few to judge"
    return f"only {n} dispositioned MQL{'s' if n > 1 else ''} had it: too few to judge"


def _reason(current: float, suggested: float, interval: tuple[float, float, float] | None) -> str:
    # The regression holds the other rules fixed, so a rule's raw lift can point the other way;
    # when it clearly does, say so, or the two columns read as a contradiction.
    _, low, high = interval or (None, None, None)
    if suggested == current:
        return "the points match what sales accepts"
    if current > 0 and suggested <= 0:
        return "adds nothing once the other rules are counted: its points are noise"
    if suggested > current:
        if high is not None and high < 1:
            return (
                "its MQLs are accepted less often, but because of their other rules; "
                "on its own it is worth more than its points"
            )
        return "worth more than its points, the other rules held fixed"
    if low is not None and low > 1:
        return (
            "its MQLs are accepted more often, but because of their other rules; "
            "on its own it is worth less than its points"
        )
    return "worth less than its points, the other rules held fixed"


def suggested_spec(suggestions: Suggestions) -> engine.RuleSetSpec:
    """The active rule set with the suggested points, for a draft."""
    spec = suggestions.ruleset.to_spec()
    points = {s.rule: s.suggested for s in suggestions.rules}
    return replace(
        spec,
        name=f"{spec.name} (suggested weights)",
        fit_rules=tuple(replace(r, points=points.get(r.name, r.points)) for r in spec.fit_rules),
        behavior_rules=tuple(
            replace(r, points=points.get(r.name, r.points)) for r in spec.behavior_rules
        ),
    )
