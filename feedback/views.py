"""The home page, the SDR queue, the lead page and the actions on a handoff (design §4).

Views parse input, call one service or selector and render. One template per page with named
partials: an htmx request gets the partial it swaps (`page.html#part`), any other request the
whole page, so everything also works without JavaScript (forms post and redirect back).

Refusals are consistent: a role that may not act at all (marketing, users without a role) gets
403; an action the handoff's state refuses (someone else dispositioned it a moment ago, it is not
yours any more, too late to undo) gets 409 with the row re-rendered around the message, which
htmx is configured to swap (base.html's htmx-config), so the person reads why in place.
"""

from __future__ import annotations

import csv
from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from scoring.models import RuleSet
from scoring.rulesets import ACTION_LABELS, MATRIX_CELLS

from . import calibration, selectors, services, weights
from .forms import BacktestForm, DispositionForm, ReassignForm, ScoreFlagForm
from .models import Backtest, Disposition, Handoff
from .roles import MANAGER, MARKETING, SDR, role_of
from .services import HandoffError

QUEUE = "feedback/queue.html"
LEAD = "feedback/lead.html"
QUEUE_CHANGED = "queueChanged"  # an htmx event: the nav badge and the tab counts refresh


def _with_groups(request: HttpRequest) -> None:
    """Read the user's groups once: roles are asked for on every row (can_work) and by the
    context processor, and each ask would otherwise be a query."""
    user = request.user
    if user.is_authenticated:
        user = getattr(user, "_wrapped", user)
        prefetch_related_objects([user], "groups")


