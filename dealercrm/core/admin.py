"""Django admin for system administrators: the organisation, staff and the (read-only) audit log.

Day-to-day management happens in the organisation pages, which apply the role rules; the admin
is the escape hatch for a system administrator.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, AuditEvent, Brand, Dealer, DealerGroup, Region, User


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en"]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "brand", "is_active"]
    list_filter = ["brand", "is_active"]


@admin.register(DealerGroup)
class DealerGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "is_active"]
    list_filter = ["brand", "is_active"]


@admin.register(Dealer)
class DealerAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region", "group", "province", "city", "is_active"]
    list_filter = ["region", "is_active"]
    search_fields = ["code", "name", "city"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "dealer", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "display_name", "phone"]
    raw_id_fields = ["dealer", "department"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (
            _("DealerCRM"),
            {
                "fields": (
                    "role",
                    "brand",
                    "dealer",
                    "department",
                    "display_name",
                    "phone",
                    "language",
                    "on_duty",
                )
            },
        ),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Append-only: viewable, never editable."""

    list_display = ["at", "actor", "action", "target_type", "target_repr", "dealer", "ip_address"]
    list_filter = ["action", "target_type"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
