from celery import shared_task

from . import services


@shared_task(acks_late=True)
def sweep_sla() -> int:
    return len(services.sweep_sla())


@shared_task(acks_late=True)
def close_finished_months() -> int:
    return len(services.close_finished_months())


@shared_task(acks_late=True)
def run_backtest(backtest_id: int) -> str:
    return services.run_backtest(backtest_id).status


@shared_task(acks_late=True)
def resume_unqueued_backtests() -> int:
    return len(services.resume_unqueued_backtests())
