from celery import shared_task

from . import services


@shared_task(acks_late=True)
def rescore_chunk(run_id: int, start: int, stop: int, only_with_activity: bool = False) -> int:
    return services.rescore_chunk_now(
        run_id, start, stop, only_with_activity=only_with_activity, vacuum_after=True
    )


@shared_task(acks_late=True)
def decay_scores() -> int:
    return services.decay_scores()


@shared_task(acks_late=True)
def resume_stalled_rescores() -> int:
    return len(services.resume_stalled_rescores())
