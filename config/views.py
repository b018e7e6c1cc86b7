from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import broker_status, database_status


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Public liveness and readiness: 503 when the database is down (the app can do nothing)."""
    database = database_status()
    broker = broker_status()
    healthy = database == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "error", "database": database, "broker": broker},
        status=200 if healthy else 503,
    )
