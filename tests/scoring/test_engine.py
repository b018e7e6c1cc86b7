"""The scoring engine against design.md §3: the worked example, every operator at its edges,
modes, windows, decay, groups, disqualification, tiers and the matrix."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from scoring.engine import (
    DEFAULT_MATRIX,
    ActivityFact,
    BehaviorRuleSpec,
    FitRuleSpec,
    RuleSetSpec,
    decay,
    fit_tier,
    interest_tier,
    rule_matches_value,
    score_lead,
)
from scoring.rulesets import parse_ruleset

T = datetime(2026, 6, 1, tzinfo=UTC)
SAMPLE_PATH = Path(__file__).with_name("sample_ruleset.json")


def days_ago(days: float) -> datetime:
    return T - timedelta(days=days)


def act(
    kind: str, days: float, url: str = "", id: int | None = None, at: datetime | None = None
) -> ActivityFact:
    return ActivityFact(id=id, kind=kind, occurred_at=at or days_ago(days), url=url)


def fit_rule(field: str = "title", operator: str = "contains_any", **kwargs) -> FitRuleSpec:
    kwargs.setdefault("name", f"{field} {operator}")
    kwargs.setdefault("points", 10)
    if "values" in kwargs:
        kwargs["values"] = tuple(kwargs["values"])
    return FitRuleSpec(field=field, operator=operator, **kwargs)


def behavior_rule(kind: str = "page_view", mode: str = "each", **kwargs) -> BehaviorRuleSpec:
    kwargs.setdefault("name", f"{kind} {mode}")
    kwargs.setdefault("points", 10)
    if "url_contains" in kwargs:
        kwargs["url_contains"] = tuple(kwargs["url_contains"])
    return BehaviorRuleSpec(kind=kind, mode=mode, **kwargs)


def ruleset(*rules, **settings) -> RuleSetSpec:
    fits = tuple(r for r in rules if isinstance(r, FitRuleSpec))
    behaviors = tuple(r for r in rules if isinstance(r, BehaviorRuleSpec))
    return RuleSetSpec(name="test", fit_rules=fits, behavior_rules=behaviors, **settings)


def matches(field: str, operator: str, value: object, **kwargs) -> bool:
    return rule_matches_value(fit_rule(field, operator, **kwargs), value)


@pytest.fixture(scope="module")
def sample() -> RuleSetSpec:
    return parse_ruleset(json.loads(SAMPLE_PATH.read_text(encoding="utf-8")))


@pytest.fixture
def dana() -> dict:
    return {
        "title": "VP Marketing",
        "employee_count": 300,
        "industry": "Software",
        "country": "US",
        "email_domain": "acme-logistics.com",
        "email_is_free": False,
        "technologies": ["Salesforce"],
        "attributes": {},
    }


@pytest.fixture
def dana_activities() -> list[ActivityFact]:
    return [
        act("demo_request", 15, id=1),
        act("page_view", 1, "https://leadgauge.example/pricing", id=2),
        act("page_view", 9, "https://leadgauge.example/pricing?plan=pro", id=3),
        act("page_view", 22, "https://leadgauge.example/pricing", id=4),
        *(act("email_open", d, id=10 + i) for i, d in enumerate([2, 3, 10, 40, 41])),
    ]


# The design's worked example ----------------------------------------------------------------


def test_worked_example_scores_dana_a1_mql_priority(sample, dana, dana_activities):
    score = score_lead(dana, dana_activities, sample, T)

    assert score.fit == pytest.approx(55, abs=0.01)
    assert score.interest == pytest.approx(55.39, abs=0.01)
    assert score.total == pytest.approx(110.39, abs=0.01)
    assert (score.fit_tier, score.interest_tier, score.cell) == ("A", 1, "A1")
    assert score.action == "mql_priority"
    assert score.disqualified is False
    assert score.as_of == T


def test_worked_example_keeps_full_precision(sample, dana, dana_activities):
    score = score_lead(dana, dana_activities, sample, T)

    opens = sum(0.5 ** (d / 30) for d in (2, 3, 10))
    expected = 40 * 0.5 ** (15 / 30) + 25 * 0.5 ** (1 / 30) + opens
    assert score.interest == pytest.approx(expected, rel=1e-12)
    assert score.total == score.fit + score.interest


def test_worked_example_explains_every_counted_rule_fit_first(sample, dana, dana_activities):
    score = score_lead(dana, dana_activities, sample, T)

    assert [(c.rule, c.kind) for c in score.contributions] == [
        ("Senior title", "fit"),
        ("50-500 employees", "fit"),
        ("Target industry", "fit"),
        ("North America", "fit"),
        ("Demo request", "behavior"),
        ("Pricing 3+ in 30 days", "behavior"),  # the group's first match; "Pricing visit" not
        ("E-mail open", "behavior"),
    ]
    by_rule = {c.rule: c for c in score.contributions}
    assert by_rule["Demo request"].value == pytest.approx(28.28, abs=0.01)
    assert by_rule["Pricing 3+ in 30 days"].value == pytest.approx(24.43, abs=0.01)
    opens = by_rule["E-mail open"]
    assert opens.value == pytest.approx(2.68, abs=0.01)
    assert [a.activity_id for a in opens.activities] == [10, 11, 12]  # most recent 3 of 5
    assert [a.age_days for a in opens.activities] == [2, 3, 10]
    assert all(a.points == 1 for a in opens.activities)


def test_contribution_values_add_up_to_the_scores(sample, dana, dana_activities):
    score = score_lead(dana, dana_activities, sample, T)

    fit = sum(c.value for c in score.contributions if c.kind == "fit")
    interest = sum(c.value for c in score.contributions if c.kind == "behavior")
    assert fit == pytest.approx(score.fit)
    assert interest == pytest.approx(score.interest)
    for c in score.contributions:
        if c.kind == "behavior":
            assert sum(a.value for a in c.activities) == pytest.approx(c.value)


def test_activity_order_does_not_change_the_score(sample, dana, dana_activities):
    expected = score_lead(dana, dana_activities, sample, T)
    shuffled = list(dana_activities)
    random.Random(7).shuffle(shuffled)

    assert score_lead(dana, shuffled, sample, T) == expected
    assert score_lead(dana, iter(shuffled), sample, T) == expected  # any iterable


# contains_any ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "phrases", "expected"),
    [
        ("VP Marketing", ["vp"], True),
        ("vp marketing", ["VP"], True),  # case-insensitive both ways
        ("Director of Sales", ["cto"], False),  # cto inside Director: not a word
        ("CTO", ["cto"], True),
        ("Acting CTO.", ["cto"], True),  # punctuation is a boundary
        ("Senior Vice President, Sales", ["vice president"], True),
        ("Vice-President", ["vice president"], False),  # the phrase as written
        ("Internal Communications Manager", ["intern"], False),
        ("Marketing Intern", ["intern"], True),
        ("VPs of everything", ["vp"], False),
        ("Co-founder", ["founder"], True),
        ("director_of_sales", ["director"], False),  # _ is a word character
        ("Chief Revenue Officer (CRO)", ["cro"], True),
        ("Directeur général", ["général"], True),
        ("C++ Developer", ["c++"], True),  # regex characters are literal
        ("Cxx Developer", ["c++"], False),
        # A classic catastrophic-backtracking pattern is only text to find, never run.
        ("a" * 50_000 + "!", ["(a+)+$"], False),
        ("Owner of (a+)+$ Inc", ["(a+)+$"], True),
        ("Head of Growth", ["nobody", "head of"], True),  # any listed phrase
    ],
)
def test_contains_any_matches_whole_words_ignoring_case(title, phrases, expected):
    assert matches("title", "contains_any", title, values=phrases) is expected


def test_contains_any_looks_at_attribute_numbers_and_text_as_stored():
    assert matches("attributes.plan", "contains_any", "Enterprise Plus", values=["plus"])
    assert matches("attributes.year", "contains_any", 2024, values=["2024"])
    assert not matches("attributes.tags", "contains_any", ["plus"], values=["plus"])


# equals_any ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "listed", "expected"),
    [
        ("Software", ["software"], True),
        ("SOFTWARE", ["software"], True),
        ("  Software \n", ["software"], True),  # surrounding space ignored in the value
        ("software", ["  Software  "], True),  # … and in the listed values
        ("Software Services", ["software"], False),
        ("Soft", ["software"], False),
        ("Fintech", ["software", "logistics", "fintech"], True),
    ],
)
def test_equals_any_ignores_case_and_surrounding_space(value, listed, expected):
    assert matches("industry", "equals_any", value, values=listed) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(300, True), (300.0, True), (Decimal("300.00"), True), ("300", True), (301, False)],
)
def test_equals_any_on_a_number_field_compares_numbers(value, expected):
    assert matches("employee_count", "equals_any", value, values=["300"]) is expected


def test_equals_any_on_attributes_compares_the_stored_value_as_text():
    assert matches("attributes.plan", "equals_any", "Pro", values=["pro"])
    assert matches("attributes.seats", "equals_any", 5, values=["5"])
    assert matches("attributes.beta", "equals_any", True, values=["true"])
    assert not matches("attributes.plan", "equals_any", ["pro"], values=["pro"])


# between ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (49, False),
        (49.999, False),
        (50, True),  # min inclusive
        (300, True),
        (500, True),  # max inclusive
        (500.001, False),
        (501, False),
        (Decimal("50"), True),
        ("300", True),  # a numeric string from an import
        (" 300 ", True),
        ("three hundred", False),
        (True, False),  # a bool is not a number
    ],
)
def test_between_includes_both_bounds(count, expected):
    assert matches("employee_count", "between", count, min=50, max=500) is expected


@pytest.mark.parametrize(("count", "expected"), [(-5, True), (0, True), (19, True), (20, False)])
def test_between_with_no_minimum_is_open_below(count, expected):
    assert matches("employee_count", "between", count, min=None, max=19) is expected


@pytest.mark.parametrize(
    ("count", "expected"), [(4999, False), (5000, True), (10**9, True), (1e12, True)]
)
def test_between_with_no_maximum_is_open_above(count, expected):
    assert matches("employee_count", "between", count, min=5000, max=None) is expected


def test_between_on_an_attribute_needs_a_stored_number():
    assert matches("attributes.seats", "between", 10, min=5, max=50)
    assert matches("attributes.seats", "between", 10.5, min=5, max=50)
    assert not matches("attributes.seats", "between", "ten", min=5, max=50)
    assert not matches("attributes.seats", "between", "10", min=5, max=50)  # text, as stored


def test_between_on_annual_revenue_accepts_decimals():
    assert matches("annual_revenue", "between", Decimal("1000000.00"), min=1_000_000, max=None)
    assert not matches("annual_revenue", "between", Decimal("999999.99"), min=1_000_000, max=None)


# includes_any -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("technologies", "listed", "expected"),
    [
        (["Salesforce", "HubSpot"], ["hubspot"], True),
        (["salesforce"], ["SALESFORCE"], True),
        (["Salesforce"], ["hubspot", "marketo"], False),
        (["Salesforce Marketing Cloud"], ["salesforce"], False),  # whole items only
        ("HubSpot", ["hubspot"], False),  # text is not a list
    ],
)
def test_includes_any_checks_list_items_ignoring_case(technologies, listed, expected):
    assert matches("technologies", "includes_any", technologies, values=listed) is expected


# is_true / is_false / is_blank -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "is_true", "is_false"),
    [
        (True, True, False),
        (False, False, True),
        ("true", True, False),
        (" TRUE ", True, False),
        ("False", False, True),
        (1, False, False),  # only real booleans (or their spelling) count
        (0, False, False),
        ("yes", False, False),
        (None, False, False),
    ],
)
def test_is_true_and_is_false_need_a_boolean(value, is_true, is_false):
    assert matches("email_is_free", "is_true", value) is is_true
    assert matches("email_is_free", "is_false", value) is is_false


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        ("", True),
        ("   ", True),
        ([], True),
        ("x", False),
        (0, False),  # zero is a value
        (False, False),  # so is false
        (["a"], False),
    ],
)
def test_is_blank_matches_missing_and_empty_values(value, expected):
    assert matches("title", "is_blank", value) is expected


@pytest.mark.parametrize(
    ("field", "operator", "kwargs"),
    [
        ("title", "contains_any", {"values": ["vp"]}),
        ("industry", "equals_any", {"values": [""]}),
        ("employee_count", "between", {"min": None, "max": 100}),
        ("technologies", "includes_any", {"values": ["x"]}),
        ("email_is_free", "is_true", {}),
        ("email_is_free", "is_false", {}),
    ],
)
@pytest.mark.parametrize("missing", [None, "", "  ", []])
def test_a_missing_value_matches_no_operator_but_is_blank(field, operator, kwargs, missing):
    assert matches(field, operator, missing, **kwargs) is False


def test_a_missing_lead_key_matches_only_is_blank():
    rules = ruleset(
        fit_rule("title", "is_blank", name="No title", points=-5),
        fit_rule("title", "contains_any", name="Any title", values=["a"], points=1),
        fit_rule("employee_count", "between", name="Small", min=None, max=10, points=1),
    )
    score = score_lead({}, [], rules, T)
    assert [c.rule for c in score.contributions] == ["No title"]
    assert score.fit == -5


def test_attribute_fields_read_the_leads_attributes():
    rules = ruleset(
        fit_rule("attributes.plan", "equals_any", name="Enterprise plan", values=["enterprise"]),
        fit_rule("attributes.region", "is_blank", name="No region", points=1),
    )
    assert score_lead({"attributes": {"plan": "Enterprise"}}, [], rules, T).fit == 11
    assert score_lead({"attributes": {"region": "EMEA"}}, [], rules, T).fit == 0
    assert score_lead({"attributes": None}, [], rules, T).fit == 1
    assert score_lead({}, [], rules, T).fit == 1


def test_lead_numbers_may_arrive_as_decimal_or_text(sample, dana):
    for employees in (300, 300.0, Decimal("300"), "300"):
        lead = dict(dana, employee_count=employees)
        assert score_lead(lead, [], sample, T).fit == 55


# Behavior rules: modes, caps, windows, decay ------------------------------------------------


def test_each_sums_every_matching_activity_with_decay():
    rules = ruleset(behavior_rule("webinar_attended", "each", points=10))
    score = score_lead({}, [act("webinar_attended", d) for d in (0, 30, 60)], rules, T)
    assert score.interest == pytest.approx(10 + 5 + 2.5)


def test_each_with_max_count_keeps_the_most_recent_activities():
    rules = ruleset(behavior_rule("email_click", "each", points=5, max_count=2))
    activities = [act("email_click", d, id=d) for d in (40, 3, 60, 1, 20)]  # out of order
    score = score_lead({}, activities, rules, T)

    (contribution,) = score.contributions
    assert [a.activity_id for a in contribution.activities] == [1, 3]
    assert score.interest == pytest.approx(5 * decay(1, 30) + 5 * decay(3, 30))


def test_each_matches_with_a_single_activity_and_not_without():
    rules = ruleset(behavior_rule("email_open", "each", points=1))
    assert score_lead({}, [], rules, T).contributions == ()
    assert len(score_lead({}, [act("email_open", 5)], rules, T).contributions) == 1


def test_once_needs_min_count_activities():
    rules = ruleset(behavior_rule("page_view", "once", points=25, min_count=3))
    two = [act("page_view", d) for d in (1, 9)]
    three = [*two, act("page_view", 22)]

    assert score_lead({}, two, rules, T).interest == 0
    assert score_lead({}, three, rules, T).interest == pytest.approx(25 * decay(1, 30))


def test_once_counts_points_once_decayed_by_the_most_recent_activity():
    rules = ruleset(behavior_rule("trial_signup", "once", points=30))
    score = score_lead({}, [act("trial_signup", d, id=d) for d in (45, 10, 80)], rules, T)

    assert score.interest == pytest.approx(30 * decay(10, 30))
    (contribution,) = score.contributions
    assert [(a.activity_id, a.points) for a in contribution.activities] == [(10, 30)]


def test_once_lists_the_activities_that_reach_min_count_most_recent_carrying_the_points():
    rules = ruleset(behavior_rule("page_view", "once", points=25, min_count=2))
    score = score_lead({}, [act("page_view", d, id=d) for d in (9, 1, 22)], rules, T)

    (contribution,) = score.contributions
    assert [(a.activity_id, a.points) for a in contribution.activities] == [(1, 25), (9, 0)]
    assert contribution.activities[1].value == 0


def test_window_excludes_an_activity_exactly_window_days_old():
    rules = ruleset(behavior_rule("page_view", "each", points=10, window_days=30, decays=False))
    edge = T - timedelta(days=30)

    assert score_lead({}, [act("page_view", 0, at=edge)], rules, T).interest == 0
    just_inside = edge + timedelta(microseconds=1)
    assert score_lead({}, [act("page_view", 0, at=just_inside)], rules, T).interest == 10


def test_window_includes_an_activity_at_exactly_t():
    rules = ruleset(behavior_rule("page_view", "each", points=10, window_days=30))
    score = score_lead({}, [act("page_view", 0, at=T)], rules, T)
    assert score.interest == 10  # age 0: no decay
    assert score.contributions[0].activities[0].age_days == 0


def test_window_limits_which_activities_count_toward_min_count():
    rules = ruleset(behavior_rule("page_view", "once", points=25, min_count=3, window_days=30))
    assert score_lead({}, [act("page_view", d) for d in (1, 9, 31)], rules, T).interest == 0
    assert score_lead({}, [act("page_view", d) for d in (1, 9, 29)], rules, T).interest > 0


def test_activities_after_t_are_ignored():
    rules = ruleset(behavior_rule("demo_request", "each", points=40))
    later = [act("demo_request", 0, at=T + timedelta(microseconds=1))]
    assert score_lead({}, later, rules, T).interest == 0
    assert score_lead({}, later, rules, T + timedelta(seconds=1)).interest > 0


def test_decays_false_keeps_full_points_forever():
    rules = ruleset(behavior_rule("page_view", "each", points=-5, max_count=3, decays=False))
    score = score_lead({}, [act("page_view", d) for d in (1, 200, 900)], rules, T)
    assert score.interest == -15
    assert all(a.value == a.points == -5 for a in score.contributions[0].activities)


def test_negative_points_lower_the_score_with_decay():
    rules = ruleset(behavior_rule("unsubscribe", "once", points=-100))
    assert score_lead({}, [act("unsubscribe", 30)], rules, T).interest == pytest.approx(-50)


def test_half_life_comes_from_the_rule_set():
    rules = ruleset(behavior_rule("demo_request", "once", points=40), half_life_days=15)
    assert score_lead({}, [act("demo_request", 15)], rules, T).interest == pytest.approx(20)


def test_activity_contribution_records_age_and_points_before_and_after_decay():
    rules = ruleset(behavior_rule("demo_request", "once", points=40))
    at = T - timedelta(days=15, hours=12)
    score = score_lead({}, [act("demo_request", 0, id=9, at=at)], rules, T)
    (share,) = score.contributions[0].activities
    assert (share.activity_id, share.occurred_at, share.age_days) == (9, at, 15.5)
    assert (share.points, share.value) == (40, pytest.approx(40 * 0.5 ** (15.5 / 30)))


def test_url_contains_matches_any_substring_ignoring_case():
    rules = ruleset(
        behavior_rule(
            "content_download", url_contains=["/case-studies/", "/ROI-calculator"], points=15
        )
    )
    urls = [
        "https://x.io/Case-Studies/acme",
        "https://x.io/roi-calculator?x=1",
        "https://x.io/blog",
    ]
    activities = [act("content_download", 0, url, id=i) for i, url in enumerate(urls)]
    score = score_lead({}, activities, rules, T)
    assert sorted(a.activity_id for a in score.contributions[0].activities) == [0, 1]


def test_empty_url_contains_matches_any_url_even_none():
    rules = ruleset(behavior_rule("page_view", points=1, decays=False))
    activities = [act("page_view", 1, ""), act("page_view", 2, "https://x.io/anything")]
    assert score_lead({}, activities, rules, T).interest == 2


def test_url_contains_never_matches_an_activity_without_url():
    rules = ruleset(behavior_rule("demo_request", url_contains=["/pricing"]))
    assert score_lead({}, [act("demo_request", 1)], rules, T).interest == 0


def test_behavior_rules_match_the_kind_exactly():
    rules = ruleset(behavior_rule("page_view", points=1))
    assert score_lead({}, [act("page_views", 1), act("Page_View", 1)], rules, T).interest == 0


# Groups --------------------------------------------------------------------------------------


def test_only_the_first_matching_fit_rule_of_a_group_counts(sample, dana):
    score = score_lead(dana | {"title": "Student Director of Things"}, [], sample, T)
    names = [c.rule for c in score.contributions]
    assert "Student or intern" in names
    assert "Senior title" not in names


def test_a_non_matching_first_rule_falls_through_to_the_next_in_its_group(sample, dana):
    score = score_lead(dana | {"title": "Marketing Manager"}, [], sample, T)
    names = [c.rule for c in score.contributions]
    assert "Manager" in names
    assert not {"Student or intern", "Senior title"} & set(names)


def test_group_order_field_decides_not_position_in_the_file():
    low = fit_rule("title", "contains_any", name="Manager", values=["manager"], points=8)
    high = fit_rule("title", "contains_any", name="Senior", values=["senior"], points=20)
    rules = ruleset(
        replace(low, group="title", order=2),
        replace(high, group="title", order=1),
    )
    score = score_lead({"title": "Senior Manager"}, [], rules, T)
    assert [c.rule for c in score.contributions] == ["Senior"]


def test_equal_order_in_a_group_falls_back_to_position():
    first = fit_rule("title", name="First", values=["a"], points=1, group="g")
    second = fit_rule("title", name="Second", values=["a"], points=2, group="g")
    assert score_lead({"title": "a"}, [], ruleset(first, second), T).fit == 1
    assert score_lead({"title": "a"}, [], ruleset(second, first), T).fit == 2


def test_ungrouped_rules_and_different_groups_all_count():
    rules = ruleset(
        fit_rule("title", name="Title A", values=["a"], points=1, group="one"),
        fit_rule("title", name="Title B", values=["b"], points=2, group="two"),
        fit_rule("title", name="Loose 1", values=["a"], points=4),
        fit_rule("title", name="Loose 2", values=["b"], points=8),
    )
    assert score_lead({"title": "a b"}, [], rules, T).fit == 15


def test_fit_and_behavior_groups_with_the_same_name_are_separate():
    rules = ruleset(
        fit_rule("title", name="Fit", values=["vp"], points=20, group="shared"),
        behavior_rule("demo_request", "once", name="Behavior", points=40, group="shared"),
    )
    score = score_lead({"title": "VP"}, [act("demo_request", 0)], rules, T)
    assert [c.rule for c in score.contributions] == ["Fit", "Behavior"]


def test_pricing_tier_falls_through_to_single_visit_with_fewer_than_three(sample):
    visits = [act("page_view", d, "https://x.io/pricing") for d in (1, 9)]
    score = score_lead({}, visits, sample, T)
    assert [c.rule for c in score.contributions] == ["Pricing visit"]
    assert score.interest == pytest.approx(12 * decay(1, 30))


def test_contributions_follow_rule_position_not_group_order():
    rules = ruleset(
        behavior_rule("a_kind", name="B first in file", points=1, group="g", order=2),
        behavior_rule("b_kind", name="Ungrouped", points=1),
        fit_rule("title", name="Fit rule", values=["x"]),
    )
    score = score_lead({"title": "x"}, [act("a_kind", 0), act("b_kind", 0)], rules, T)
    assert [c.rule for c in score.contributions] == ["Fit rule", "B first in file", "Ungrouped"]


# Disqualification ---------------------------------------------------------------------------


def test_a_matching_disqualify_rule_disqualifies_but_keeps_scores_cell_and_action(
    sample, dana, dana_activities
):
    lead = dana | {"email_domain": "RivalCo.com"}
    score = score_lead(lead, dana_activities, sample, T)
    assert score.disqualified is True
    assert (score.cell, score.action) == ("A1", "mql_priority")
    assert score.fit == pytest.approx(55)  # the Competitor rule is worth 0 points
    assert "Competitor" in [c.rule for c in score.contributions]


def test_a_grouped_disqualify_rule_disqualifies_even_when_an_earlier_rule_wins_the_group():
    rules = ruleset(
        fit_rule("title", name="Senior", values=["director"], points=20, group="t", order=1),
        fit_rule(
            "title", name="Spam", values=["test"], points=-5, group="t", order=2, disqualify=True
        ),
    )
    score = score_lead({"title": "Test Director"}, [], rules, T)
    assert score.disqualified is True
    assert [c.rule for c in score.contributions] == ["Senior"]
    assert score.fit == 20


def test_a_lead_matching_no_disqualify_rule_is_not_disqualified(sample, dana):
    assert score_lead(dana, [], sample, T).disqualified is False


# Tiers, cell, action -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fit", "tier"), [(100, "A"), (40, "A"), (39.999, "B"), (20, "B"), (19.99, "C"), (-30, "C")]
)
def test_fit_tier_bounds_are_inclusive(fit, tier):
    assert fit_tier(fit, RuleSetSpec(name="x")) == tier


@pytest.mark.parametrize(
    ("interest", "tier"), [(80, 1), (50, 1), (49.99, 2), (20, 2), (19.999, 3), (-100, 3)]
)
def test_interest_tier_bounds_are_inclusive(interest, tier):
    assert interest_tier(interest, RuleSetSpec(name="x")) == tier


def test_tier_cut_offs_come_from_the_rule_set():
    rules = ruleset(
        fit_rule("title", values=["vp"], points=10),
        behavior_rule("demo_request", "once", points=5, decays=False),
        fit_high=10,
        fit_medium=5,
        interest_high=100,
        interest_medium=5,
    )
    score = score_lead({"title": "VP"}, [act("demo_request", 3)], rules, T)
    assert (score.fit_tier, score.interest_tier, score.cell, score.action) == (
        "A",
        2,
        "A2",
        "mql_fast_track",
    )


def test_action_is_the_rule_sets_matrix_entry_for_the_cell():
    matrix = dict(DEFAULT_MATRIX, C3="nurture")
    assert score_lead({}, [], ruleset(matrix=matrix), T).action == "nurture"


def test_a_lead_with_nothing_is_c3_excluded():
    score = score_lead({}, [], RuleSetSpec(name="empty"), T)
    assert (score.fit, score.interest, score.total) == (0, 0, 0)
    assert (score.cell, score.action, score.disqualified, score.contributions) == (
        "C3",
        "exclude",
        False,
        (),
    )


# Helpers and guards ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "half_life", "weight"), [(0, 30, 1), (30, 30, 0.5), (60, 30, 0.25), (15, 15, 0.5)]
)
def test_decay_halves_every_half_life(age, half_life, weight):
    assert decay(age, half_life) == pytest.approx(weight)


def test_decay_refuses_a_non_positive_half_life():
    with pytest.raises(ValueError, match="half_life_days"):
        decay(1, 0)


def test_score_lead_refuses_a_naive_as_of(sample):
    with pytest.raises(ValueError, match="timezone-aware"):
        score_lead({}, [], sample, datetime(2026, 6, 1))


def test_as_of_in_another_time_zone_is_the_same_instant(sample, dana, dana_activities):
    plus_two = T.astimezone(timezone(timedelta(hours=2)))
    assert score_lead(dana, dana_activities, sample, plus_two).total == pytest.approx(
        score_lead(dana, dana_activities, sample, T).total
    )


def test_two_rule_sets_are_never_confused():
    first = ruleset(fit_rule("title", values=["vp"], points=1))
    second = ruleset(fit_rule("title", values=["vp"], points=2))
    for _ in range(2):
        assert score_lead({"title": "VP"}, [], first, T).fit == 1
        assert score_lead({"title": "VP"}, [], second, T).fit == 2
