"""URLs anyone may reach without logging in: provider webhooks (checked by token and signature)
and the unsubscribe page of e-mail links (checked by a signed token)."""

from django.urls import path  # noqa: F401

app_name = "messaging_public"

urlpatterns: list = []
