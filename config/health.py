"""Checks behind /healthz, kept short so a dead service answers within a load balancer's timeout."""

from django.db import DatabaseError, connection

from .celery import app as celery_app


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return "down"
    return "ok"


def broker_status() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:  # every transport raises its own errors; any of them means "down"
        return "down"
    return "ok"
