"""Issue acceptance: on seed_demo's data the dashboard finds the demo's hidden truth
(leads.demo): the rules that really predict acceptance lift it, the noise rules do not, and the
recommendations say so."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from feedback import calibration

pytestmark = pytest.mark.django_db


def test_the_dashboard_finds_which_rules_predict_acceptance(manager, settings):
    settings.DEBUG = True  # seed_demo refuses to create its known logins in production
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())  # 5,000 leads, 12 months
    board = calibration.dashboard(calibration.month_of(timezone.now()), manager)
    lift = {r["rule"]: r for r in board.rules_year}

    # The truth rewards demo requests, senior titles and 50-2,000 employees...
    for rule in ("Demo request", "Senior title", "50-500 employees"):
        assert lift[rule]["low"] > 1, rule
    # ...and gives nothing for e-mail opens, less than the points for webinars, and less for
    # 5,000+ employees.
    for rule in ("E-mail open", "Webinar attended", "5000+ employees"):
        assert lift[rule]["high"] < 1, rule
    assert lift["North America"]["lift"] < 1

    advice = " ".join(board.recommendations)
    assert "“Demo request” earns its points" in advice
    assert "“E-mail open” gives points to leads sales rejects" in advice
    assert "“5000+ employees” gives points to leads sales rejects" in advice
