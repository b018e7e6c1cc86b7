"""Who may open what: every page, action and API endpoint, for anonymous visitors, an SDR,
marketing, a manager and an administrator (design §6: nothing but the login page and the health
check is public; each role sees and changes only what it should).

The world: Sam and Pat are SDRs with one open MQL each. Every case is a fresh database, so an
action one role takes cannot change the answer another gets.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.services import create_token
from feedback.models import Backtest
from feedback.roles import MANAGER, MARKETING, SDR
from scoring.services import load_default_ruleset
from tests.conftest import make_user
from tests.feedback.history import make_handoff

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "sdr", "marketing", "manager", "admin")
LOGIN, ADMIN_LOGIN = "login", "admin-login"

# (method, url name, its arguments' keys in the world) -> the answer per role, in ROLES' order.
# LOGIN is a redirect to the site's login page; the admin's index sends visitors and people who
# are not staff to its own (ADMIN_LOGIN).
PAGES = {
    ("get", "home", ()): (LOGIN, 200, 200, 200, 200),
    ("get", "queue-counts", ()): (LOGIN, 200, 200, 200, 200),
    ("get", "lead-detail", ("own_lead",)): (LOGIN, 200, 200, 200, 200),
    ("get", "lead-detail", ("others_lead",)): (LOGIN, 404, 200, 200, 200),
    ("get", "matrix", ()): (LOGIN, 403, 200, 200, 200),
    ("get", "matrix-cell", ("cell",)): (LOGIN, 403, 200, 200, 200),
    ("get", "calibration", ()): (LOGIN, 200, 200, 200, 200),
    ("get", "calibration-month", ("month",)): (LOGIN, 200, 200, 200, 200),
    ("get", "calibration-csv", ("month",)): (LOGIN, 200, 200, 200, 200),
    ("get", "suggested-weights", ()): (LOGIN, 403, 200, 200, 200),
    ("get", "backtest", ("backtest",)): (LOGIN, 403, 200, 200, 200),
    ("get", "admin:index", ()): (ADMIN_LOGIN, ADMIN_LOGIN, 200, 200, 200),
    ("get", "admin:scoring_ruleset_changelist", ()): (LOGIN, ADMIN_LOGIN, 200, 200, 200),
    ("get", "admin:leads_lead_changelist", ()): (LOGIN, ADMIN_LOGIN, 200, 200, 200),
    ("get", "admin:feedback_handoff_changelist", ()): (LOGIN, ADMIN_LOGIN, 403, 200, 200),
    ("get", "admin:auth_user_changelist", ()): (LOGIN, ADMIN_LOGIN, 403, 403, 200),
    ("post", "handoff-contacted", ("own_handoff",)): (LOGIN, 302, 403, 302, 302),
    ("post", "handoff-contacted", ("others_handoff",)): (LOGIN, 302, 403, 302, 302),
    ("post", "handoff-disposition", ("own_handoff",)): (LOGIN, 302, 403, 302, 302),
    ("post", "handoff-claim", ("own_handoff",)): (LOGIN, 302, 403, 302, 302),
    ("post", "handoff-reassign", ("own_handoff",)): (LOGIN, 403, 403, 302, 302),
    ("post", "lead-flag", ("own_lead",)): (LOGIN, 302, 403, 302, 302),
    ("post", "lead-flag", ("others_lead",)): (LOGIN, 404, 403, 302, 302),
    ("post", "apply-suggested-weights", ()): (LOGIN, 403, 302, 302, 302),
    ("post", "start-backtest", ("ruleset",)): (LOGIN, 403, 302, 302, 302),
}


@pytest.fixture
def world() -> dict:
    ruleset = load_default_ruleset(publish=True, sync=True)
    sam = make_user("sam", SDR)
    pat = make_user("pat", SDR)
    now = timezone.now()
    own = make_handoff("own", 90, "A1", "", [], created_at=now - timedelta(hours=1), sdr=sam)
    others = make_handoff("others", 90, "A1", "", [], created_at=now - timedelta(hours=1), sdr=pat)
    backtest = Backtest.objects.create(ruleset=ruleset, baseline=ruleset)
    return {
        "users": {
            "anonymous": None,
            "sdr": sam,
            "marketing": make_user("mia", MARKETING, is_staff=True),
            "manager": make_user("morgan", MANAGER, is_staff=True),
            "admin": make_user("root", is_staff=True, is_superuser=True),
        },
        "pat": pat,
        "own_lead": own.lead_id,
        "others_lead": others.lead_id,
        "own_handoff": own.pk,
        "others_handoff": others.pk,
        "cell": "A1",
        "month": f"{now:%Y-%m}",
        "backtest": backtest.pk,
        "ruleset": ruleset.pk,
    }


def body(name: str, world: dict) -> dict:
    return {
        "handoff-disposition": {"outcome": "accepted"},
        "handoff-reassign": {"to": world["pat"].pk},
        "lead-flag": {"direction": "too_high", "reason": "Student"},
        "apply-suggested-weights": {"days": 90},
        "start-backtest": {"days": 90},
    }.get(name, {})


def cases():
    for (method, name, keys), answers in PAGES.items():
        for role, expected in zip(ROLES, answers, strict=True):
            yield pytest.param(
                method, name, keys, role, expected, id=f"{role}-{method}-{name}-{keys}"
            )


@pytest.mark.parametrize(("method", "name", "keys", "role", "expected"), list(cases()))
def test_each_role_gets_the_expected_answer(world, method, name, keys, role, expected):
    client = Client()
    if world["users"][role]:
        client.force_login(world["users"][role])
    url = reverse(name, args=[world[key] for key in keys])
    response = getattr(client, method)(url, body(name, world))
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('login')}?next=")
    elif expected == ADMIN_LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('admin:login')}?next=")
    else:
        assert response.status_code == expected


def test_an_sdr_guessing_another_sdrs_handoff_sees_nothing_of_it(world):
    client = Client()
    client.force_login(world["users"]["sdr"])
    row = client.get(reverse("handoff-row", args=[world["others_handoff"]]))
    assert row.content == b""
    page = client.get(reverse("home")).content.decode()
    assert "others@example.com" not in page


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_the_api_answers_sessions_with_401_whoever_is_logged_in(world, role):
    client = Client()
    client.force_login(world["users"][role])
    response = client.get("/api/v1/leads", {"email": "own@example.com"})
    assert response.status_code == 401
    assert response.json()["detail"]


def test_an_api_token_opens_neither_the_admin_nor_the_pages(world):
    _, secret = create_token("integration")
    headers = {"Authorization": f"Bearer {secret}"}
    client = Client(headers=headers)
    assert client.get("/api/v1/leads", {"email": "own@example.com"}).status_code == 200
    admin = client.get(reverse("admin:index"))
    assert admin.status_code == 302 and admin["Location"].startswith(reverse("admin:login"))
    home = client.get(reverse("home"))
    assert home.status_code == 302 and home["Location"].startswith(reverse("login"))


def test_only_the_login_page_and_the_health_check_are_public(world):
    client = Client()
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200


POSTS = [(name, keys) for (method, name, keys) in PAGES if method == "post"]


@pytest.mark.parametrize(("name", "keys"), POSTS, ids=[f"{n}-{k}" for n, k in POSTS])
def test_every_form_post_without_the_csrf_token_is_refused(world, name, keys):
    # The manager may make each of these posts (PAGES): the 403 is the missing token's.
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"]["manager"])
    response = client.post(reverse(name, args=[world[key] for key in keys]), body(name, world))
    assert response.status_code == 403


def test_the_login_form_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "sam", "password": "pw-for-tests-123"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
