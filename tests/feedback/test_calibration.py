"""Design §5: each calibration figure pinned on a small hand-made month, worked out by hand.

March 2026 (UTC) has seven handoffs:

    handoff  score  cell  disposition  rules in snapshot     CRM        SDR  hours to decide
    h1       100    A1    accepted     Demo, Title           won        sam   2
    h2        90    A1    accepted     Demo                  opp, lost  sam   4
    h3        55    A2    accepted     Title                 -          sam   6
    h4        70    A2    bad fit      Title, Webinar        -          pat   8
    h5        60    B1    bad timing   Webinar               -          pat  10
    h6        50    B1    bad data     -                     -          pat  12
    h7        95    A1    open         Demo                  -          pat   -

h2 is first touched 2 h after its 1-hour deadline; the rest within 30 minutes, but h7 never.
Ten leads were created in March: the seven above and three that never became MQLs.
"""

import zoneinfo
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from feedback import calibration, services
from feedback.models import CalibrationMonth, Handoff, HandoffContribution
from tests.feedback.history import AFTER_MARCH, MARCH, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def figures(march):
    return calibration.month_figures(MARCH, now=AFTER_MARCH)


def test_acceptance_counts_dispositioned_handoffs_only(figures):
    assert (figures["handoffs"], figures["dispositioned"], figures["open"]) == (7, 6, 1)
    assert figures["accepted"] == 3
    assert figures["acceptance_rate"] == pytest.approx(3 / 6)


def test_the_rejection_mix_has_one_of_each_reason(figures):
    assert figures["rejections"] == {"bad_fit": 1, "bad_timing": 1, "bad_data": 1}
    assert figures["rejected"] == 3


def test_lead_to_mql_counts_the_months_new_leads_that_were_handed_off(figures):
    assert (figures["leads_mql"], figures["leads_created"]) == (7, 10)
    assert figures["lead_to_mql_rate"] == pytest.approx(0.7)


def test_the_funnel_counts_outcomes_after_the_handoff(figures):
    # h1 won (its opportunity and win), h2 had an opportunity and lost; h3's win came first.
    assert (figures["opportunities"], figures["won"], figures["lost"]) == (2, 1, 1)
    assert figures["mql_to_accepted"] == pytest.approx(3 / 7)
    assert figures["mql_to_opportunity"] == pytest.approx(2 / 7)
    assert figures["mql_to_won"] == pytest.approx(1 / 7)


def test_median_hours_to_disposition_and_sla_compliance(figures):
    assert figures["median_hours_to_disposition"] == pytest.approx(7)  # of 2, 4, ... 12
    # h2 was touched late and h7 not at all, although its deadline passed.
    assert figures["first_touch"] == {"met": 5, "n": 7, "rate": pytest.approx(5 / 7)}
    # h7's 72 hours are up without a decision; the other six decided within 12 hours.
    assert figures["disposition_sla"] == {"met": 6, "n": 7, "rate": pytest.approx(6 / 7)}


def test_a_deadline_still_ahead_is_not_counted_as_missed(march):
    during = at(8, 13)  # h7 was created at noon: its first touch was due at 13:00
    figures = calibration.month_figures(MARCH, now=during - timedelta(minutes=1))
    assert figures["first_touch"]["n"] == 6
    assert figures["disposition_sla"]["n"] == 6


def test_auc_is_the_share_of_accepted_rejected_pairs_the_score_orders_right(figures):
    # Accepted 100, 90, 55 against rejected 70, 60, 50: 100 and 90 beat all three, 55 only 50.
    assert figures["auc"] == pytest.approx(7 / 9)


def test_quintiles_split_the_months_scores_into_five_bands(figures):
    bands = {q["quintile"]: q for q in figures["quintiles"]}
    # Sorted 50 55 60 70 90 95 100: Q1 {50} Q2 {55} Q3 {60, 70} Q4 {90} Q5 {95, 100}.
    assert [(q["low"], q["high"], q["handoffs"]) for q in bands.values()] == [
        (50, 50, 1),
        (55, 55, 1),
        (60, 70, 2),
        (90, 90, 1),
        (95, 100, 2),
    ]
    assert bands[3]["acceptance_rate"] == 0
    assert bands[5]["acceptance_rate"] == 1  # h7 is open, h1 accepted
    assert bands[5]["win_rate"] == pytest.approx(1 / 2)


