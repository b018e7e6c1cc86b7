"""Who dispositioned, undid, claimed or reassigned which MQL, and when: each is a line in the
admin's history of the handoff."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from feedback import services
from feedback.roles import MANAGER, SDR
from scoring.services import load_default_ruleset
from tests.conftest import make_user
from tests.feedback.history import make_handoff

pytestmark = pytest.mark.django_db


def history(handoff) -> list[tuple[str, str]]:
    entries = LogEntry.objects.filter(object_id=str(handoff.pk)).order_by("pk")
    return [(e.user.get_username(), e.get_change_message()) for e in entries]


def test_each_action_on_a_handoff_is_in_its_admin_history(client):
    load_default_ruleset(publish=True, sync=True)
    sam = make_user("sam", SDR, first_name="Sam", last_name="Reyes")
    pat = make_user("pat", SDR, first_name="Pat", last_name="Lee")
    morgan = make_user("morgan", MANAGER, is_staff=True)
    handoff = make_handoff("ana", 90, "A1", "", [], created_at=timezone.now() - timedelta(hours=1))

    services.claim(handoff.pk, user=sam)
    services.reassign(handoff.pk, user=morgan, to=pat)
    services.disposition(handoff.pk, user=pat, outcome="bad_timing", note="Q3")
    services.undo_disposition(handoff.pk, user=pat)

    assert history(handoff) == [
        ("sam", "Claimed from the pool."),
        ("morgan", "Reassigned from Sam Reyes to Pat Lee."),
        ("pat", "Dispositioned: Bad timing."),
        ("pat", "Undid the disposition."),
    ]
    client.force_login(morgan)
    page = client.get(reverse("admin:feedback_handoff_history", args=[handoff.pk]))
    assert "Reassigned from Sam Reyes to Pat Lee." in page.content.decode()


def test_a_refused_action_leaves_no_trace(client):
    load_default_ruleset(publish=True, sync=True)
    sam = make_user("sam", SDR)
    handoff = make_handoff("ana", 90, "A1", "", [], created_at=timezone.now())
    with pytest.raises(services.HandoffError):
        services.reassign(handoff.pk, user=sam, to=None)
    assert history(handoff) == []
