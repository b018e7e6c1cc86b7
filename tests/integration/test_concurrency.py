"""Two people, two processes' worth of connections, one handoff: PostgreSQL's row locks and
constraints decide, not luck."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from feedback import services
from feedback.models import Handoff
from feedback.roles import MANAGER, SDR
from leads.services import NewActivity, ingest_activities, upsert_lead
from scoring.services import load_default_ruleset, rescore_leads
from tests.conftest import make_user

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("real_services")]


def run_together(*targets):
    """Start the callables at the same instant on their own connections; collect results."""
    barrier = threading.Barrier(len(targets))
    results = [None] * len(targets)

    def runner(index, target):
        barrier.wait()
        try:
            results[index] = target()
        except Exception as error:  # the test inspects what each one met
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.fixture
def open_handoff(transactional_db):
    sdr, manager = make_user("sam", SDR), make_user("morgan", MANAGER)
    load_default_ruleset(publish=True, sync=True)
    lead, *_ = upsert_lead(
        email="dana@northwind.com",
        title="VP Sales",
        account={"domain": "northwind.com", "industry": "Software", "employee_count": 300},
    )
    ingest_activities(
        [NewActivity(lead_id=lead.pk, kind="demo_request", occurred_at=timezone.now())]
    )
    return Handoff.objects.get(), sdr, manager


def test_two_people_dispositioning_at_once_store_exactly_one(open_handoff):
    handoff, sdr, manager = open_handoff
    results = run_together(
        lambda: services.disposition(handoff.pk, user=sdr, outcome="accepted"),
        lambda: services.disposition(handoff.pk, user=manager, outcome="bad_fit"),
    )
    errors = [r for r in results if isinstance(r, services.HandoffError)]
    assert len(errors) == 1 and "already marked this MQL" in str(errors[0])
    handoff.refresh_from_db()
    assert handoff.disposition in ("accepted", "bad_fit")


def test_concurrent_rescoring_never_opens_two_handoffs(open_handoff):
    handoff, sdr, _ = open_handoff
    services.disposition(handoff.pk, user=sdr, outcome="bad_data")
    lead = handoff.lead
    upsert_lead(email=lead.email, first_name="Dana")  # edited: eligible again, one opens
    Handoff.objects.filter(disposition="").delete()  # … now race to open it
    results = run_together(
        *[(lambda: rescore_leads([lead.pk], reason="rescore")) for _ in range(6)]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Handoff.objects.filter(lead=lead, disposition="").count() == 1
