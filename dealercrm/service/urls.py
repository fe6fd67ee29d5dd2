"""The after-sales pages (staff only): appointments and the service calendar, repair orders,
maintenance schedules and forecasts, recalls, roadside rescue."""

from .views import appointments, forecast, recalls, repair_orders, rescue

app_name = "service"
urlpatterns = [
    *appointments.urlpatterns,
    *repair_orders.urlpatterns,
    *forecast.urlpatterns,
    *recalls.urlpatterns,
    *rescue.urlpatterns,
]
