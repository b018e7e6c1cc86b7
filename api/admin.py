from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html

from .models import ApiToken
from .services import create_token, revoke_tokens


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "status", "created_at", "created_by", "last_used_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    list_select_related = ["created_by"]
    actions = ["revoke"]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        # Creating asks for a name only; the secret is generated and shown once.
        return ["name"] if obj is None else ["name", *self.readonly_fields]

    @admin.display(description="status", ordering="revoked_at")
    def status(self, obj: ApiToken) -> str:
        return "active" if obj.is_active else "revoked"

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, secret = create_token(obj.name, user=request.user)
        # The admin goes on with `obj` (its log entry, message and redirect).
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            format_html(
                "The token for “{}” is <code>{}</code>. Copy it now: it is shown only this "
                "once (only its hash is kept).",
                token.name,
                secret,
            ),
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        count = revoke_tokens(queryset)
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
