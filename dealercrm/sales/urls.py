"""The sales pages (staff only): leads, follow-ups, OEM dispatch, test drives, quotes, orders,
the funnel. Each topic's views module lists its own routes."""

from .views import dispatch, funnel, leads, orders, quotes, test_drives

app_name = "sales"
urlpatterns = [
    *leads.urlpatterns,
    *dispatch.urlpatterns,
    *test_drives.urlpatterns,
    *quotes.urlpatterns,
    *orders.urlpatterns,
    *funnel.urlpatterns,
]
