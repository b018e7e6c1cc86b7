"""The SDR queue at "/" (design §4): order, filters, the pool, SLA words, paging, counts."""

from datetime import timedelta
from itertools import count

import pytest
from django.core.cache import cache
from django.utils import timezone

from feedback import selectors
from feedback.models import MQL_RANK, Handoff, MqlClass
from feedback.roles import SDR
from leads.models import Account, Activity, Lead, LeadScore
from scoring.services import clone_ruleset, load_default_ruleset, publish_ruleset
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

_serial = count(1)
CLASS_OF_RANK = {rank: mql_class for mql_class, rank in MQL_RANK.items()}
DEMO = [
    {"rule": "Senior title", "kind": "fit", "points": 20, "value": 20, "activities": []},
    {"rule": "Demo request", "kind": "behavior", "points": 40, "value": 38.2, "activities": []},
    {"rule": "E-mail open", "kind": "behavior", "points": 1, "value": 2.7, "activities": []},
    {"rule": "Free e-mail", "kind": "fit", "points": -20, "value": -20, "activities": []},
]


@pytest.fixture
def ruleset(db):
    return load_default_ruleset(publish=True, sync=True)


def make_lead(name: str = "", *, account: Account | None = None, **fields) -> Lead:
    n = next(_serial)
    first, _, last = (name or f"Lead {n}").partition(" ")
    return Lead.objects.create(
        email=f"{first.lower()}.{n}@example.com",
        first_name=first,
        last_name=last,
        title=fields.pop("title", "VP Marketing"),
        account=account,
        **fields,
    )


def make_handoff(
    lead: Lead | None = None,
    *,
    assigned_to=None,
    rank: int = 1,
    due_in: timedelta = timedelta(minutes=45),
    score: float = 80.0,
    cell: str = "A1",
    contributions=None,
    **extra,
) -> Handoff:
    """An open handoff written directly, for precise ordering (no scoring involved)."""
    from scoring.models import RuleSet

    now = timezone.now()
    lead = lead or make_lead()
    due = now + due_in
    return Handoff.objects.create(
        lead=lead,
        ruleset=RuleSet.objects.active() or load_default_ruleset(publish=True, sync=True),
        fit_score=40,
        interest_score=score - 40,
        total_score=score,
        cell=cell,
        contributions=DEMO if contributions is None else contributions,
        mql_class=CLASS_OF_RANK[rank],
        rank=rank,
        assigned_to=assigned_to,
        assigned_at=now if assigned_to else None,
        created_at=now - timedelta(minutes=5),
        first_touch_due=due,
        sla_due=due,
        disposition_due=now + timedelta(hours=72),
        **extra,
    )


def names(response) -> list[str]:
    return [str(h.lead) for h in response.context["page"].rows]


@pytest.fixture
def other_sdr(db):
    return make_user("pat", SDR, first_name="Pat", last_name="Lee")


# Who lands where ----------------------------------------------------------------------------------


def test_it_shows_an_sdr_their_queue_at_home(client, sdr, ruleset):
    make_handoff(make_lead("Dana Whitfield"), assigned_to=sdr)
    client.force_login(sdr)

    response = client.get("/")

    assert response.status_code == 200
    assert next(t.name for t in response.templates) == "feedback/queue.html"
    assert b"Your queue" in response.content
    assert b"Dana Whitfield" in response.content


def test_it_keeps_the_summary_for_marketing(client, marketer, ruleset):
    client.force_login(marketer)

    response = client.get("/")

    assert next(t.name for t in response.templates) == "feedback/home.html"
    assert b"In an MQL cell" in response.content
    assert b'id="nav-queue-count"' not in response.content


def test_the_summary_counts_leads_and_the_last_weeks_activities(client, marketer, ruleset):
    mql = make_lead("Dana Whitfield")
    make_lead("Sam Okafor")
    LeadScore.objects.filter(pk=mql.pk).update(cell="A1", disqualified=False)
    now = timezone.now()
    for kind, age in [("page_view", 1), ("email_open", 2), ("demo_request", 8)]:
        Activity.objects.create(lead=mql, kind=kind, occurred_at=now - timedelta(days=age))
    client.force_login(marketer)

    summary = client.get("/").context["summary"]

    assert (summary["leads"], summary["in_mql_cells"], summary["activities_7d"]) == (2, 1, 2)


