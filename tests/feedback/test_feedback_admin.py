"""The handoff and score-flag admin: the audit trail behind the dashboards."""

import pytest

from feedback import calibration
from feedback.models import ScoreFlag
from feedback.roles import SDR
from leads.models import Lead
from tests.conftest import make_user
from tests.feedback.history import AFTER_MARCH, MARCH

pytestmark = pytest.mark.django_db


def test_the_dashboards_handoff_link_lists_exactly_the_months_handoffs(
    client,
    manager,
    march,
):
    client.force_login(manager)
    board = calibration.dashboard(MARCH, manager, now=AFTER_MARCH)
    page = client.get(f"/admin/feedback/handoff/?{board.handoffs_query}").content.decode()
    assert "7 handoffs" in page
    detail = client.get(f"/admin/feedback/handoff/{march['h1'].pk}/change/").content.decode()
    assert "Demo" in detail and "Title" in detail  # the rules in the snapshot, as rows
    assert 'name="_save"' not in detail  # read-only: handoffs are worked in the queue


def test_marketing_resolves_flags_and_they_leave_the_open_list(client, marketer, manager):
    lead = Lead.objects.create(email="flagged@example.com")
    flag = ScoreFlag.objects.create(
        lead=lead, direction="too_high", reason="A student", total_score=90
    )
    client.force_login(marketer)
    response = client.post(
        "/admin/feedback/scoreflag/",
        {"action": "resolve", "_selected_action": [flag.pk]},
        follow=True,
    )
    assert "1 flag resolved." in response.content.decode()
    flag.refresh_from_db()
    assert flag.resolved_at is not None
    assert calibration.dashboard(calibration.month_of(flag.created_at), manager).flags == []


def test_sdrs_cannot_open_the_handoff_admin(client):
    client.force_login(make_user("sid", SDR, is_staff=True))
    assert client.get("/admin/feedback/handoff/").status_code == 403
