"""Rule-set files (contract.md §1): parsing, defaults, every refusal with its rule and field,
warnings, and the round trip back to a dict."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from scoring.engine import BehaviorRuleSpec, FitRuleSpec, RuleSetSpec
from scoring.rulesets import (
    ACTIONS,
    DEFAULT_MATRIX,
    DEFAULT_RULESET_PATH,
    DEFAULT_SLA_HOURS,
    FIT_FIELDS,
    MATRIX_CELLS,
    MQL_ACTIONS,
    OPERATORS,
    OPERATORS_BY_TYPE,
    URL_KINDS,
    Problem,
    RuleSetInvalid,
    behavior_rule_problems,
    default_ruleset,
    fit_rule_problems,
    parse_behavior_rule,
    parse_fit_rule,
    parse_ruleset,
    parse_ruleset_json,
    ruleset_to_dict,
    ruleset_warnings,
    validate_behavior_rule,
    validate_fit_rule,
    validate_ruleset,
)

SAMPLE_PATH = Path(__file__).with_name("sample_ruleset.json")


@pytest.fixture
def sample() -> dict:
    return json.loads(SAMPLE_PATH.read_text(encoding="utf-8"))


def base() -> dict:
    """A small valid rule set; each test breaks one thing."""
    return {
        "name": "Base",
        "fit_rules": [
            {
                "name": "Senior title",
                "field": "title",
                "operator": "contains_any",
                "values": ["vp", "director"],
                "points": 20,
            },
            {
                "name": "Mid-size",
                "field": "employee_count",
                "operator": "between",
                "min": 50,
                "max": 500,
                "points": 15,
            },
        ],
        "behavior_rules": [
            {
                "name": "Pricing visit",
                "kind": "page_view",
                "url_contains": ["/pricing"],
                "mode": "once",
                "points": 12,
            },
            {"name": "E-mail open", "kind": "email_open", "mode": "each", "points": 1},
        ],
    }


def problems_of(data: object) -> list[str]:
    with pytest.raises(RuleSetInvalid) as raised:
        parse_ruleset(data)
    return raised.value.problems


def only_problem(data: object) -> str:
    problems = problems_of(data)
    assert len(problems) == 1, problems
    return problems[0]


def with_fit(**changes) -> dict:
    data = base()
    rule = data["fit_rules"][0]
    rule.update(changes)
    for key, value in changes.items():
        if value is ...:
            del rule[key]
    return data


def with_mid_size(**changes) -> dict:
    data = base()
    data["fit_rules"][1].update(changes)
    return data


def with_behavior(**changes) -> dict:
    data = base()
    rule = data["behavior_rules"][0]
    rule.update(changes)
    for key, value in changes.items():
        if value is ...:
            del rule[key]
    return data


def with_settings(**changes) -> dict:
    data = base()
    data.update(changes)
    return data


# The sample and the shipped default ---------------------------------------------------------


def test_the_contract_sample_parses(sample):
    spec = parse_ruleset(sample)

    assert spec.name == "Sample 2026"
    assert (spec.half_life_days, spec.fit_high, spec.fit_medium) == (30, 40, 20)
    assert (spec.interest_high, spec.interest_medium, spec.recycle_days) == (50, 20, 30)
    assert len(spec.fit_rules) == 11 and len(spec.behavior_rules) == 10
    assert spec.fit_rules[0] == FitRuleSpec(
        name="Student or intern",
        field="title",
        operator="contains_any",
        values=("student", "intern"),
        points=-25,
        group="title",
        order=1,
    )
    assert spec.fit_rules[3].min is None and spec.fit_rules[3].max == 19
    assert spec.fit_rules[-1].disqualify is True
    assert spec.behavior_rules[2] == BehaviorRuleSpec(
        name="Pricing 3+ in 30 days",
        kind="page_view",
        mode="once",
        points=25,
        url_contains=("/pricing",),
        min_count=3,
        window_days=30,
        group="pricing",
        order=1,
    )
    assert spec.behavior_rules[-1].decays is False


def test_the_sample_round_trips_to_an_equal_dict(sample):
    assert ruleset_to_dict(parse_ruleset(sample)) == sample


def test_the_sample_round_trips_to_the_same_json_text(sample):
    again = ruleset_to_dict(parse_ruleset(sample))
    assert json.dumps(again) == json.dumps(sample)  # same keys in the same order


def test_a_spec_survives_dict_and_back(sample):
    spec = parse_ruleset(sample)
    assert parse_ruleset(ruleset_to_dict(spec)) == spec


def test_the_sample_has_no_warnings(sample):
    assert ruleset_warnings(parse_ruleset(sample)) == []


def test_the_shipped_default_rule_set_parses_and_round_trips():
    data = json.loads(DEFAULT_RULESET_PATH.read_text(encoding="utf-8"))
    spec = default_ruleset()

    assert spec.name == "Leadgauge default 2026"
    assert ruleset_to_dict(spec) == data
    assert ruleset_warnings(spec) == []
    fit_names = {r.name for r in spec.fit_rules}
    assert {
        "Student or intern",
        "Senior title",
        "Manager",
        "Target industry",
        "North America",
        "Free e-mail",
        "Competitor",
    } <= fit_names
    assert {r.name for r in spec.fit_rules if r.field == "employee_count"} >= {"50-500 employees"}
    assert [r.name for r in spec.fit_rules if r.disqualify] == ["Competitor"]
    behavior_names = {r.name for r in spec.behavior_rules}
    assert {
        "Demo request",
        "Free trial",
        "Pricing 3+ in 30 days",
        "Pricing visit",
        "Case study or ROI calculator",
        "Webinar attended",
        "E-mail open",
        "E-mail click",
        "Careers page",
        "Unsubscribed",
    } == behavior_names


# Defaults -----------------------------------------------------------------------------------


def test_absent_settings_take_the_documented_defaults():
    spec = parse_ruleset({"name": "Minimal"})

    assert spec == RuleSetSpec(name="Minimal")
    assert spec.half_life_days == 30
    assert dict(spec.matrix) == dict(DEFAULT_MATRIX)
    assert dict(spec.sla_hours) == {
        "mql_priority": 1,
        "mql_fast_track": 4,
        "mql_standard": 24,
        "disposition": 72,
    }
    assert spec.recycle_days == 30
    assert (spec.fit_rules, spec.behavior_rules) == ((), ())


def test_absent_fit_rule_keys_take_their_defaults():
    rule = parse_fit_rule(
        {"name": "Free", "field": "email_is_free", "operator": "is_true", "points": -20}
    )
    assert (rule.values, rule.min, rule.max) == ((), None, None)
    assert (rule.group, rule.order, rule.disqualify) == ("", 0, False)


def test_absent_behavior_rule_keys_take_their_defaults():
    rule = parse_behavior_rule(
        {"name": "Demo", "kind": "demo_request", "mode": "once", "points": 40}
    )
    assert rule.url_contains == ()
    assert (rule.max_count, rule.min_count, rule.window_days, rule.decays) == (None, 1, None, True)
    assert (rule.group, rule.order) == ("", 0)


def test_null_means_not_set():
    data = with_fit(group=None, order=None, disqualify=None, min=None, max=None)
    data["behavior_rules"][1].update(max_count=None, window_days=None, url_contains=None)
    spec = parse_ruleset(data)
    assert spec.fit_rules[0].group == "" and spec.behavior_rules[1].max_count is None


def test_text_is_trimmed():
    spec = parse_ruleset(with_fit(name="  Senior title ", values=[" vp ", "director"]))
    assert spec.fit_rules[0].name == "Senior title"
    assert spec.fit_rules[0].values == ("vp", "director")


# Refusals: each names the rule and the field ---------------------------------------------------


def test_an_unknown_operator_is_named_with_the_rule_and_the_choices():
    assert only_problem(with_fit(operator="foo")) == (
        'fit rule "Senior title": operator "foo" is not one of contains_any, equals_any, '
        "between, includes_any, is_true, is_false, is_blank"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # unknown keys
        (with_settings(colour="blue"), ('rule set: unknown key "colour"',)),
        (with_fit(weight=3), ('fit rule "Senior title": unknown key "weight"',)),
        (with_behavior(every=3), ('behavior rule "Pricing visit": unknown key "every"',)),
        # required keys
        ({"fit_rules": []}, ("rule set: name is required",)),
        (with_fit(field=...), ('fit rule "Senior title": field is required',)),
        (with_fit(operator=...), ('fit rule "Senior title": operator is required',)),
        (with_fit(points=...), ('fit rule "Senior title": points is required',)),
        (with_fit(name=...), ("fit rule #1: name is required",)),
        (with_behavior(kind=...), ('behavior rule "Pricing visit": kind is required',)),
        (with_behavior(mode=...), ('behavior rule "Pricing visit": mode is required',)),
        (with_behavior(points=...), ('behavior rule "Pricing visit": points is required',)),
        # fields
        (with_fit(field="salary"), ('fit rule "Senior title": field "salary" is not one of',)),
        (with_fit(field="attributes.bad-key"), ('field "attributes.bad-key" is not one of',)),
        (with_fit(field="attributes."), ('field "attributes." is not one of',)),
        (with_fit(field="Title"), ('field "Title" is not one of',)),
        # operator for the field's type
        (
            with_fit(operator="between", values=..., min=1),
            ('operator "between" does not apply to the text',),
        ),
        (with_fit(operator="includes_any"), ('operator "includes_any" does not apply to the',)),
        (
            with_fit(field="employee_count", operator="contains_any"),
            (
                'fit rule "Senior title": operator "contains_any" does not apply to the number '
                'field "employee_count" (use between, equals_any, is_blank)',
            ),
        ),
        (with_fit(field="technologies", operator="equals_any"), ('"equals_any" does not apply',)),
        (with_fit(field="email_is_free", operator="contains_any"), ("does not apply to the",)),
        (
            with_fit(field="technologies", operator="is_true", values=...),
            ('operator "is_true" does not apply to the list field "technologies"',),
        ),
        # values
        (with_fit(values=...), ('fit rule "Senior title": values must list at least one',)),
        (with_fit(values=[]), ('values must list at least one value for operator "contains_',)),
        (with_fit(values="vp"), ('fit rule "Senior title": values must be a list of text',)),
        (with_fit(values=["vp", 3]), ("values item 2 must be text, not 3",)),
        (with_fit(values=["vp", "  "]), ("values item 2 must not be blank",)),
        (
            with_fit(field="employee_count", operator="equals_any", values=["100", "lots"]),
            ('values item "lots" is not a number',),
        ),
        (with_mid_size(values=["x"]), ('fit rule "Mid-size": values are not used by operator',)),
        # between
        (with_mid_size(min=None, max=None), ('fit rule "Mid-size": between needs a min or a max',)),
        (with_mid_size(min=600), ('fit rule "Mid-size": min 600 is above max 500',)),
        (with_mid_size(min="50"), ('fit rule "Mid-size": min must be a number, not "50"',)),
        (with_mid_size(max=[500]), ('fit rule "Mid-size": max must be a number',)),
        (with_fit(min=3), ('fit rule "Senior title": min is only used by operator "between"',)),
        # points
        (with_fit(points="20"), ('fit rule "Senior title": points must be a number, not "20"',)),
        (with_fit(points=True), ("points must be a number, not true",)),
        (with_behavior(points=None), ('behavior rule "Pricing visit": points is required',)),
        (with_behavior(points="x"), ('behavior rule "Pricing visit": points must be a number',)),
        # behavior specifics
        (with_behavior(mode="twice"), ('mode "twice" is not one of each, once',)),
        (with_behavior(mode="each", max_count=0), ("max_count must be at least 1, not 0",)),
        (with_behavior(min_count=0), ('"Pricing visit": min_count must be at least 1, not 0',)),
        (with_behavior(max_count=3), ('"Pricing visit": max_count only applies to mode "each"',)),
        (with_behavior(mode="each", min_count=2), ('min_count only applies to mode "once"',)),
        (with_behavior(window_days=0), ('"Pricing visit": window_days must be above 0, not 0',)),
        (with_behavior(window_days=-7), ("window_days must be above 0, not -7",)),
        (with_behavior(window_days="30"), ("window_days must be a number",)),
        (with_behavior(max_count=1.5, mode="each"), ("max_count must be a whole number",)),
        (with_behavior(kind="Page View"), ('kind "Page View" must be a slug',)),
        (with_behavior(kind="page-view"), ('behavior rule "Pricing visit": kind "page-view"',)),
        (with_behavior(kind="k" * 65), ("must be a slug",)),
        (with_behavior(url_contains="/pricing"), ("url_contains must be a list of text",)),
        (with_behavior(decays="no"), ('"Pricing visit": decays must be true or false, not "no"',)),
        # names
        (with_fit(name="   "), ("fit rule #1: name must not be empty",)),
        (with_behavior(name=""), ("behavior rule #1: name must not be empty",)),
        (with_fit(name=7), ("fit rule #1: name must be text, not 7",)),
        (with_settings(name=""), ("rule set: name must not be empty",)),
        (with_fit(name="x" * 201), ("name must be at most 200 characters",)),
        # other rule types
        (with_fit(disqualify="yes"), ('"Senior title": disqualify must be true or false',)),
        (with_fit(order="1"), ('fit rule "Senior title": order must be a whole number',)),
        (with_fit(group=5), ('fit rule "Senior title": group must be text, not 5',)),
        # settings
        (with_settings(half_life_days=0), ("rule set: half_life_days must be above 0",)),
        (with_settings(half_life_days=-1), ("half_life_days must be above 0",)),
        (with_settings(half_life_days="30"), ('half_life_days must be a number, not "30"',)),
        (with_settings(fit_medium=50), ("rule set: fit_medium 50 is above fit_high 40",)),
        (
            with_settings(interest_high=10),
            ("rule set: interest_medium 20 is above interest_high 10",),
        ),
        (with_settings(fit_high="high"), ("fit_high must be a number",)),
        (with_settings(recycle_days=-1), ("rule set: recycle_days must be 0 or more, not -1",)),
        (with_settings(recycle_days=1.5), ("recycle_days must be a whole number",)),
        (with_settings(matrix="default"), ("rule set: matrix must be an object",)),
        (with_settings(sla_hours=[1, 4]), ("rule set: sla_hours must be an object",)),
        (with_settings(fit_rules={"name": "x"}), ("rule set: fit_rules must be a list of rules",)),
        (with_settings(behavior_rules="none"), ("behavior_rules must be a list of rules",)),
        (with_settings(fit_rules=["Senior title"]), ('fit rule #1: must be an object, not "Sen',)),
        ([], ("rule set: must be a JSON object, not []",)),
        ("{}", ("rule set: must be a JSON object",)),
    ],
)
def test_each_problem_names_the_rule_and_the_field(data, expected):
    problem = only_problem(data)
    for fragment in expected:
        assert fragment in problem


@pytest.mark.parametrize("cell", MATRIX_CELLS)
def test_a_missing_matrix_cell_is_refused(cell):
    matrix = dict(DEFAULT_MATRIX)
    del matrix[cell]
    expected = f'rule set: matrix cell "{cell}" is missing'
    assert only_problem(with_settings(matrix=matrix)) == expected


def test_an_unknown_matrix_cell_is_refused():
    matrix = dict(DEFAULT_MATRIX, D4="nurture")
    assert only_problem(with_settings(matrix=matrix)) == (
        'rule set: matrix has an unknown cell "D4" (cells: A1 … C3)'
    )


def test_an_unknown_matrix_action_is_refused_with_the_choices():
    matrix = dict(DEFAULT_MATRIX, B2="call_them")
    assert only_problem(with_settings(matrix=matrix)) == (
        'rule set: matrix cell "B2": action "call_them" is not one of mql_priority, '
        "mql_fast_track, mql_standard, nurture, monitor, exclude, disqualify"
    )


@pytest.mark.parametrize("key", ["mql_priority", "mql_fast_track", "mql_standard", "disposition"])
def test_every_sla_hours_key_is_required(key):
    hours = dict(DEFAULT_SLA_HOURS)
    del hours[key]
    assert only_problem(with_settings(sla_hours=hours)) == f'rule set: sla_hours "{key}" is missing'


@pytest.mark.parametrize(("hours", "shown"), [(0, "0"), (-4, "-4"), ("4", None)])
def test_sla_hours_must_be_positive_numbers(hours, shown):
    problem = only_problem(with_settings(sla_hours=dict(DEFAULT_SLA_HOURS, mql_standard=hours)))
    assert problem.startswith('rule set: sla_hours "mql_standard" must be')
    if shown is not None:
        assert problem.endswith(f"above 0, not {shown}")


def test_an_unknown_sla_key_is_refused():
    problem = only_problem(with_settings(sla_hours=dict(DEFAULT_SLA_HOURS, lunch=1)))
    assert 'sla_hours has an unknown key "lunch"' in problem


def test_duplicate_fit_rule_names_are_refused():
    data = base()
    data["fit_rules"][1]["name"] = "Senior title"
    assert only_problem(data) == (
        'fit rule "Senior title": name is used by more than one fit rule '
        "(names must be unique, ignoring case)"
    )


def test_duplicate_behavior_rule_names_are_refused_ignoring_case():
    data = base()
    data["behavior_rules"][1]["name"] = "pricing VISIT"
    assert "name is used by more than one behavior rule" in only_problem(data)


def test_a_fit_and_a_behavior_rule_may_share_a_name():
    data = base()
    data["behavior_rules"][0]["name"] = "Senior title"
    parse_ruleset(data)


def test_a_kind_of_64_characters_is_accepted():
    assert parse_ruleset(with_behavior(kind="k" * 64, url_contains=[])).behavior_rules[0].kind


@pytest.mark.parametrize("key", ["plan", "Plan_2", "x"])
@pytest.mark.parametrize("operator", OPERATORS)
def test_attributes_accept_every_operator(key, operator):
    rule = {"name": "Attr", "field": f"attributes.{key}", "operator": operator, "points": 1}
    if operator in ("contains_any", "equals_any", "includes_any"):
        rule["values"] = ["pro"]
    if operator == "between":
        rule["min"] = 1
    assert validate_fit_rule(rule) == []


@pytest.mark.parametrize(("field", "ftype"), sorted(FIT_FIELDS.items()))
def test_each_builtin_field_accepts_exactly_its_types_operators(field, ftype):
    for operator in OPERATORS:
        rule = {"name": "R", "field": field, "operator": operator, "points": 1}
        if operator in ("contains_any", "equals_any", "includes_any"):
            rule["values"] = ["1"]
        if operator == "between":
            rule["min"] = 1
        assert (validate_fit_rule(rule) == []) is (operator in OPERATORS_BY_TYPE[ftype])


def test_between_accepts_a_single_bound_on_either_side():
    assert parse_ruleset(with_mid_size(min=None)).fit_rules[1].min is None
    assert parse_ruleset(with_mid_size(max=None)).fit_rules[1].max is None


def test_between_accepts_equal_bounds():
    assert parse_ruleset(with_mid_size(min=100, max=100)).fit_rules[1].min == 100


def test_tier_cut_offs_may_be_equal():
    parse_ruleset(with_settings(fit_high=30, fit_medium=30, interest_high=5, interest_medium=5))


def test_once_accepts_min_count_and_each_accepts_max_count():
    spec = parse_ruleset(with_behavior(min_count=3, window_days=30))
    assert spec.behavior_rules[0].min_count == 3
    data = base()
    data["behavior_rules"][1].update(max_count=3, min_count=1)
    assert parse_ruleset(data).behavior_rules[1].max_count == 3


def test_whole_floats_are_accepted_as_whole_numbers():
    spec = parse_ruleset(with_settings(recycle_days=14.0))
    assert spec.recycle_days == 14 and isinstance(spec.recycle_days, int)


def test_recycle_days_may_be_zero():
    assert parse_ruleset(with_settings(recycle_days=0)).recycle_days == 0


# Many problems at once ----------------------------------------------------------------------


def test_every_problem_is_reported_at_once():
    data = base()
    data["half_life_days"] = 0
    data["matrix"] = dict(DEFAULT_MATRIX, A1="party")
    data["fit_rules"][0]["operator"] = "foo"
    data["fit_rules"][1].update(min=900, points="lots")
    data["behavior_rules"][0].update(mode="sometimes", window_days=-1)
    data["behavior_rules"][1]["kind"] = "Email Open"

    problems = problems_of(data)

    assert len(problems) == 8, problems
    for fragment in [
        "rule set: half_life_days must be above 0",
        'rule set: matrix cell "A1": action "party"',
        'fit rule "Senior title": operator "foo"',
        'fit rule "Mid-size": min 900 is above max 500',
        'fit rule "Mid-size": points must be a number',
        'behavior rule "Pricing visit": mode "sometimes"',
        'behavior rule "Pricing visit": window_days must be above 0',
        'behavior rule "E-mail open": kind "Email Open"',
    ]:
        assert any(fragment in p for p in problems), fragment


def test_validate_ruleset_lists_without_raising():
    assert validate_ruleset(base()) == []
    assert validate_ruleset(with_fit(operator="foo")) == problems_of(with_fit(operator="foo"))


def test_rule_set_invalid_is_an_exception_with_problems_and_details():
    with pytest.raises(RuleSetInvalid) as raised:
        parse_ruleset(with_fit(operator="foo"))
    error = raised.value
    assert isinstance(error, Exception)
    assert error.problems == [str(error.details[0])]
    assert error.details[0] == Problem(
        where='fit rule "Senior title"',
        field="operator",
        message='operator "foo" is not one of contains_any, equals_any, between, includes_any, '
        "is_true, is_false, is_blank",
    )
    assert "operator" in str(error)


def test_rule_set_invalid_takes_plain_messages():
    assert RuleSetInvalid(["Only a draft can be published."]).problems == [
        "Only a draft can be published."
    ]


# One rule at a time (the admin's forms) -------------------------------------------------------


def test_fit_rule_problems_give_the_field_for_a_form():
    problems = fit_rule_problems(
        {
            "name": "Size",
            "field": "employee_count",
            "operator": "between",
            "min": 9,
            "max": 1,
            "points": "x",
        }
    )
    assert [(p.where, p.field) for p in problems] == [
        ('fit rule "Size"', "min"),
        ('fit rule "Size"', "points"),
    ]


def test_validate_fit_rule_returns_sentences_and_nothing_for_a_valid_rule(sample):
    for rule in sample["fit_rules"]:
        assert validate_fit_rule(rule) == []
    assert validate_fit_rule({"name": "X", "field": "title", "operator": "is_blank"}) == [
        'fit rule "X": points is required'
    ]


def test_validate_behavior_rule_returns_sentences_and_nothing_for_a_valid_rule(sample):
    for rule in sample["behavior_rules"]:
        assert validate_behavior_rule(rule) == []
    problems = behavior_rule_problems(
        {"name": "Opens", "kind": "email_open", "mode": "once", "points": 1, "max_count": 3}
    )
    assert [(p.field, str(p)) for p in problems] == [
        (
            "max_count",
            'behavior rule "Opens": max_count only applies to mode "each"; remove it or use "each"',
        )
    ]


def test_rule_validators_accept_a_form_shaped_dict_with_nulls_and_empty_lists():
    fit = {
        "name": "Free",
        "field": "email_is_free",
        "operator": "is_true",
        "values": [],
        "min": None,
        "max": None,
        "points": -20.0,
        "group": "",
        "order": 0,
        "disqualify": False,
    }
    behavior = {
        "name": "Demo",
        "kind": "demo_request",
        "url_contains": [],
        "mode": "once",
        "max_count": None,
        "min_count": 1,
        "window_days": None,
        "points": 40.0,
        "decays": True,
        "group": "",
        "order": 0,
    }
    assert validate_fit_rule(fit) == []
    assert validate_behavior_rule(behavior) == []


def test_a_rule_validator_can_be_told_where_the_rule_is():
    assert validate_fit_rule({"name": "X"}, where="fit rule 4")[0].startswith("fit rule 4: ")


def test_parse_rule_raises_with_its_problems():
    with pytest.raises(RuleSetInvalid, match="mode"):
        parse_behavior_rule({"name": "X", "kind": "demo_request", "points": 1})
    with pytest.raises(RuleSetInvalid, match="must be an object"):
        parse_fit_rule("title contains vp")


# JSON text -------------------------------------------------------------------------------------


def test_parse_ruleset_json_reads_the_sample_file_with_or_without_bom():
    text = SAMPLE_PATH.read_text(encoding="utf-8")
    assert parse_ruleset_json(text).name == "Sample 2026"
    assert parse_ruleset_json(("\ufeff" + text).encode("utf-8")).name == "Sample 2026"


def test_parse_ruleset_json_reports_a_syntax_error_with_its_position():
    with pytest.raises(RuleSetInvalid) as raised:
        parse_ruleset_json('{"name": "x",\n "fit_rules": [}')
    (problem,) = raised.value.problems
    assert problem.startswith("rule set: not valid JSON:") and "line 2" in problem


def test_parse_ruleset_json_refuses_a_repeated_key():
    with pytest.raises(RuleSetInvalid) as raised:
        parse_ruleset_json('{"name": "x", "recycle_days": 10, "recycle_days": 20}')
    assert raised.value.problems == ['rule set: the key "recycle_days" appears twice in one object']


# Warnings -----------------------------------------------------------------------------------


def test_url_contains_on_a_kind_without_url_is_a_warning_not_an_error():
    data = base()
    data["behavior_rules"].append(
        {
            "name": "Demo from pricing",
            "kind": "demo_request",
            "url_contains": ["/pricing"],
            "mode": "once",
            "points": 40,
        }
    )
    spec = parse_ruleset(data)  # accepted
    (warning,) = ruleset_warnings(spec)
    assert warning.startswith('behavior rule "Demo from pricing": url_contains is set')
    assert '"demo_request"' in warning


@pytest.mark.parametrize("kind", sorted(URL_KINDS))
def test_url_contains_on_a_kind_with_url_gives_no_warning(kind):
    spec = parse_ruleset(with_behavior(kind=kind))
    assert ruleset_warnings(spec) == []


# Spec -> dict ---------------------------------------------------------------------------------


def test_to_dict_writes_whole_numbers_as_integers():
    spec = RuleSetSpec(
        name="Floats",
        half_life_days=30.0,
        fit_rules=(
            FitRuleSpec("Size", "employee_count", "between", min=50.0, max=None, points=15.0),
        ),
        behavior_rules=(BehaviorRuleSpec("Demo", "demo_request", "once", 40.0, window_days=7.5),),
    )
    data = ruleset_to_dict(spec)
    assert data["half_life_days"] == 30 and isinstance(data["half_life_days"], int)
    assert data["fit_rules"] == [
        {
            "name": "Size",
            "field": "employee_count",
            "operator": "between",
            "min": 50,
            "max": None,
            "points": 15,
        }
    ]
    assert data["behavior_rules"] == [
        {"name": "Demo", "kind": "demo_request", "mode": "once", "window_days": 7.5, "points": 40}
    ]
    assert parse_ruleset(data) == spec


def test_to_dict_keeps_leftovers_so_the_parser_reports_them():
    spec = RuleSetSpec(
        name="Leftovers",
        fit_rules=(FitRuleSpec("Size", "employee_count", "between", values=("x",), min=1),),
    )
    data = ruleset_to_dict(spec)
    assert data["fit_rules"][0]["values"] == ["x"]
    assert 'values are not used by operator "between"' in only_problem(data)


def test_to_dict_does_not_share_state_with_the_spec(sample):
    spec = parse_ruleset(sample)
    data = ruleset_to_dict(spec)
    mutated = copy.deepcopy(data)
    mutated["matrix"]["A1"] = "nurture"
    mutated["fit_rules"][0]["values"].append("x")
    assert ruleset_to_dict(spec) == data


# Constants ----------------------------------------------------------------------------------


def test_constants_describe_the_vocabulary():
    assert MQL_ACTIONS == ("mql_priority", "mql_fast_track", "mql_standard")
    assert set(MQL_ACTIONS) < set(ACTIONS)
    assert set(DEFAULT_MATRIX) == set(MATRIX_CELLS) and set(DEFAULT_MATRIX.values()) <= set(ACTIONS)
    assert dict(DEFAULT_SLA_HOURS) == {
        "mql_priority": 1,
        "mql_fast_track": 4,
        "mql_standard": 24,
        "disposition": 72,
    }
    assert FIT_FIELDS["employee_count"] == "number" and FIT_FIELDS["technologies"] == "list"
    assert FIT_FIELDS["email_is_free"] == "boolean" and FIT_FIELDS["title"] == "text"
    assert {
        "page_view",
        "content_download",
        "form_submit",
        "email_click",
        "webinar_registered",
        "ad_click",
    } == URL_KINDS


def test_a_broken_threshold_is_reported_once_without_a_comparison_problem():
    assert only_problem(with_settings(fit_high="high", fit_medium=50)) == (
        'rule set: fit_high must be a number, not "high"'
    )