def test_the_summary_is_at_most_a_minute_old_and_follows_a_publish(client, marketer, ruleset):
    make_lead("Dana Whitfield")
    client.force_login(marketer)
    assert client.get("/").context["summary"]["leads"] == 1
    make_lead("Sam Okafor")

    assert client.get("/").context["summary"]["leads"] == 1  # within the minute
    cache.clear()  # the minute is over
    assert client.get("/").context["summary"]["leads"] == 2
    make_lead("Kim Lee")
    publish_ruleset(clone_ruleset(ruleset), sync=True)  # new MQL cells: counted afresh
    assert client.get("/").context["summary"]["leads"] == 3


def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# Order -----------------------------------------------------------------------------------------


def test_it_orders_priority_then_fast_track_then_standard_then_sla_then_score(client, sdr, ruleset):
    make_handoff(make_lead("Std Soon"), assigned_to=sdr, rank=3, due_in=timedelta(minutes=5))
    make_handoff(make_lead("Fast Later"), assigned_to=sdr, rank=2, due_in=timedelta(hours=3))
    make_handoff(make_lead("Pri Later"), assigned_to=sdr, rank=1, due_in=timedelta(minutes=50))
    make_handoff(make_lead("Pri Soon Low"), assigned_to=sdr, rank=1, due_in=timedelta(minutes=10))
    due = timedelta(minutes=30)
    same = make_handoff(make_lead("Pri Same High"), assigned_to=sdr, due_in=due, score=120)
    Handoff.objects.create(
        **{
            f.attname: getattr(same, f.attname)
            for f in Handoff._meta.concrete_fields
            if f.attname not in ("id", "lead_id", "total_score")
        },
        lead=make_lead("Pri Same Low"),
        total_score=90,
    )
    make_handoff(make_lead("Fast Sooner"), assigned_to=sdr, rank=2, due_in=timedelta(hours=1))
    client.force_login(sdr)

    assert names(client.get("/")) == [
        "Pri Soon Low",
        "Pri Same High",
        "Pri Same Low",
        "Pri Later",
        "Fast Sooner",
        "Fast Later",
        "Std Soon",
    ]


def test_it_shows_an_sdr_only_their_own_open_handoffs(client, sdr, other_sdr, ruleset):
    make_handoff(make_lead("Mine Open"), assigned_to=sdr)
    make_handoff(make_lead("Theirs"), assigned_to=other_sdr)
    make_handoff(make_lead("Mine Done"), assigned_to=sdr, disposition="accepted")
    make_handoff(make_lead("In The Pool"))
    client.force_login(sdr)

    assert names(client.get("/")) == ["Mine Open"]
    # An SDR cannot ask for the team's.
    assert names(client.get("/?scope=team")) == ["Mine Open"]


def test_a_manager_switches_between_mine_and_the_team(client, manager, sdr, other_sdr, ruleset):
    make_handoff(make_lead("Sams"), assigned_to=sdr, due_in=timedelta(minutes=10))
    make_handoff(make_lead("Pats"), assigned_to=other_sdr, due_in=timedelta(minutes=20))
    make_handoff(make_lead("Morgans"), assigned_to=manager, due_in=timedelta(minutes=30))
    make_handoff(make_lead("Nobodys"))
    client.force_login(manager)

    assert names(client.get("/")) == ["Morgans"]
    team = client.get("/?scope=team")
    assert names(team) == ["Sams", "Pats", "Morgans"]
    assert b"Team queue" in team.content
    assert b'<th scope="col">SDR</th>' in team.content
    assert b"Pat Lee" in team.content


# Filters ---------------------------------------------------------------------------------------


def test_it_filters_by_class(client, sdr, ruleset):
    make_handoff(make_lead("Pri"), assigned_to=sdr, rank=1)
    make_handoff(make_lead("Fast"), assigned_to=sdr, rank=2)
    make_handoff(make_lead("Std"), assigned_to=sdr, rank=3)
    client.force_login(sdr)

    assert names(client.get("/?class=fast_track")) == ["Fast"]
    assert names(client.get("/?class=standard")) == ["Std"]
    assert names(client.get("/?class=nonsense")) == ["Pri", "Fast", "Std"]


