from django.urls import path

from . import views

app_name = "vehicles"
urlpatterns = [
    path("new/", views.create, name="create"),
    path("owners/", views.owner_lookup, name="owner_lookup"),
    path("<int:vehicle_id>/", views.detail, name="detail"),
    path("<int:vehicle_id>/edit/", views.edit, name="edit"),
    path("<int:vehicle_id>/transfer/", views.transfer, name="transfer"),
    path("<int:vehicle_id>/mileage/", views.mileage_add, name="mileage_add"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("catalogue/new/", views.car_model_create, name="car_model_create"),
    path("catalogue/<int:car_model_id>/edit/", views.car_model_edit, name="car_model_edit"),
]
