"""Views made to fail the tenancy matrix, for the tests that show the matrix catches them."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm
from dealercrm.customers.models import Customer


@staff_view(Perm.VIEW_CUSTOMER)
def scoped(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Right: the scoped manager and the user's visibility, 404 for anything else."""
    try:
        customer = Customer.objects.visible_to(request.user).get(pk=customer_id)
    except Customer.DoesNotExist as exc:
        raise Http404 from exc
    return HttpResponse(customer.name)


@staff_view(Perm.VIEW_CUSTOMER)
def leaky(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Wrong: the base manager ignores the dealer scope."""
    return HttpResponse(Customer._base_manager.get(pk=customer_id).name)


def unchecked(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Wrong: claims a permission it never checks (and asks nobody to log in)."""
    return HttpResponse(Customer._base_manager.get(pk=customer_id).name)


unchecked.required_permission = Perm.VIEW_CUSTOMER  # type: ignore[attr-defined]


@staff_view()
def broken_for_oem(request: HttpRequest) -> HttpResponse:
    """Wrong: fails for network users."""
    if request.user.is_network_user:
        raise RuntimeError("no dealer")
    return HttpResponse("ok")


def open_page(request: HttpRequest) -> HttpResponse:
    """Wrong: anyone may open it, and it is not meant to be public."""
    return HttpResponse("ok")


open_page.required_permission = None  # type: ignore[attr-defined]

faulty = (
    [
        path("scoped/<int:customer_id>/", scoped, name="scoped"),
        path("leaky/<int:customer_id>/", leaky, name="leaky"),
        path("unchecked/<int:customer_id>/", unchecked, name="unchecked"),
        path("broken/", broken_for_oem, name="broken_for_oem"),
        path("open/", open_page, name="open"),
    ],
    "faulty",
)

urlpatterns = [path("faulty/", include(faulty)), path("", include("dealercrm.core.urls"))]