def test_it_filters_overdue_and_marks_them_red(client, sdr, ruleset):
    make_handoff(make_lead("Late"), assigned_to=sdr, due_in=-timedelta(hours=2, minutes=5))
    make_handoff(
        make_lead("Breached Earlier"),
        assigned_to=sdr,
        rank=2,
        due_in=timedelta(hours=60),
        sla_breached_at=timezone.now() - timedelta(hours=1),
        first_touched_at=timezone.now(),
    )
    make_handoff(
        make_lead("On Time"), assigned_to=sdr, rank=3, due_in=timedelta(hours=3, minutes=10)
    )
    client.force_login(sdr)

    response = client.get("/?overdue=1")

    assert names(response) == ["Late", "Breached Earlier"]
    html = response.content.decode()
    assert "overdue 2 h" in html
    assert 'class="sla-cell sla-late"' in html
    assert "SLA missed · decision" in html
    everything = client.get("/").content.decode()
    assert "3 h left" in everything
    assert "2 overdue" in everything  # in the summary line under the heading


def test_the_list_partial_answers_htmx_and_keeps_the_filters_for_polling(client, sdr, ruleset):
    make_handoff(make_lead("Fast"), assigned_to=sdr, rank=2)
    client.force_login(sdr)

    response = client.get("/?class=fast_track&overdue=1", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="queue-list"')
    assert 'hx-trigger="every 30s' in html
    assert 'hx-get="/?class=fast_track&amp;overdue=1"' in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(client, sdr, ruleset):
    client.force_login(sdr)
    response = client.get("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert b"<html" in response.content


# The pool -------------------------------------------------------------------------------------


def test_an_sdr_sees_the_unassigned_pool_and_claims_from_it(client, sdr, other_sdr, ruleset):
    pooled = make_handoff(make_lead("Nobodys"))
    make_handoff(make_lead("Pats"), assigned_to=other_sdr)
    client.force_login(sdr)

    pool = client.get("/?scope=pool")
    assert names(pool) == ["Nobodys"]
    assert b">Claim</button>" in pool.content

    response = client.post(
        f"/handoffs/{pooled.pk}/claim/", {"scope": "pool"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "queueChanged"
    assert b"Claimed: Nobodys is in your queue now." in response.content
    assert b">Accept</button>" in response.content  # workable at once
    pooled.refresh_from_db()
    assert pooled.assigned_to == sdr
    assert names(client.get("/")) == ["Nobodys"]
    assert names(client.get("/?scope=pool")) == []


def test_claiming_what_someone_just_claimed_says_so(client, sdr, other_sdr, ruleset):
    pooled = make_handoff(make_lead("Nobodys"))
    Handoff.objects.filter(pk=pooled.pk).update(assigned_to=other_sdr)
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{pooled.pk}/claim/", {"scope": "pool"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 409
    assert b"Someone claimed this MQL a moment ago." in response.content
    assert b">Accept</button>" not in response.content
    assert Handoff.objects.get().assigned_to == other_sdr


# Rows, SLA words, paging and counts -------------------------------------------------------------


def test_a_row_says_who_why_and_how_long_in_a_glance(client, sdr, ruleset):
    account = Account.objects.create(name="Northwind", domain="northwind.com")
    lead = make_lead("Dana Whitfield", account=account, title="VP Marketing")
    make_handoff(lead, assigned_to=sdr, score=110.4, due_in=timedelta(minutes=42, seconds=30))
    client.force_login(sdr)

    html = client.get("/").content.decode()

    assert "Dana Whitfield" in html
    assert "VP Marketing · Northwind" in html
    assert ">A1<" in html and "Priority" in html
    assert '<span class="score">110</span>' in html
    assert "Demo request, Senior title" in html  # the top two by value, no negatives
    assert "42 min left" in html
    assert f'href="/leads/{lead.pk}/"' in html


@pytest.mark.parametrize(
    ("left", "words", "state"),
    [
        (timedelta(minutes=42, seconds=10), "42 min left", "ok"),
        (timedelta(minutes=12), "12 min left", "soon"),
        (timedelta(hours=3, minutes=40), "3 h left", "ok"),
        (timedelta(days=3, hours=1), "3 d left", "ok"),
        (-timedelta(hours=2, minutes=1), "overdue 2 h", "late"),
        (-timedelta(seconds=20), "overdue 1 min", "late"),
    ],
)
def test_sla_words(left, words, state):
    now = timezone.now()
    handoff = Handoff(sla_due=now + left, first_touched_at=None, sla_breached_at=None)
    status = selectors.sla_status(handoff, now)
    assert (status.text, status.state, status.what) == (words, state, "first touch")


def test_why_takes_the_two_largest_positive_reasons():
    assert selectors.why(DEMO) == "Demo request, Senior title"
    assert selectors.why([]) == ""


def test_it_pages_by_25_without_counting_everything(
    client, sdr, ruleset, django_assert_max_num_queries
):
    for i in range(60):
        make_handoff(make_lead(f"Lead {i:02}"), assigned_to=sdr, due_in=timedelta(minutes=i + 1))
    client.force_login(sdr)

    first = client.get("/")
    assert len(first.context["page"].rows) == 25
    assert names(first)[0] == "Lead 00"
    assert first.context["page"].has_next and not first.context["page"].has_previous
    assert b"1\xe2\x80\x9325" in first.content
    third = client.get("/?page=3")
    assert names(third) == [f"Lead {i:02}" for i in range(50, 60)]
    assert not third.context["page"].has_next
    assert b"?page=2" in third.content
    with django_assert_max_num_queries(12):
        client.get("/?page=2", headers={"HX-Request": "true"})
    far = client.get("/?page=99999999999999999999")  # past any OFFSET the database takes
    assert far.status_code == 200 and names(far) == []


def test_counts_are_capped_so_a_poll_never_counts_every_handoff(sdr, ruleset):
    for _ in range(5):
        make_handoff(assigned_to=sdr)
    make_handoff(assigned_to=sdr, due_in=-timedelta(minutes=3))
    make_handoff()
    counts = selectors.queue_counts(sdr)
    assert (counts.mine, counts.overdue, counts.pool) == (6, 1, 1)
    assert selectors.count_label(100) == "99+"
    assert selectors.count_label(7) == "7"
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        selectors.queue_counts(sdr)
    assert all("LIMIT 100" in q["sql"] for q in queries.captured_queries)


def test_the_nav_badge_counts_open_mqls_and_polls(client, sdr, ruleset):
    for _ in range(3):
        make_handoff(assigned_to=sdr)
    make_handoff(assigned_to=sdr, due_in=-timedelta(minutes=3))
    client.force_login(sdr)

    badge = client.get("/queue/counts/").content.decode()
    assert 'id="nav-queue-count"' in badge
    assert "has-overdue" in badge
    assert ">4<" in badge
    assert "every 30s" in badge and "queueChanged from:body" in badge
    assert "hx-swap-oob" not in badge
    with_tabs = client.get("/queue/counts/?tabs=1").content.decode()
    assert 'id="tab-count-mine" class="tab-count" hx-swap-oob="true">4<' in with_tabs
    # On the queue page itself the badge arrives filled in.
    assert 'nav-count has-overdue"' in client.get("/").content.decode()


def test_marketing_gets_no_badge(client, marketer):
    client.force_login(marketer)
    assert client.get("/queue/counts/").content == b""


def test_it_explains_an_empty_queue(client, sdr):
    client.force_login(sdr)
    assert b"No rule set is active yet." in client.get("/").content
    load_default_ruleset(publish=True, sync=True)
    assert b"All clear." in client.get("/").content
    assert b"Nothing matches these filters." in client.get("/?class=priority").content
    assert b"No unassigned MQLs." in client.get("/?scope=pool").content


def test_queue_for_filters_by_rank_on_the_index(sdr, ruleset):
    make_handoff(assigned_to=sdr, rank=2)
    query = str(selectors.queue_for(sdr, mql_class=MqlClass.FAST_TRACK).query)
    assert '"rank" = 2' in query
    assert query.index('"rank"') < query.index("ORDER BY")
