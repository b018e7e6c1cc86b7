"""Handing work to Celery without making the broker a single point of failure.

Requests never wait on, or fail because of, the broker: a task that cannot be queued is logged
and left to its owner's recovery sweep, which finds the unfinished work in the database once the
broker is back (see docs/reliability.md).
"""

import logging

from celery import Task
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def send(task: Task, *args) -> bool:
    """Queue `task(*args)`; False, logged, when the broker cannot take it right now."""
    try:
        # No retries: a request must not hang on a dead broker; the sweep retries later.
        task.apply_async(args, retry=False)
    except (OperationalError, OSError) as error:
        logger.warning(
            "task not queued, the broker is unavailable",
            extra={"task": task.name, "task_args": list(args), "error": str(error)},
        )
        return False
    return True
