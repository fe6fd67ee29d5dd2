"""The 360 page's send panel, under the customer's address: /customers/<id>/send/.

Included by config/urls.py after the customers app's own patterns (namespace "messaging_send").
"""

from django.urls import path

from . import send_views

app_name = "messaging_send"

urlpatterns = [
    path("<int:customer_id>/send/", send_views.panel, name="panel"),
    path("<int:customer_id>/send/preview/", send_views.preview, name="preview"),
]
