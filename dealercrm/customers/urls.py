from django.urls import path

from . import views

app_name = "customers"
urlpatterns = [
    path("", views.index, name="list"),
    path("new/", views.create, name="create"),
    path("<int:customer_id>/", views.detail, name="detail"),
    path("<int:customer_id>/edit/", views.edit, name="edit"),
    path("<int:customer_id>/delete/", views.delete, name="delete"),
    path("<int:customer_id>/timeline/", views.timeline, name="timeline"),
    path("<int:customer_id>/notes/", views.note_add, name="note_add"),
    path("<int:customer_id>/calls/", views.call_add, name="call_add"),
    path("<int:customer_id>/reveal/", views.reveal, name="reveal"),
    path("<int:customer_id>/consent/", views.consent, name="consent"),
    path("<int:customer_id>/tags/", views.tags, name="tags"),
]