def _partial(request: HttpRequest) -> bool:
    """An htmx swap (not a history restore, which needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _vary(response: HttpResponse) -> HttpResponse:
    # The same URL answers a partial or the whole page: caches and the back button must not mix
    # them up.
    patch_vary_headers(response, ("HX-Request",))
    return response


# Home and the queue -----------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """SDRs and managers land on their queue; marketing on the summary."""
    _with_groups(request)
    if not selectors.works_queue(request.user):
        return render(request, "feedback/home.html", {"summary": selectors.home_summary()})
    return queue(request)


def queue_filters(request: HttpRequest) -> dict:
    scope = request.GET.get("scope", "mine")
    if scope not in selectors.allowed_scopes(request.user):
        scope = "mine"
    cls = request.GET.get("class", "")
    if cls not in selectors.CLASS_FILTERS:
        cls = ""
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    return {"scope": scope, "cls": cls, "overdue": request.GET.get("overdue") == "1", "page": page}


def _query(filters: dict, **changes) -> str:
    """The query string of the queue with these filters (defaults left out), for links."""
    values = {**filters, **changes}
    params = {
        "scope": values["scope"] if values["scope"] != "mine" else None,
        "class": values["cls"] or None,
        "overdue": "1" if values["overdue"] else None,
        "page": values["page"] if values["page"] > 1 else None,
    }
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"?{query}" if query else ""


def queue(request: HttpRequest) -> HttpResponse:
    filters = queue_filters(request)
    handoffs = selectors.queue_for(
        request.user,
        mql_class=selectors.CLASS_FILTERS.get(filters["cls"]),
        overdue=filters["overdue"],
        scope=filters["scope"],
    )
    page = selectors.page_of(handoffs, filters["page"])
    for handoff in page.rows:
        prepare(request.user, handoff)
    context = {
        "filters": filters,
        "page": page,
        "counts": selectors.queue_counts(request.user),
        "scopes": [
            (s, selectors.SCOPE_LABELS[s], _query(filters, scope=s, page=1))
            for s in selectors.allowed_scopes(request.user)
        ],
        "classes": [
            ("", "All classes"),
            ("priority", "Priority"),
            ("fast_track", "Fast track"),
            ("standard", "Standard"),
        ],
        "this_query": _query(filters),
        "previous_query": _query(filters, page=page.number - 1),
        "next_query": _query(filters, page=page.number + 1),
        "sdrs": _sdrs(request),
        "has_ruleset": RuleSet.objects.active() is not None,
        "on_queue": True,
        "next_url": request.get_full_path(),
        "undo_seconds": services.UNDO_SECONDS,
    }
    template = f"{QUEUE}#queue-list" if _partial(request) else QUEUE
    return _vary(render(request, template, context))


@require_GET
def queue_counts(request: HttpRequest) -> HttpResponse:
    """The nav badge (polled, and refreshed after every action), with the queue's tab counts
    out of band when asked from the queue page."""
    if not selectors.works_queue(request.user):
        return HttpResponse("")
    return render(
        request,
        "feedback/queue.html#queue-counts",
        {
            "counts": selectors.queue_counts(request.user),
            "on_queue": request.GET.get("tabs") == "1",
            "oob": True,
        },
    )


# Actions on one handoff ---------------------------------------------------------------------------


def _require_worker(request: HttpRequest) -> None:
    _with_groups(request)
    if role_of(request.user) not in (SDR, MANAGER):
        raise PermissionDenied("Only SDRs and managers work MQLs.")


def _row_state(user, handoff: Handoff, done: str = "") -> str:
    """How a handoff shows for this user: work (the buttons), claim (unassigned), undo (just
    dispositioned by them) or closed (nothing to do here: the message says why)."""
    if done == "disposition" and not handoff.is_open and handoff.dispositioned_by_id == user.pk:
        return "undo"
    if handoff.is_open and handoff.assigned_to_id is None:
        return "claim"
    if handoff.is_open and services.can_work(user, handoff):
        return "work"
    return "closed"


def _closed_message(handoff: Handoff) -> str:
    if not handoff.is_open:
        return services._already_done(handoff)
    who = handoff.assigned_to
    name = (who.get_full_name() or who.get_username()) if who else "nobody"
    return f"This MQL is assigned to {name} now."


def prepare(user, handoff: Handoff, *, done: str = "", error: str = "", notice: str = ""):
    """Set what a row or panel shows on the handoff: .state, .message (why nothing can be done,
    or the error), .notice (what just happened)."""
    handoff.state = _row_state(user, handoff, done)
    handoff.notice = notice
    handoff.error = error
    handoff.message = error or (_closed_message(handoff) if handoff.state == "closed" else "")
    return handoff


def _sdrs(request: HttpRequest) -> list:
    return list(selectors.assignable_sdrs()) if role_of(request.user) == MANAGER else []


def _render_handoff(
    request: HttpRequest,
    handoff_id: int,
    *,
    error: str = "",
    done: str = "",
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    """The handoff as the page that asked shows it: a queue row or the lead page's panel."""
    data = request.POST if request.method == "POST" else request.GET
    where = "lead" if data.get("where") == "lead" else "queue"
    scope = data.get("scope", "mine")
    handoff = prepare(
        request.user,
        selectors.handoff_for_row(handoff_id),
        done=done,
        error=error,
        notice=notice,
    )
    context = {
        "h": handoff,
        "scope": scope if scope in selectors.SCOPES else "mine",
        "where": where,
        "hx_target": "#handoff-panel" if where == "lead" else "closest tr",
        "next_url": data.get("next", ""),
        "sdrs": _sdrs(request),
        "undo_seconds": services.UNDO_SECONDS,
    }
    template = f"{LEAD}#handoff-panel" if where == "lead" else f"{QUEUE}#queue-row"
    response = render(request, template, context, status=status)
    if status == 200:
        response["HX-Trigger"] = QUEUE_CHANGED
    return response


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("home")
    return redirect(target)