def test_each_matrix_cell_has_its_handoffs_acceptance_and_win_rate(figures):
    a1, a2, b1 = (figures["cells"][c] for c in ("A1", "A2", "B1"))
    assert (a1["handoffs"], a1["acceptance_rate"], a1["win_rate"]) == (3, 1, pytest.approx(1 / 3))
    assert (a2["handoffs"], a2["acceptance_rate"], a2["win_rate"]) == (2, 0.5, 0)
    assert (b1["handoffs"], b1["acceptance_rate"]) == (2, 0)


def test_per_sdr_and_per_source_breakdowns(figures):
    sdrs = {s["name"]: s for s in figures["sdrs"]}
    assert (sdrs["Sam Reyes"]["handoffs"], sdrs["Sam Reyes"]["acceptance_rate"]) == (3, 1)
    assert (sdrs["Pat Lee"]["handoffs"], sdrs["Pat Lee"]["acceptance_rate"]) == (4, 0)
    assert sdrs["Sam Reyes"]["median_hours"] == 4
    sources = {s["source"]: s for s in figures["sources"]}
    assert (sources["webinar"]["handoffs"], sources["webinar"]["acceptance_rate"]) == (2, 0.5)
    assert (sources["website"]["handoffs"], sources["website"]["accepted"]) == (5, 2)


def test_rule_lift_compares_acceptance_with_and_without_the_rule(figures):
    rules = {
        r["rule"]: r
        for r in calibration.rule_lift(figures["rule_counts"], figures["dispositioned"], 3)
    }
    # Demo: 2 of 2 dispositioned accepted with it (h7 is open), 1 of 4 without: 1 / 0.25.
    demo = rules["Demo"]
    assert (demo["n"], demo["accepted"], demo["n_without"]) == (2, 2, 4)
    assert demo["lift"] == pytest.approx(4)
    # Katz: se = sqrt(1/2 - 1/2 + 1/1 - 1/4) = 0.866; 4 × exp(∓1.96 × 0.866).
    assert (demo["low"], demo["high"]) == (
        pytest.approx(0.7327, rel=1e-3),
        pytest.approx(21.84, rel=1e-3),
    )
    # Title: 2 of 3 with, 1 of 3 without.
    assert rules["Title"]["lift"] == pytest.approx(2)
    # Webinar: never accepted; half a count on each cell: (0.5 / 3) / (3.5 / 5).
    assert rules["Webinar"]["lift"] == pytest.approx((0.5 / 3) / (3.5 / 5))
    # Two handoffs cannot prove a rule wrong: the interval still spans 1.
    assert rules["Webinar"]["low"] < 1 < rules["Webinar"]["high"]


def test_month_bounds_follow_the_site_time_zone(march):
    # "apr" was created at 00:00 UTC on 1 April: still 31 March, 20:00, in New York.
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        assert calibration.month_figures(MARCH, now=AFTER_MARCH)["handoffs"] == 8
        assert calibration.month_figures(date(2026, 4, 1), now=AFTER_MARCH)["handoffs"] == 0
    assert calibration.month_figures(date(2026, 4, 1), now=AFTER_MARCH)["handoffs"] == 1
    # "feb" (23:00 UTC on 28 February) is February in both.
    assert calibration.month_figures(date(2026, 2, 1), now=AFTER_MARCH)["handoffs"] == 1


def test_an_empty_month_has_no_rates_rather_than_zeros(db):
    figures = calibration.month_figures(date(2025, 1, 1))
    assert figures["handoffs"] == 0
    for key in ("acceptance_rate", "lead_to_mql_rate", "mql_to_won", "auc"):
        assert figures[key] is None
    assert figures["median_hours_to_disposition"] is None
    assert figures["quintiles"] == [] and figures["cells"] == {}


def test_a_month_without_dispositions_says_it_is_too_early_to_judge(march):
    Handoff.objects.filter(lead__email="apr@example.com").update(
        disposition="", dispositioned_at=None
    )
    figures = calibration.month_figures(date(2026, 4, 1), now=AFTER_MARCH)
    assert figures["acceptance_rate"] is None
    advice = calibration.recommendations(figures, [])
    assert advice[0].startswith("No MQL was dispositioned this month")


@pytest.mark.parametrize(
    ("count", "opening"),
    [(1, "Only 1 MQL was dispositioned this month"), (7, "Only 7 MQLs were dispositioned")],
)
def test_a_thin_month_counts_its_dispositions_in_plain_words(march, count, opening):
    figures = calibration.month_figures(date(2026, 4, 1), now=AFTER_MARCH)
    advice = calibration.recommendations({**figures, "dispositioned": count}, [])
    assert advice[0].startswith(opening)


