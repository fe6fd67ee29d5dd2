"""Django admin for the service app: read-only views of appointments and repair orders for
support staff. Every write goes through the services (the booking rules, the events, the
forecast), so the admin changes nothing."""

from django.contrib import admin

from .models import Appointment, RepairOrder, RepairOrderLine, ServicePolicy


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(ServicePolicy)
class ServicePolicyAdmin(ReadOnlyAdmin):
    list_display = ("dealer", "opens_at", "closes_at", "slot_minutes", "daily_capacity")


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdmin):
    list_display = ("starts_at", "dealer", "customer", "vehicle", "kind", "status", "channel")
    list_filter = ("status", "kind", "channel")
    list_select_related = ("dealer", "customer", "vehicle")
    raw_id_fields = ("customer", "vehicle", "advisor", "bay_booking", "loan_car_booking")


class RepairOrderLineInline(admin.TabularInline):
    model = RepairOrderLine
    extra = 0
    fields = ("line_type", "code", "description", "quantity", "unit_price", "amount", "payer")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(RepairOrder)
class RepairOrderAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "dealer",
        "vin",
        "plate",
        "kind",
        "status",
        "opened_at",
        "total_amount",
    )
    list_filter = ("status", "kind", "payer", "source")
    list_select_related = ("dealer",)
    search_fields = ("number", "vin", "plate")
    raw_id_fields = ("vehicle", "customer", "advisor", "appointment", "mileage_reading")
    inlines = [RepairOrderLineInline]
