from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = "Sales feedback"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from .login_throttle import count_failure, forget_failures

        user_login_failed.connect(count_failure, dispatch_uid="login-throttle-failure")
        user_logged_in.connect(forget_failures, dispatch_uid="login-throttle-success")
