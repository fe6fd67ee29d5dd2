"""URLs anyone may reach without logging in: provider webhooks (checked by token and signature)
and the unsubscribe page of e-mail links (checked by a signed token)."""

from django.urls import path

from . import public_views

app_name = "messaging_public"

urlpatterns = [
    path("hooks/<str:webhook_key>/receipts", public_views.receipts_hook, name="receipts"),
    path("hooks/<str:webhook_key>/inbound", public_views.inbound_hook, name="inbound"),
    # For providers that push receipts and replies to one address (WeChat's server URL).
    path("hooks/<str:webhook_key>/events", public_views.events_hook, name="events"),
    path("u/<str:token>", public_views.unsubscribe, name="unsubscribe"),
]
