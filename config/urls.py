from django.urls import include, path

from .api import api

urlpatterns = [
    path("api/", api.urls),
    path("customers/", include("dealercrm.customers.urls")),
    # The 360 page's send panel: /customers/<id>/send/ (messaging, after the customers' own).
    path("customers/", include("dealercrm.messaging.send_urls")),
    path("vehicles/", include("dealercrm.vehicles.urls")),
    path("search/", include("dealercrm.search.urls")),
    path("messages/", include("dealercrm.messaging.urls")),
    path("tasks/", include("dealercrm.worklist.urls")),
    path("sales/", include("dealercrm.sales.urls")),
    path("resources/", include("dealercrm.bookings.urls")),
    path("service/", include("dealercrm.service.urls")),
    path("care/", include("dealercrm.care.urls")),
    path("complaints/", include("dealercrm.feedback.urls")),
    path("surveys/", include("dealercrm.feedback.survey_urls")),
    path("data/", include("dealercrm.dataquality.urls")),
    # Public: a quote's share link and an order's tracking page (unguessable tokens, no login).
    path("p/", include("dealercrm.sales.public_urls")),
    # Public: provider webhooks and unsubscribe links (their own checks, no login).
    path("m/", include("dealercrm.messaging.public_urls")),
    # Public: a customer's personal survey link (unguessable token, one answer, expires).
    path("s/", include("dealercrm.feedback.public_urls")),
    path("", include("dealercrm.core.urls")),
]
