"""Acting on a handoff from the queue (htmx and plain forms): contacted, the four dispositions,
undo, reassign; and every refusal said clearly in place, never a silent overwrite.

Refusals: 403 for a role that may not act at all (marketing); 409, with the row re-rendered
around the message, when the handoff's state refuses (decided by someone else, not yours, too
late to undo); 422 for a form error. htmx swaps 409 and 422 (base.html's htmx-config).
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from feedback.models import Disposition, Handoff
from feedback.roles import SDR
from leads.models import Lead, Stage
from tests.conftest import make_user
from tests.feedback.test_queue import make_handoff, make_lead

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def other_sdr(db):
    return make_user("pat", SDR, first_name="Pat", last_name="Lee")


@pytest.fixture
def handoff(sdr, ruleset):
    return make_handoff(make_lead("Dana Whitfield"), assigned_to=sdr)


@pytest.fixture
def ruleset(db):
    from scoring.services import load_default_ruleset

    return load_default_ruleset(publish=True, sync=True)


def decide(client, handoff, outcome, note="", **extra):
    return client.post(
        f"/handoffs/{handoff.pk}/disposition/",
        {"outcome": outcome, "note": note, "scope": "mine", **extra},
        headers=HX,
    )


@pytest.mark.parametrize(
    ("outcome", "words", "stage"),
    [
        (Disposition.ACCEPTED, "accepted", Stage.ACCEPTED),
        (Disposition.BAD_FIT, "bad fit", Stage.REJECTED),
        (Disposition.BAD_TIMING, "bad timing", Stage.RECYCLED),
        (Disposition.BAD_DATA, "bad data", Stage.REJECTED),
    ],
)
def test_each_disposition_is_one_click_with_an_optional_note(
    client, sdr, handoff, outcome, words, stage
):
    client.force_login(sdr)

    response = decide(client, handoff, outcome, note="  Spoke to her; budget in Q3  ")

    assert response.status_code == 200
    assert response["HX-Trigger"] == "queueChanged"  # the nav badge refreshes
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="handoff-{handoff.pk}" class="queue-row is-done"')
    assert f"Marked <strong>{words}</strong>" in html
    assert ">Undo</button>" in html
    assert 'hx-trigger="load delay:10s"' in html  # the strip leaves after 10 s
    handoff.refresh_from_db()
    assert handoff.disposition == outcome
    assert handoff.note == "Spoke to her; budget in Q3"
    assert handoff.dispositioned_by == sdr
    assert Lead.objects.get().stage == stage


def test_the_note_is_optional(client, sdr, handoff):
    client.force_login(sdr)
    assert decide(client, handoff, "accepted").status_code == 200
    handoff.refresh_from_db()
    assert (handoff.disposition, handoff.note) == ("accepted", "")


def test_an_unknown_outcome_is_refused_with_a_message(client, sdr, handoff):
    client.force_login(sdr)
    response = decide(client, handoff, "maybe")
    assert response.status_code == 422
    assert b"Choose accepted, bad fit, bad timing or bad data." in response.content
    assert Handoff.objects.get().is_open


def test_mark_contacted_moves_the_sla_to_the_decision(client, sdr, handoff):
    client.force_login(sdr)

    response = client.post(f"/handoffs/{handoff.pk}/contacted/", {"scope": "mine"}, headers=HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Marked as contacted." in html
    assert "Contacted " in html and ">Mark contacted</button>" not in html
    assert "decision" in html
    handoff.refresh_from_db()
    assert handoff.first_touched_at is not None
    assert handoff.sla_due == handoff.disposition_due


def test_undo_within_the_window_puts_the_row_back(client, sdr, handoff):
    client.force_login(sdr)
    decide(client, handoff, "bad_timing", note="call in spring")

    response = client.post(f"/handoffs/{handoff.pk}/undo/", {"scope": "mine"}, headers=HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "is back in the queue" in html
    assert ">Accept</button>" in html
    handoff.refresh_from_db()
    assert handoff.is_open and handoff.note == "" and handoff.dispositioned_by is None
    assert Lead.objects.get().stage == Stage.MQL


def test_undo_after_the_window_is_refused_and_the_disposition_stands(client, sdr, handoff):
    client.force_login(sdr)
    decide(client, handoff, "bad_fit")
    Handoff.objects.filter(pk=handoff.pk).update(
        dispositioned_at=timezone.now() - timedelta(seconds=11)
    )

    response = client.post(f"/handoffs/{handoff.pk}/undo/", {"scope": "mine"}, headers=HX)

    assert response.status_code == 409
    assert b"Too late to undo: the disposition stands." in response.content
    assert Handoff.objects.get().disposition == "bad_fit"


def test_the_strip_leaves_the_queue_when_its_time_is_up(client, sdr, handoff):
    client.force_login(sdr)
    decide(client, handoff, "accepted")
    assert client.get(f"/handoffs/{handoff.pk}/row/?where=queue", headers=HX).content == b""


def test_someone_else_deciding_first_is_said_in_the_row(client, sdr, manager, handoff):
    """A manager and the SDR both click: the second is told who decided, and when."""
    manager_client = Client()
    manager_client.force_login(manager)
    client.force_login(sdr)

    first = decide(manager_client, handoff, "bad_fit", note="not our market")
    second = decide(client, handoff, "accepted", note="she wants a demo")

    assert first.status_code == 200
    assert second.status_code == 409
    html = second.content.decode()
    assert "Morgan already marked this MQL bad fit at" in html
    assert 'role="alert"' in html
    assert ">Accept</button>" not in html  # nothing left to click
    handoff.refresh_from_db()
    assert (handoff.disposition, handoff.note, handoff.dispositioned_by) == (
        "bad_fit",
        "not our market",
        manager,
    )


@pytest.mark.django_db(transaction=True)
def test_two_people_at_once_store_exactly_one_disposition(sdr, manager, ruleset):
    """Both requests really race: the row lock makes one wait for the other, which then sees
    the first one's result. On PostgreSQL only: the tests' in-memory SQLite cannot have two
    writers at once (the test above covers the same outcome one after the other)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (two concurrent writers)")
    handoff = make_handoff(make_lead("Dana Whitfield"), assigned_to=sdr)
    clients = []
    for user in (sdr, manager):
        c = Client()
        c.force_login(user)
        clients.append(c)
    barrier = threading.Barrier(2)
    responses = {}

    def act(index, outcome):
        try:
            barrier.wait()
            responses[index] = decide(clients[index], handoff, outcome)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=act, args=(0, "accepted")),
        threading.Thread(target=act, args=(1, "bad_timing")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    statuses = sorted(r.status_code for r in responses.values())
    assert statuses == [200, 409]
    loser = next(r for r in responses.values() if r.status_code == 409)
    assert b"already marked this MQL" in loser.content
    handoff.refresh_from_db()
    assert handoff.disposition in ("accepted", "bad_timing")
    winner = next(r for r in responses.values() if r.status_code == 200)
    assert f"Marked <strong>{handoff.get_disposition_display().lower()}</strong>" in (
        winner.content.decode()
    )


def test_an_sdr_cannot_act_on_another_sdrs_handoff(client, other_sdr, handoff):
    client.force_login(other_sdr)

    for url, data in [
        ("disposition", {"outcome": "bad_fit"}),
        ("contacted", {}),
        ("claim", {}),
    ]:
        response = client.post(f"/handoffs/{handoff.pk}/{url}/", data, headers=HX)
        assert response.status_code == 409, url
        assert b">Accept</button>" not in response.content
    assert b"This MQL is not yours to work." in decide(client, handoff, "bad_fit").content
    handoff.refresh_from_db()
    assert handoff.is_open and handoff.first_touched_at is None
    # Nor see its row.
    assert client.get(f"/handoffs/{handoff.pk}/row/", headers=HX).content == b""


def test_marketing_cannot_disposition(client, marketer, handoff):
    client.force_login(marketer)
    assert decide(client, handoff, "accepted").status_code == 403
    assert client.post(f"/handoffs/{handoff.pk}/claim/", headers=HX).status_code == 403
    assert Handoff.objects.get().is_open


def test_anonymous_posts_go_to_the_login_page(client, handoff):
    response = client.post(f"/handoffs/{handoff.pk}/disposition/", {"outcome": "accepted"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Handoff.objects.get().is_open


def test_csrf_is_checked_and_the_header_htmx_sends_passes_it(sdr, handoff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sdr)
    page = client.get("/").content.decode()
    # base.html gives htmx the token for every request it makes.
    token = page.split('hx-headers=\'{"X-CSRFToken": "')[1].split('"')[0]

    refused = client.post(f"/handoffs/{handoff.pk}/contacted/", headers=HX)
    accepted = client.post(
        f"/handoffs/{handoff.pk}/contacted/", headers={**HX, "X-CSRFToken": token}
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200


def test_without_javascript_a_form_post_redirects_back_with_a_message(client, sdr, handoff):
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.pk}/disposition/",
        {"outcome": "bad_data", "next": "/?class=priority"},
        follow=True,
    )

    assert response.redirect_chain == [("/?class=priority", 302)]
    assert b"Marked Dana Whitfield bad data." in response.content
    assert Handoff.objects.get().disposition == "bad_data"


def test_a_redirect_never_leaves_the_site(client, sdr, handoff):
    client.force_login(sdr)
    response = client.post(f"/handoffs/{handoff.pk}/contacted/", {"next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_a_manager_reassigns_from_the_queue(client, manager, sdr, other_sdr, handoff):
    client.force_login(manager)
    team = client.get("/?scope=team").content.decode()
    assert f'<option value="{other_sdr.pk}">Pat Lee</option>' in team

    response = client.post(
        f"/handoffs/{handoff.pk}/reassign/", {"to": other_sdr.pk, "scope": "team"}, headers=HX
    )

    assert response.status_code == 200
    assert b"Moved to Pat Lee." in response.content
    assert Handoff.objects.get().assigned_to == other_sdr


def test_a_manager_can_send_one_back_to_the_pool(client, manager, handoff):
    client.force_login(manager)
    response = client.post(f"/handoffs/{handoff.pk}/reassign/", {"to": ""}, headers=HX)
    assert b"Moved to the unassigned pool." in response.content
    assert Handoff.objects.get().assigned_to is None


def test_an_sdr_cannot_reassign(client, sdr, other_sdr, handoff):
    client.force_login(sdr)
    response = client.post(f"/handoffs/{handoff.pk}/reassign/", {"to": other_sdr.pk}, headers=HX)
    assert response.status_code == 403
    assert Handoff.objects.get().assigned_to == sdr


def test_reassigning_to_someone_who_is_not_an_sdr_is_refused(client, manager, marketer, handoff):
    client.force_login(manager)
    response = client.post(f"/handoffs/{handoff.pk}/reassign/", {"to": marketer.pk}, headers=HX)
    assert response.status_code == 422
    assert b"Choose an SDR who takes leads." in response.content


def test_a_reassigned_handoff_tells_its_former_sdr(client, sdr, other_sdr, handoff):
    Handoff.objects.filter(pk=handoff.pk).update(assigned_to=other_sdr)
    client.force_login(sdr)
    response = decide(client, handoff, "accepted")
    assert response.status_code == 409
    assert b"This MQL is not yours to work." in response.content
    assert Handoff.objects.get().is_open
