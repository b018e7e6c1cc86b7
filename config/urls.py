from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from feedback.login_throttle import ThrottledAdminLoginForm, ThrottledLoginForm

from . import views

admin.site.site_header = "Leadgauge administration"
admin.site.site_title = "Leadgauge"
admin.site.index_title = "Rules, data and people"
admin.site.login_form = ThrottledAdminLoginForm

handler500 = "config.views.server_error"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledLoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("", include("feedback.urls")),
]
