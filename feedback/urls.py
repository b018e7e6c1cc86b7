from django.urls import path

from . import views

urlpatterns = [
    # SDRs and managers: the queue; marketing: the summary.
    path("", views.home, name="home"),
    path("queue/counts/", views.queue_counts, name="queue-counts"),
    path("handoffs/<int:handoff_id>/row/", views.handoff_row, name="handoff-row"),
    path("handoffs/<int:handoff_id>/contacted/", views.mark_contacted, name="handoff-contacted"),
    path("handoffs/<int:handoff_id>/disposition/", views.disposition, name="handoff-disposition"),
    path("handoffs/<int:handoff_id>/undo/", views.undo, name="handoff-undo"),
    path("handoffs/<int:handoff_id>/claim/", views.claim, name="handoff-claim"),
    path("handoffs/<int:handoff_id>/reassign/", views.reassign, name="handoff-reassign"),
    path("leads/<int:lead_id>/", views.lead_detail, name="lead-detail"),
    path("leads/<int:lead_id>/flag/", views.flag_score, name="lead-flag"),
    path("matrix/", views.matrix, name="matrix"),
    path("matrix/<str:cell>/", views.matrix_cell, name="matrix-cell"),
    path("calibration/", views.calibration_dashboard, name="calibration"),
    path("calibration/weights/", views.suggested_weights, name="suggested-weights"),
    path(
        "calibration/weights/apply/",
        views.apply_suggested_weights,
        name="apply-suggested-weights",
    ),
    path("rulesets/<int:ruleset_id>/backtest/", views.start_backtest, name="start-backtest"),
    path("backtests/<int:backtest_id>/", views.backtest_detail, name="backtest"),
    path("calibration/<str:month>/", views.calibration_dashboard, name="calibration-month"),
    path("calibration/<str:month>/export.csv", views.calibration_csv, name="calibration-csv"),
]