def test_a_closed_month_keeps_its_figures_when_history_changes(march, manager):
    services.close_month(MARCH, now=AFTER_MARCH)
    Handoff.objects.filter(pk=march["h7"].pk).update(
        disposition="accepted", dispositioned_at=AFTER_MARCH
    )
    stored = calibration.figures_for(MARCH, user=manager)
    assert (stored["dispositioned"], stored["accepted"]) == (6, 3)
    assert stored["closed_at"] is not None
    # Closing again is a no-op; the live figures do see the late acceptance.
    services.close_month(MARCH)
    assert CalibrationMonth.objects.get().figures["accepted"] == 3
    assert calibration.month_figures(MARCH)["accepted"] == 4


def test_the_live_month_is_read_from_a_cache_for_a_minute(march, manager):
    seen = calibration.figures_for(MARCH, user=manager)
    assert seen["accepted"] == 3
    Handoff.objects.filter(pk=march["h7"].pk).update(
        disposition="accepted", dispositioned_at=AFTER_MARCH
    )
    # Within the minute the page shows the same figures; a given instant is always computed.
    assert calibration.figures_for(MARCH, user=manager) == seen
    assert calibration.dashboard(MARCH, manager).figures["accepted"] == 3
    assert calibration.figures_for(MARCH, user=manager, now=AFTER_MARCH)["accepted"] == 4
    cache.delete(f"calibration:live:{MARCH:%Y-%m}:team")  # the minute is over
    assert calibration.figures_for(MARCH, user=manager)["accepted"] == 4


def test_months_close_a_week_after_they_end_and_only_once(march):
    assert services.close_finished_months(now=at(7, 0, month=4)) == [date(2026, 2, 1)]
    assert services.close_finished_months(now=at(8, 0, month=4)) == [MARCH]
    assert services.close_finished_months(now=at(9, 0, month=4)) == []
    assert CalibrationMonth.objects.count() == 2


def test_an_sdr_reads_their_own_figures_only(march):
    sam = calibration.figures_for(MARCH, user=march["sam"], now=AFTER_MARCH)
    assert (sam["handoffs"], sam["acceptance_rate"]) == (3, 1)
    assert [s["name"] for s in sam["sdrs"]] == ["Sam Reyes"]


def test_the_twelve_month_lift_adds_up_the_months(march, manager):
    board = calibration.dashboard(date(2026, 4, 1), manager, now=AFTER_MARCH)
    demo = next(r for r in board.rules_year if r["rule"] == "Demo")
    # Feb's accepted, March's two accepted (h7 open) and April's bad fit: 3 of 4 with Demo.
    assert (demo["n"], demo["accepted"]) == (4, 3)
    assert [t["handoffs"] for t in board.trend[-3:]] == [1, 7, 1]


def test_recommendations_name_the_rules_to_raise_and_to_lower():
    figures = {
        "dispositioned": 200,
        "accepted": 100,
        "rejected": 100,
        "acceptance_rate": 0.5,
        "rejections": {"bad_fit": 70, "bad_timing": 20, "bad_data": 10},
        "won": 4,
        "mql_to_won": 0.02,
        "auc": 0.55,
        "first_touch": {"met": 190, "n": 200, "rate": 0.95},
    }
    rules = [
        {"rule": "Demo request", "n": 80, "points": 3200.0, "lift": 1.6, "low": 1.3, "high": 2.0},
        {"rule": "E-mail open", "n": 150, "points": 300.0, "lift": 0.7, "low": 0.55, "high": 0.9},
        {"rule": "Free e-mail", "n": 40, "points": -800.0, "lift": 0.4, "low": 0.2, "high": 0.8},
        {"rule": "Rare", "n": 5, "points": 50.0, "lift": 3.0, "low": 1.1, "high": 8.0},
    ]
    advice = " ".join(calibration.recommendations(figures, rules))
    assert "Acceptance is 50 %, below the 60–80 % band: most rejections are bad fit" in advice
    assert "“Demo request” earns its points" in advice
    assert "“E-mail open” gives points to leads sales rejects" in advice
    assert "Free e-mail" not in advice  # a penalty that predicts rejection is doing its job
    assert "Rare" not in advice  # n = 5 is too few to judge
    assert "Only 2 % of MQLs were won (floor 5 %)" in advice
    assert "AUC 0.55" in advice


def test_new_handoffs_record_their_rules_as_rows(march):
    assert set(
        HandoffContribution.objects.filter(handoff=march["h1"]).values_list("rule", flat=True)
    ) == {"Demo", "Title"}
