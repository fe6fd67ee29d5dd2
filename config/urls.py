from django.urls import include, path

urlpatterns = [
    path("", include("dealercrm.core.urls")),
]