def _act(request: HttpRequest, handoff_id: int, action, *, success: str, done: str = ""):
    """Run one service on the handoff; answer htmx with the re-rendered row, others with a
    redirect back and a message."""
    _require_worker(request)
    try:
        result = action()
    except HandoffError as error:
        if not _partial(request):
            messages.error(request, str(error))
            return _back(request)
        return _render_handoff(request, handoff_id, error=str(error), status=409)
    notice = success.format(handoff=result) if result is not None else success
    if not _partial(request):
        messages.success(request, notice)
        return _back(request)
    return _render_handoff(request, handoff_id, done=done, notice=notice)


@require_POST
def mark_contacted(request: HttpRequest, handoff_id: int) -> HttpResponse:
    return _act(
        request,
        handoff_id,
        lambda: services.mark_contacted(handoff_id, user=request.user),
        success="Marked as contacted.",
    )


@require_POST
def disposition(request: HttpRequest, handoff_id: int) -> HttpResponse:
    _require_worker(request)
    form = DispositionForm(request.POST)
    if not form.is_valid():
        error = " ".join(e for errors in form.errors.values() for e in errors)
        if not _partial(request):
            messages.error(request, error)
            return _back(request)
        return _render_handoff(request, handoff_id, error=error, status=422)
    outcome = form.cleaned_data["outcome"]
    label = Disposition(outcome).label.lower()
    return _act(
        request,
        handoff_id,
        lambda: services.disposition(
            handoff_id, user=request.user, outcome=outcome, note=form.cleaned_data["note"]
        ),
        success=f"Marked {{handoff.lead}} {label}.",
        done="disposition",
    )


@require_POST
def undo(request: HttpRequest, handoff_id: int) -> HttpResponse:
    return _act(
        request,
        handoff_id,
        lambda: services.undo_disposition(handoff_id, user=request.user),
        success="Undone: {handoff.lead} is back in the queue.",
    )


@require_POST
def claim(request: HttpRequest, handoff_id: int) -> HttpResponse:
    return _act(
        request,
        handoff_id,
        lambda: services.claim(handoff_id, user=request.user),
        success="Claimed: {handoff.lead} is in your queue now.",
    )


@require_POST
def reassign(request: HttpRequest, handoff_id: int) -> HttpResponse:
    if role_of(request.user) != MANAGER:
        raise PermissionDenied("Only managers can reassign MQLs.")
    form = ReassignForm(request.POST)
    if not form.is_valid():
        error = "Choose an SDR who takes leads."
        if not _partial(request):
            messages.error(request, error)
            return _back(request)
        return _render_handoff(request, handoff_id, error=error, status=422)
    to = form.cleaned_data["to"]
    name = (to.get_full_name() or to.get_username()) if to else "the unassigned pool"
    return _act(
        request,
        handoff_id,
        lambda: services.reassign(handoff_id, user=request.user, to=to),
        success=f"Moved to {name}.",
    )


