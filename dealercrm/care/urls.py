"""The care pages (staff only): care worklists and their calendar, outcomes, the team's figures,
the dealer's rule settings, the engine's runs."""

from .views import runs, settings, stats, worklist

app_name = "care"
urlpatterns = [
    *worklist.urlpatterns,
    *stats.urlpatterns,
    *settings.urlpatterns,
    *runs.urlpatterns,
]
