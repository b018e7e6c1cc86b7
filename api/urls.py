"""/api/v1/: the ninja API, each URL wrapped by api_edge, then JSON 404s for any other path."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path

from .views import api, api_edge, not_found

# Not `app_name`: that name at module level would make this module a namespace of its own.
patterns, ninja_app, ninja_namespace = api.urls
for pattern in patterns:
    # The API authenticates by token, not by the session: LoginRequiredMiddleware must not
    # redirect its calls to the login page. CSRF does not apply (ninja marks its views exempt,
    # and functools.wraps keeps that mark).
    pattern.callback = login_not_required(api_edge(pattern.callback))

urlpatterns = [
    path("", (patterns, ninja_app, ninja_namespace)),
    # Not `.`: a path with an encoded line break (%0A) is still the API's, with its JSON 404.
    re_path(r"^[\s\S]*$", login_not_required(api_edge(not_found)), name="api-not-found"),
]
