"""The scoring engine's semantics (design §3) as one set-based SQL statement.

Stored scores always come from here, for one lead or a million: the query computes fit,
disqualification and interest for a selection of leads, in the database, without loading a
single activity into Python. `scoring.engine` is the same semantics in Python, used to *explain*
a score; a property test keeps the two in agreement.

Only a few fragments differ between PostgreSQL and SQLite (regular expressions, JSON, time
arithmetic); `Dialect` holds them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from leads.lookups import array_text

from .engine import BehaviorRuleSpec, FitRuleSpec, RuleSetSpec
from .rulesets import FIT_FIELDS

# Bump when what fit computes changes in a way the fit SQL's text does not show (how a stored
# field such as email_is_free is derived, say): every stored fit is then computed again.
FIT_SEMANTICS = 1

# Where each fit field lives: l = the lead, a = its account (LEFT JOINed, so NULL without one).
_COLUMNS = {
    "title": "l.title",
    "source": "l.source",
    "email_domain": "l.email_domain",
    "email_is_free": "l.email_is_free",
    "industry": "a.industry",
    "country": "a.country",
    "funding_stage": "a.funding_stage",
    "employee_count": "a.employee_count",
    "annual_revenue": "a.annual_revenue",
    "technologies": "a.technologies",
}


class Dialect:
    """The SQL that differs by database. Every method returns (sql, params)."""

    vendor = ""
    fence = ""
    # The version of a lead's score row (ls) the scoring statement read, to tell whether another
    # transaction wrote it before the statement stored the score (`keep_digest_if_unwritten`):
    # the fit triggers write the score row whenever the lead's or its account's fit fields change.
    row_version = "NULL"

    def __init__(self, connection):
        self.connection = connection

    def timestamp(self, value: datetime) -> tuple[str, list]:
        return "%s", [self.connection.ops.adapt_datetimefield_value(value)]

    def age_days(self, column: str, as_of: datetime) -> tuple[str, list]:
        raise NotImplementedError

    def regex(self, column: str, pattern: str) -> tuple[str, list]:
        raise NotImplementedError

    def attribute_text(self, key: str) -> str:
        raise NotImplementedError

    def attribute_type(self, key: str) -> str:
        """A JSON attribute's type, spelled as PostgreSQL's jsonb_typeof spells it."""
        raise NotImplementedError

    def attribute_number(self, key: str) -> str:
        return (
            f"(CASE WHEN {self.attribute_type(key)} = 'number' "
            f"THEN {self._cast_float(self.attribute_text(key))} END)"
        )

    def _cast_float(self, sql: str) -> str:
        return f"CAST({sql} AS DOUBLE PRECISION)"

    def list_includes_any(self, column: str, lowered: list[str]) -> tuple[str, list]:
        raise NotImplementedError

    def list_is_empty(self, column: str) -> str:
        raise NotImplementedError

    def lowered(self, column: str) -> str:
        return f"LOWER({column})"

    def one_of(self, column: str, values: tuple) -> tuple[str, list]:
        return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)

    def keep_digest_if_unwritten(self) -> str:
        """The fit rules' digest to store on score row ls scored as s (one parameter: the digest).

        SQLite has one writer at a time, so nothing writes a lead while it is scored."""
        return "%s"


class PostgresDialect(Dialect):
    vendor = "postgresql"
    # Keeps a subquery from being merged into the query around it. Without it the planner
    # probes the activities once per behavior rule (by kind) instead of reading them once.
    fence = "OFFSET 0"
    row_version = "ls.xmin"

    def keep_digest_if_unwritten(self):
        # A score row written by another transaction after this statement's snapshot (by the
        # fit triggers: the lead's title edited, say) is updated from its newest version, but
        # with a fit computed from the snapshot: no digest then, so the next scoring computes
        # its fit again.
        return f"CASE WHEN {self.row_version} = s.seen_version THEN CAST(%s AS BIGINT) END"

    def age_days(self, column, as_of):
        # Both instants as seconds since the epoch: subtracting the timestamps made an interval
        # for every activity, which cost more than the rest of its weight.
        return f"((%s - date_part('epoch', {column})) / 86400.0)", [as_of.timestamp()]

    def regex(self, column, pattern):
        return f"{column} ~* %s", [pattern]

    def attribute_text(self, key):
        return f"(l.attributes ->> '{key}')"

    def attribute_type(self, key):
        return f"jsonb_typeof(l.attributes -> '{key}')"

    def list_includes_any(self, column, lowered):
        marks = ", ".join(["%s"] * len(lowered))
        return (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof({column}) "
            f"= 'array' THEN {column} ELSE '[]'::jsonb END) AS item(v) "
            f"WHERE lower(item.v) IN ({marks}))",
            list(lowered),
        )

    def list_is_empty(self, column):
        return f"(jsonb_typeof({column}) IS DISTINCT FROM 'array' OR {column} = '[]'::jsonb)"

    def attribute_list(self, key):
        return f"(l.attributes -> '{key}')"

    def lowered(self, column):
        # The database's locale lowercases through wide characters, which cost about a tenth of
        # scoring a range; an ASCII value (every URL, nearly) is lowercased byte by byte instead,
        # which gives the same text.
        return (
            f"(CASE WHEN octet_length({column}) = length({column}) "
            f'THEN LOWER({column} COLLATE "C") ELSE LOWER({column}) END)'
        )

    def one_of(self, column, values):
        # One array parameter instead of a placeholder per id: a batch's 800 leads appear in
        # the scoring statement twice, and 1,600 placeholders cost milliseconds to bind and
        # plan.
        return f"{column} = ANY(CAST(%s AS BIGINT[]))", [array_text(list(values))]


class SqliteDialect(Dialect):
    vendor = "sqlite"

    def age_days(self, column, as_of):
        ts, params = self.timestamp(as_of)
        return f"(julianday({ts}) - julianday({column}))", params

    def regex(self, column, pattern):
        # Django registers REGEXP on SQLite with Python's re.search.
        return f"{column} REGEXP %s", ["(?i)" + pattern]

    def attribute_text(self, key):
        # json_extract turns JSON true/false into 1/0; spell them as PostgreSQL's ->> does.
        path = f"'$.\"{key}\"'"
        return (
            f"(CASE json_type(l.attributes, {path}) WHEN 'true' THEN 'true' "
            f"WHEN 'false' THEN 'false' "
            f"ELSE CAST(json_extract(l.attributes, {path}) AS TEXT) END)"
        )

    def attribute_type(self, key):
        return (
            f"(CASE json_type(l.attributes, '$.\"{key}\"') WHEN 'integer' THEN 'number' "
            f"WHEN 'real' THEN 'number' WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' "
            f"WHEN 'false' THEN 'boolean' ELSE json_type(l.attributes, '$.\"{key}\"') END)"
        )

    def _cast_float(self, sql):
        return f"CAST({sql} AS REAL)"

    def list_includes_any(self, column, lowered):
        marks = ", ".join(["%s"] * len(lowered))
        return (
            f"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type({column}) = 'array' "
            f"THEN {column} ELSE '[]' END) WHERE lower(value) IN ({marks}))",
            list(lowered),
        )

    def list_is_empty(self, column):
        return (
            f"({column} IS NULL OR json_type({column}) IS NOT 'array' "
            f"OR json_array_length({column}) = 0)"
        )

    def attribute_list(self, key):
        return f"json_extract(l.attributes, '$.\"{key}\"')"


def dialect_for(connection) -> Dialect:
    if connection.vendor == "postgresql":
        return PostgresDialect(connection)
    if connection.vendor == "sqlite":
        return SqliteDialect(connection)
    raise NotImplementedError(
        f"Scoring in SQL supports PostgreSQL and SQLite, not {connection.vendor}."
    )


def fit_rules_digest(spec: RuleSetSpec, d: Dialect) -> int:
    """A positive 63-bit fingerprint of what fit computes: the fit SQL for these rules.

    Scoring stores it on each lead's score row with the fit it computed
    (`LeadScore.fit_rules_digest`) and then keeps that fit, without reading the lead or its
    account or matching titles again, while it still matches: a lead's fit depends only on the
    fit rules and the lead's and account's own fields, and database triggers clear the stored
    digest when any of those fields change (`leads.fit_triggers`). Taken from the SQL rather
    than the rules, so a release that changes how fit is computed changes it too; a rule's name
    and the tiers' cut-offs take no part (the tiers are computed from the fit on every scoring).
    """
    fit, disqualified = fit_sql(spec, d)
    text = json.dumps([FIT_SEMANTICS, fit.text, fit.params, disqualified.text, disqualified.params])
    number = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return number >> 1 or 1


@dataclass
class LeadSelection:
    """Which leads to score: an id range [start, stop), explicit ids, or both unset for all."""

    start: int | None = None
    stop: int | None = None
    ids: tuple[int, ...] | None = None
    only_with_activity: bool = False  # the decay pass: leads without activity cannot change

    def where(self, column: str, d: Dialect) -> tuple[str, list]:
        clauses, params = [], []
        if self.start is not None:
            clauses.append(f"{column} >= %s")
            params.append(self.start)
        if self.stop is not None:
            clauses.append(f"{column} < %s")
            params.append(self.stop)
        if self.ids is not None:
            if not self.ids:
                clauses.append("1 = 0")
            else:
                sql, ids = d.one_of(column, self.ids)
                clauses.append(sql)
                params.extend(ids)
        return (" AND ".join(clauses) or "1 = 1"), params


def _word_pattern(phrases) -> str:
    # (^|\W) … (\W|$) means the same in PostgreSQL's and Python's regular expressions, and
    # re.escape only escapes characters both treat as literals after a backslash.
    alternatives = "|".join(re.escape(p.strip()) for p in phrases if p.strip())
    return rf"(^|\W)({alternatives})(\W|$)"


@dataclass
class Sql:
    """A fragment of SQL and its parameters, in placeholder order."""

    text: str
    params: list = field(default_factory=list)


class TextMatches:
    """The regular expressions of `contains_any` rules on the lead's own text fields, each
    evaluated once per distinct value of its field among the scored leads rather than once per
    lead, and joined back by value. A title like "Marketing Manager" is shared by many leads,
    and a case-insensitive regular expression costs more than the join (about 1.3 µs against
    0.4 µs a lead on PostgreSQL)."""

    def __init__(self, d: Dialect) -> None:
        self.d = d
        self.columns: dict[str, list[Sql]] = {}  # field -> its conditions, in column order

    def condition(self, field_name: str, pattern: str) -> Sql:
        conditions = self.columns.setdefault(field_name, [])
        match = Sql(*self.d.regex("d.v", pattern))
        if match not in conditions:  # a disqualifying rule asks twice: as points, as a veto
            conditions.append(match)
        return Sql(f"m_{field_name}.c{conditions.index(match)}")

    def joins(self, sel_sql: str, sel_params: list) -> Sql:
        """LEFT JOINs (on l) of each field's distinct values among the selected leads (`sel_sql`
        on ls, the score rows, and l, their leads). Fenced on PostgreSQL, or the planner moves
        the expressions back to every lead."""
        joins, params = [], []
        for field_name, conditions in self.columns.items():
            column = _COLUMNS[field_name]
            matches = ", ".join(f"{c.text} AS c{n}" for n, c in enumerate(conditions))
            joins.append(
                f"LEFT JOIN (SELECT d.v, {matches} FROM (SELECT DISTINCT {column} AS v "
                f"FROM leads_leadscore ls JOIN leads_lead l ON l.id = ls.lead_id "
                f"WHERE {sel_sql}) d {self.d.fence}) m_{field_name} "
                f"ON m_{field_name}.v = {column}"
            )
            params += [p for c in conditions for p in c.params] + sel_params
        return Sql(" ".join(joins), params)


def fit_condition(rule: FitRuleSpec, d: Dialect, text_matches: TextMatches | None = None) -> Sql:
    """SQL that is true when the rule matches the lead (NULL or false otherwise)."""
    op = rule.operator
    if rule.field.startswith("attributes."):
        return _attribute_condition(rule, rule.field.split(".", 1)[1], d)
    column = _COLUMNS[rule.field]
    kind = FIT_FIELDS[rule.field]
    if op == "contains_any" and text_matches is not None and column.startswith("l."):
        return text_matches.condition(rule.field, _word_pattern(rule.values))
    if op == "is_blank":
        if kind == "text":
            return Sql(f"COALESCE(TRIM({column}), '') = ''")
        if kind == "number":
            return Sql(f"{column} IS NULL")
        if kind == "list":
            return Sql(d.list_is_empty(column))
        return Sql("1 = 0")  # a boolean we derive is never blank
    if op == "contains_any":
        return Sql(*d.regex(column, _word_pattern(rule.values)))
    if op == "equals_any":
        if kind == "number":
            numbers = [float(v) for v in rule.values]
            return Sql(f"{column} IN ({', '.join(['%s'] * len(numbers))})", numbers)
        lowered = [v.strip().lower() for v in rule.values]
        return Sql(f"LOWER(TRIM({column})) IN ({', '.join(['%s'] * len(lowered))})", lowered)
    if op == "between":
        return _between(column, rule)
    if op == "includes_any":
        return Sql(*d.list_includes_any(column, [v.strip().lower() for v in rule.values]))
    if op == "is_true":
        return Sql(f"{column} = %s", [True])
    if op == "is_false":
        return Sql(f"{column} = %s", [False])
    raise ValueError(f"unknown operator {op!r}")


def _between(column: str, rule: FitRuleSpec) -> Sql:
    clauses, params = [f"{column} IS NOT NULL"], []
    if rule.min is not None:
        clauses.append(f"{column} >= %s")
        params.append(rule.min)
    if rule.max is not None:
        clauses.append(f"{column} <= %s")
        params.append(rule.max)
    return Sql("(" + " AND ".join(clauses) + ")", params)


def _attribute_condition(rule: FitRuleSpec, key: str, d: Dialect) -> Sql:
    op = rule.operator
    text, kind = d.attribute_text(key), d.attribute_type(key)
    if op == "is_blank":
        return Sql(
            f"({kind} IS NULL OR {kind} = 'null' OR ({kind} = 'string' AND TRIM({text}) = '') "
            f"OR ({kind} = 'array' AND {d.list_is_empty(d.attribute_list(key))}))"
        )
    if op == "contains_any":
        sql, params = d.regex(text, _word_pattern(rule.values))
        return Sql(f"({kind} IN ('string', 'number', 'boolean') AND {sql})", params)
    if op == "equals_any":
        lowered = [v.strip().lower() for v in rule.values]
        marks = ", ".join(["%s"] * len(lowered))
        return Sql(
            f"({kind} IN ('string', 'number', 'boolean') AND LOWER(TRIM({text})) IN ({marks}))",
            lowered,
        )
    if op == "between":
        return _between(d.attribute_number(key), rule)
    if op == "includes_any":
        sql, params = d.list_includes_any(
            d.attribute_list(key), [v.strip().lower() for v in rule.values]
        )
        return Sql(f"({kind} = 'array' AND {sql})", params)
    if op in ("is_true", "is_false"):
        word = "true" if op == "is_true" else "false"
        return Sql(f"({kind} IN ('boolean', 'string') AND LOWER(TRIM({text})) = '{word}')")
    raise ValueError(f"unknown operator {op!r}")


def _grouped(rules):
    """Rules in evaluation order, as (group key, rules of that group ordered by first-match)."""
    groups: dict[str, list] = {}
    for position, rule in enumerate(rules):
        key = f"g:{rule.group}" if rule.group else f"r:{position}"
        groups.setdefault(key, []).append((rule.order, position, rule))
    return [[r for _, _, r in sorted(members, key=lambda m: m[:2])] for members in groups.values()]


def fit_sql(
    ruleset: RuleSetSpec, d: Dialect, text_matches: TextMatches | None = None
) -> tuple[Sql, Sql]:
    """(fit score, disqualified) as SQL expressions over l and a (and `text_matches`' joins)."""
    terms, params = [], []
    for members in _grouped(ruleset.fit_rules):
        whens = []
        for rule in members:
            cond = fit_condition(rule, d, text_matches)
            whens.append(f"WHEN {cond.text} THEN %s")
            params.extend([*cond.params, float(rule.points)])
        terms.append(f"(CASE {' '.join(whens)} ELSE 0 END)")
    fit = Sql(" + ".join(terms) or "0", params)
    disq_conds = [fit_condition(r, d, text_matches) for r in ruleset.fit_rules if r.disqualify]
    if disq_conds:
        disq = Sql(
            "(CASE WHEN " + " OR ".join(f"({c.text})" for c in disq_conds) + " THEN 1 ELSE 0 END)",
            [p for c in disq_conds for p in c.params],
        )
    else:
        disq = Sql("0")
    return fit, disq


def _like_escape(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _rule_condition(rule: BehaviorRuleSpec, as_of: datetime, d: Dialect) -> Sql:
    """What an activity of the rule's kind must also meet: the window and the URL filter."""
    where, params = [], []
    if rule.window_days is not None:
        since, since_params = d.timestamp(as_of - timedelta(days=rule.window_days))
        where.append(f"act.occurred_at > {since}")
        params.extend(since_params)
    substrings = [u for u in rule.url_contains if u]
    if substrings:
        url = _url_contains_any(substrings)
        where.append(url.text)
        params.extend(url.params)
    return Sql(" AND ".join(where) or "1 = 1", params)


def _url_contains_any(substrings: list[str]) -> Sql:
    """True when the activity's lowercased URL contains one of these (lowercased) texts."""
    patterns = list(dict.fromkeys(f"%{_like_escape(u)}%" for u in substrings))
    likes = " OR ".join(["act.url_lower LIKE %s ESCAPE '\\'"] * len(patterns))
    return Sql(f"({likes})", patterns)


def _matched_sql(
    rules: list[BehaviorRuleSpec],
    ruleset: RuleSetSpec,
    as_of: datetime,
    selection: LeadSelection,
    d: Dialect,
) -> Sql:
    """Every (activity, rule it counts for) pair, with the activity's decay weight.

    One pass over the activities: each is joined to the rules of its kind (a small derived
    table), then kept when that rule's window and URL filter pass. Reading the activities once
    per rule instead cost one scan (or one index probe per lead) for every rule.

    The activities are read in a subquery of their own (fenced on PostgreSQL) that gives each
    its kind's number and, for the kinds some rule filters by URL, its lowercased URL, once:
    the rules' conditions and `_could_match` then compare those. Lowercased where it was
    compared, a page view's URL was lowercased once to pass over the pages no rule looks for,
    then once for each page-view rule it was paired with, which cost about a twelfth of
    scoring a range. An activity of a kind no rule counts gets no number and joins nothing.
    (Joined on the kind column itself, PostgreSQL's planner probes the (kind, occurred_at)
    index once per rule instead, which reads most of the table as many times as there are
    rules.)
    """
    kinds = list(dict.fromkeys(r.kind for r in rules))
    kind_no = "CASE a.kind " + " ".join("WHEN %s THEN %s" for _ in kinds) + " END"
    kind_params = [p for n, kind in enumerate(kinds) for p in (kind, n)]
    url_kinds = list(dict.fromkeys(r.kind for r in rules if any(r.url_contains)))
    if url_kinds:
        url_lower = (
            f"CASE WHEN a.kind IN ({', '.join(['%s'] * len(url_kinds))}) "
            f"THEN {d.lowered('a.url')} END"
        )
        url_params = url_kinds
    else:
        url_lower, url_params = "NULL", []
    ts, ts_params = d.timestamp(as_of)
    sel_sql, sel_params = selection.where("a.lead_id", d)
    activities = (
        f"SELECT a.lead_id, a.occurred_at, {kind_no} AS kind_no, {url_lower} AS url_lower "
        f"FROM leads_activity a WHERE a.occurred_at <= {ts} AND {sel_sql} {d.fence}"
    )
    activity_params = [*kind_params, *url_params, *ts_params, *sel_params]
    # VALUES, not a UNION ALL of SELECTs: PostgreSQL then hashes these few rows and streams the
    # activities past them, instead of hashing the activities.
    rule_rows = (
        "SELECT column1 AS rule_no, column2 AS kind_no, column3 AS decays FROM (VALUES "
        + ", ".join("(%s, %s, %s)" for _ in rules)
        + ") rule_values"
    )
    rule_params = [
        p for n, r in enumerate(rules) for p in (n, kinds.index(r.kind), 1 if r.decays else 0)
    ]
    conditions = [_rule_condition(r, as_of, d) for r in rules]
    condition = (
        "CASE r.rule_no " + " ".join(f"WHEN %s THEN ({c.text})" for c in conditions) + " END"
    )
    condition_params = [p for n, c in enumerate(conditions) for p in (n, *c.params)]
    age, age_params = d.age_days("act.occurred_at", as_of)
    could_match = _could_match(rules, kinds)
    return Sql(
        f"SELECT act.lead_id AS lead_id, r.rule_no AS rule_no, "
        f"CASE WHEN r.decays = 1 THEN POWER(0.5, {age} / %s) ELSE 1.0 END AS w "
        f"FROM ({activities}) act JOIN ({rule_rows}) r ON r.kind_no = act.kind_no "
        f"WHERE {could_match.text} AND {condition}",
        [
            *age_params,
            float(ruleset.half_life_days),
            *activity_params,
            *rule_params,
            *could_match.params,
            *condition_params,
        ],
    )


def _url_substrings(rules: list[BehaviorRuleSpec], kind: str) -> list[str] | None:
    """The URL texts that the rules of this kind look for; None when one of them takes any
    URL, so that no activity of the kind can be passed over."""
    substrings: list[str] = []
    for rule in rules:
        if rule.kind != kind:
            continue
        own = [u for u in rule.url_contains if u]
        if not own:
            return None
        substrings.extend(own)
    return substrings or None


def _could_match(rules: list[BehaviorRuleSpec], kinds: list[str]) -> Sql:
    """True for an activity whose URL passes the URL filter of some rule of its kind.

    Tested once per activity, before the join to the rules: most page views are neither
    pricing nor careers pages, and without it each was paired with every page-view rule and
    had its URL searched once per pair.
    """
    whens, params = [], []
    for n, kind in enumerate(kinds):
        substrings = _url_substrings(rules, kind)
        if substrings:
            url = _url_contains_any(substrings)
            whens.append(f"WHEN {n} THEN {url.text}")
            params += url.params
    if not whens:
        return Sql("1 = 1")
    return Sql(f"(CASE act.kind_no {' '.join(whens)} ELSE 1 = 1 END)", params)


def interest_sql(ruleset: RuleSetSpec, as_of: datetime, selection: LeadSelection, d: Dialect):
    """SELECT lead_id, interest FROM … for the selected leads with any counted activity."""
    rules = list(ruleset.behavior_rules)
    if not rules:
        return None
    matched = _matched_sql(rules, ruleset, as_of, selection, d)

    # One aggregate pass over the numbered activities, per lead: for each rule the figures its
    # contribution needs (the capped sum for `each`, the count and the freshest weight for
    # `once`), NULL when the rule did not match. Then per group the first rule in order that
    # matched: COALESCE over the group's contributions. (Aggregating per rule first, then per
    # lead, cost a second pass in the one process that runs the window.)
    aggregates, contribution = [], {}
    for n, r in enumerate(rules):
        if r.mode == "each":
            cap = f" AND rn <= {int(r.max_count)}" if r.max_count else ""
            aggregates.append(f"SUM(w) FILTER (WHERE rule_no = {n}{cap}) AS s{n}")
            contribution[n] = (f"%s * s{n}", [float(r.points)])
        else:
            # Decay falls with age, so the most recent activity has the largest weight.
            aggregates.append(f"COUNT(*) FILTER (WHERE rule_no = {n}) AS k{n}")
            aggregates.append(f"MAX(w) FILTER (WHERE rule_no = {n}) AS m{n}")
            contribution[n] = (
                f"CASE WHEN k{n} >= %s THEN %s * m{n} END",
                [int(r.min_count), float(r.points)],
            )
    index = {id(r): n for n, r in enumerate(rules)}
    terms, params = [], []
    for members in _grouped(rules):
        parts = [contribution[index[id(r)]] for r in members]
        terms.append(f"COALESCE({', '.join(sql for sql, _ in parts)}, 0)")
        params.extend(p for _, member_params in parts for p in member_params)
    # A capped rule counts a lead's most recent activities, numbered here by weight: decay falls
    # with age, and a rule that does not decay weighs every activity 1, so the capped sum is the
    # same, and the sort carries no timestamps.
    text = f"""
        SELECT lead_id, {" + ".join(terms)} AS interest FROM (
            SELECT lead_id, {", ".join(aggregates)}
            FROM (
                SELECT lead_id, rule_no, w, ROW_NUMBER() OVER (
                    PARTITION BY lead_id, rule_no ORDER BY w DESC) AS rn
                FROM ({matched.text}) matched
            ) numbered
            GROUP BY lead_id
        ) per_lead
    """
    # Parameters follow the order of their placeholders in the text.
    return Sql(text, params + matched.params)


def score_select(
    ruleset: RuleSetSpec,
    as_of: datetime,
    selection: LeadSelection,
    d: Dialect,
) -> Sql:
    """SELECT lead_id, fit, interest, total, fit_tier, interest_tier, disqualified, and the
    lead's stored cell, disqualification and whether it was ever scored: what a ScoreChange
    records, read here with the score row rather than by joining the score rows again. (The
    stage, which a ScoreChange records too, is looked up for the leads that moved only.)

    A lead whose stored fit was computed with these fit rules, from fields unchanged since,
    keeps it (`fit_rules_digest`), read from its score row (leads_leadscore) alone; the others'
    fit is computed from the lead and its account."""
    digest = fit_rules_digest(ruleset, d)
    # A batch's few hundred leads are matched one by one: the distinct values would cost a
    # second read of the same leads.
    text_matches = TextMatches(d) if selection.ids is None else None
    fit, disq = fit_sql(ruleset, d, text_matches)
    interest = interest_sql(ruleset, as_of, selection, d)
    sel_sql, sel_params = selection.where("ls.lead_id", d)
    if selection.only_with_activity:
        sel_sql += " AND EXISTS (SELECT 1 FROM leads_activity x WHERE x.lead_id = ls.lead_id)"
    stored = (
        "ls.cell AS stored_cell, ls.disqualified AS stored_disqualified, "
        f"ls.scored_at IS NULL AS never_scored, {d.row_version} AS seen_version"
    )
    kept = f"""
        SELECT ls.lead_id AS lead_id, ls.fit_score AS fit,
               CASE WHEN ls.disqualified THEN 1 ELSE 0 END AS disqualified, {stored}
        FROM leads_leadscore ls
        WHERE {sel_sql} AND COALESCE(ls.fit_rules_digest, 0) = %s"""
    kept_params = [*sel_params, digest]
    # A range limits the leads' own ids as it does the score rows': PostgreSQL does not carry a
    # range condition across a join, so without it a chunk's plan could read every lead. A list
    # of ids is not repeated: the planner multiplied the two lists' selectivities, expected one
    # lead of a batch's hundreds, and joined their interest in a nested loop that compared every
    # lead with every other (8 ms of the statement's 19 ms for an API batch of 1,000).
    lead_sql, lead_params = replace(selection, ids=None).where("l.id", d)
    # Compared through COALESCE, which has no statistics, so the planner assumes most leads
    # need their fit computed. Estimated from the column, a chunk whose digests were all cleared
    # since the last ANALYZE (an import, edits to many accounts) looked like one with none to
    # compute, and its plan re-read the leads for their titles once per lead: minutes, not
    # seconds.
    sel_sql += f" AND {lead_sql} AND COALESCE(ls.fit_rules_digest, 0) <> %s"
    sel_params = [*sel_params, *lead_params, digest]
    matches = text_matches.joins(sel_sql, sel_params) if text_matches else Sql("")
    join, join_params = "", []
    if interest is not None:
        join, join_params = (
            f"LEFT JOIN ({interest.text}) i ON i.lead_id = f.lead_id",
            interest.params,
        )
    interest_expr = "COALESCE(i.interest, 0)" if interest is not None else "0"
    # Fit is kept or computed in a subquery of its own (fenced on PostgreSQL), where the leads
    # are read.
    base = f"""
        SELECT f.lead_id, f.fit, {interest_expr} AS interest, f.disqualified, f.stored_cell,
               f.stored_disqualified, f.never_scored, f.seen_version
        FROM ({kept}
            UNION ALL
            SELECT ls.lead_id AS lead_id, {fit.text} AS fit, {disq.text} AS disqualified, {stored}
            FROM leads_leadscore ls
            JOIN leads_lead l ON l.id = ls.lead_id
            LEFT JOIN leads_account a ON a.id = l.account_id
            {matches.text}
            WHERE {sel_sql} {d.fence}
        ) f
        {join}
    """
    base_params = [
        *kept_params,
        *fit.params,
        *disq.params,
        *matches.params,
        *sel_params,
        *join_params,
    ]
    text = f"""
        SELECT lead_id, fit, interest, fit + interest AS total,
               CASE WHEN fit >= %s THEN 'A' WHEN fit >= %s THEN 'B' ELSE 'C' END AS fit_tier,
               CASE WHEN interest >= %s THEN 1 WHEN interest >= %s THEN 2 ELSE 3 END
                   AS interest_tier,
               disqualified, stored_cell, stored_disqualified, never_scored, seen_version
        FROM ({base}) scored
    """
    params = [
        float(ruleset.fit_high),
        float(ruleset.fit_medium),
        float(ruleset.interest_high),
        float(ruleset.interest_medium),
        *base_params,
    ]
    return Sql(text, params)