@require_GET
def handoff_row(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """A handoff's row as it is now. The undo strip asks for it when its time is up: a closed
    handoff leaves the queue (an empty answer removes the row)."""
    _require_worker(request)
    handoff = selectors.handoff_for_row(handoff_id)
    where = request.GET.get("where", "queue")
    if where == "queue" and not (
        handoff.is_open
        and (handoff.assigned_to_id is None or services.can_work(request.user, handoff))
    ):
        return HttpResponse("")
    if where == "lead" and not selectors.can_see_lead(request.user, handoff.lead):
        return HttpResponse("", status=404)
    return _render_handoff(request, handoff_id)


# The lead page --------------------------------------------------------------------------------


@require_GET
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    if _partial(request) and "activities" in request.GET:
        return lead_timeline(request, lead_id)
    _with_groups(request)
    data = selectors.lead_page(lead_id, request.user)
    if data.open_handoff:
        prepare(request.user, data.open_handoff)
    context = {
        "data": data,
        "lead": data.lead,
        "h": data.open_handoff,
        "where": "lead",
        "hx_target": "#handoff-panel",
        "scope": "mine",
        "next_url": request.get_full_path(),
        "sdrs": _sdrs(request),
        "flags": data.flags,
        "flag_form": ScoreFlagForm(),
        "can_flag": role_of(request.user) in (SDR, MANAGER),
        "back": _queue_back(request),
        "undo_seconds": services.UNDO_SECONDS,
    }
    return _vary(render(request, LEAD, context))


def _queue_back(request: HttpRequest) -> str:
    """Back to the queue the lead was opened from, with its filters."""
    back = request.GET.get("from", "")
    if back.startswith("?") or back == "":
        return reverse("home") + back
    return reverse("home")


@require_GET
def lead_timeline(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_or_404(lead_id, request.user)
    try:
        page = max(2, int(request.GET.get("activities", 2)))
    except ValueError:
        page = 2
    activities, more = selectors.timeline(lead, page)
    selectors.mark_counted(lead, activities)
    return render(
        request,
        f"{LEAD}#timeline-items",
        {"lead": lead, "activities": activities, "more": more, "next_page": page + 1},
    )


@require_POST
def flag_score(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_or_404(lead_id, request.user)
    if role_of(request.user) not in (SDR, MANAGER):
        raise PermissionDenied("Only SDRs and managers can flag a score.")
    form = ScoreFlagForm(request.POST)
    flagged = None
    if form.is_valid():
        try:
            flagged = services.flag_score(
                lead.pk,
                user=request.user,
                direction=form.cleaned_data["direction"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                for problem in problems:
                    form.add_error(name if name in form.fields else None, problem)
    if not _partial(request):
        if flagged:
            messages.success(request, "Thanks: marketing will look at this score.")
        else:
            messages.error(request, " ".join(e for es in form.errors.values() for e in es))
        return redirect("lead-detail", lead_id=lead.pk)
    context = {
        "lead": lead,
        "flags": list(lead.score_flags.select_related("flagged_by")[:20]),
        "flag_form": ScoreFlagForm() if flagged else form,
        "flagged": flagged,
        "can_flag": True,
    }
    return render(request, f"{LEAD}#flags", context, status=200 if flagged else 422)


# The manager's month: calibration and the matrix ------------------------------------------------

CALIBRATION = "feedback/calibration.html"
MATRIX = "feedback/matrix.html"


def _month_or_404(text: str | None) -> date:
    """The month in the URL (YYYY-MM), the current month without one; a month that has not
    begun, or is not a month, is a 404."""
    current = calibration.month_of(timezone.now())
    if text is None:
        return current
    month = calibration.parse_month(text)
    if month is None or month > current:
        raise Http404("No such month.")
    return month


def _require_dashboards(request: HttpRequest) -> None:
    _with_groups(request)
    if not calibration.can_read_dashboards(request.user):
        raise PermissionDenied("The dashboards are for managers, marketing and SDRs.")


@require_GET
def calibration_dashboard(request: HttpRequest, month: str | None = None) -> HttpResponse:
    _require_dashboards(request)
    board = calibration.dashboard(_month_or_404(month), request.user)
    template = f"{CALIBRATION}#dashboard" if _partial(request) else CALIBRATION
    return _vary(render(request, template, {"board": board, "f": board.figures}))


@require_GET
def calibration_csv(request: HttpRequest, month: str) -> HttpResponse:
    _require_dashboards(request)
    board = calibration.dashboard(_month_or_404(month), request.user)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calibration-{month}.csv"'
    writer = csv.writer(response)
    writer.writerow(["section", "name", "figure", "value", "n"])
    for section, name, figure, value, n in calibration.csv_rows(board):
        writer.writerow([section, name, figure, "" if value is None else value, n])
    return response


def _require_matrix(request: HttpRequest) -> None:
    _with_groups(request)
    if role_of(request.user) not in (MANAGER, MARKETING):
        raise PermissionDenied("The matrix is for managers and marketing.")


def _matrix_context(request: HttpRequest, month: date) -> dict:
    ruleset = RuleSet.objects.active()
    figures = calibration.figures_for(month, user=request.user)
    return {
        "grid": selectors.matrix(ruleset, figures["cells"]),
        "ruleset": ruleset,
        "month": month,
        "months": [calibration.shift(month, k) for k in (-1, 1)],
        "current_month": calibration.month_of(timezone.now()),
    }


@require_GET
def matrix(request: HttpRequest) -> HttpResponse:
    _require_matrix(request)
    context = _matrix_context(request, _month_or_404(request.GET.get("month")))
    template = f"{MATRIX}#grid" if _partial(request) else MATRIX
    return _vary(render(request, template, context))


@require_GET
def matrix_cell(request: HttpRequest, cell: str) -> HttpResponse:
    _require_matrix(request)
    if cell not in MATRIX_CELLS:
        raise Http404("No such cell.")
    sort = request.GET.get("sort", "score")
    if sort not in selectors.CELL_SORTS:
        sort = "score"
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    ruleset = RuleSet.objects.active()
    context = {
        "cell": cell,
        "action_label": ACTION_LABELS.get(ruleset.matrix.get(cell, ""), "") if ruleset else "",
        "sort": sort,
        "sorts": [
            ("score", "Score"),
            ("fit", "Fit"),
            ("interest", "Interest"),
            ("newest", "Newest"),
            ("name", "Name"),
        ],
        "page": selectors.cell_leads(cell, sort=sort, page=number),
    }
    if _partial(request):
        return _vary(render(request, f"{MATRIX}#cell-leads", context))
    context.update(_matrix_context(request, calibration.month_of(timezone.now())))
    return _vary(render(request, MATRIX, context))


# Closing the loop: suggested weights and backtests ------------------------------------------------

WEIGHTS = "feedback/weights.html"
BACKTEST = "feedback/backtest.html"


def _require_tuning(request: HttpRequest) -> None:
    """Managers and marketing tune the rules (a draft changes nothing until marketing
    publishes it)."""
    _with_groups(request)
    if role_of(request.user) not in (MANAGER, MARKETING):
        raise PermissionDenied("Suggested weights and backtests are for managers and marketing.")


@require_GET
def suggested_weights(request: HttpRequest) -> HttpResponse:
    _require_tuning(request)
    return render(request, WEIGHTS, {"s": weights.suggest(), "form": BacktestForm()})


@require_POST
def apply_suggested_weights(request: HttpRequest) -> HttpResponse:
    _require_tuning(request)
    form = BacktestForm(request.POST)
    if not form.is_valid():
        return render(request, WEIGHTS, {"s": weights.suggest(), "form": form}, status=422)
    try:
        draft = services.draft_with_suggested_weights(user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("suggested-weights")
    backtest = services.start_backtest(draft, days=form.cleaned_data["days"], user=request.user)
    messages.success(request, f"Draft “{draft.name}” created; backtesting it now.")
    return redirect("backtest", backtest_id=backtest.pk)


@require_POST
def start_backtest(request: HttpRequest, ruleset_id: int) -> HttpResponse:
    _require_tuning(request)
    ruleset = get_object_or_404(RuleSet, pk=ruleset_id)
    form = BacktestForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for es in form.errors.values() for e in es))
        return redirect("admin:scoring_ruleset_change", ruleset.pk)
    backtest = services.start_backtest(ruleset, days=form.cleaned_data["days"], user=request.user)
    return redirect("backtest", backtest_id=backtest.pk)


@require_GET
def backtest_detail(request: HttpRequest, backtest_id: int) -> HttpResponse:
    _require_tuning(request)
    backtest = get_object_or_404(
        Backtest.objects.select_related("ruleset", "baseline"), pk=backtest_id
    )
    template = f"{BACKTEST}#result" if _partial(request) else BACKTEST
    return _vary(render(request, template, {"b": backtest, "r": backtest.result}))
