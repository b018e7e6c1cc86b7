"""Login throttling against password guessing, on the site's login page and the admin's alike.

After MAX_FAILURES failed logins for one username from one address within WINDOW_SECONDS, that
username is refused from that address, with a message saying so, until the window has passed
since the first failure. A successful login clears the count. The counts live in Django's cache
(Redis in production, so every web process shares them).
"""

import hashlib

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCKED = (
    "Too many failed logins for this username. Wait 15 minutes and try again, or ask an "
    "administrator to reset your password."
)


def _key(username: str, request: HttpRequest | None) -> str:
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    digest = hashlib.sha256(f"{username.strip().lower()}|{address}".encode()).hexdigest()
    return f"login-failures:{digest}"


def is_locked(username: str, request: HttpRequest | None) -> bool:
    return cache.get(_key(username, request), 0) >= MAX_FAILURES


def count_failure(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    """user_login_failed receiver."""
    key = _key(credentials.get("username", ""), request)
    cache.add(key, 0, WINDOW_SECONDS)  # the window starts at the first failure
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, WINDOW_SECONDS)


def forget_failures(sender, request: HttpRequest, user, **kwargs) -> None:
    """user_logged_in receiver."""
    cache.delete(_key(user.get_username(), request))


class ThrottledLoginMixin:
    def clean(self):
        username = self.data.get("username", "")
        if username and is_locked(username, self.request):
            raise forms.ValidationError(LOCKED, code="throttled")
        return super().clean()


class ThrottledLoginForm(ThrottledLoginMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password don't match. Try again.",
    }


class ThrottledAdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
