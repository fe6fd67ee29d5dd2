"""The care pages, one module per topic; each lists its own `urlpatterns`."""
