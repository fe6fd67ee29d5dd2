from django.urls import include, path

from .api import api

urlpatterns = [
    path("api/", api.urls),
    path("customers/", include("dealercrm.customers.urls")),
    path("vehicles/", include("dealercrm.vehicles.urls")),
    path("search/", include("dealercrm.search.urls")),
    path("", include("dealercrm.core.urls")),
]
