"""View decorators: anonymous → login, signed in without the permission → 403.

`permission_required` from Django redirects a signed-in user without the permission to the login
page, which hides the problem; staff get a plain 403 instead. The decorator records the
permission on the view, so the tenancy test matrix knows which role must get 403.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def staff_view(permission: str | None = None) -> Callable[[View], View]:
    """Require a signed-in user, and `permission` when given."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if permission and not request.user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorator


def api_permission(permission: str) -> Callable[[View], View]:
    """For django-ninja operations: a signed-in user without `permission` gets 403.

    Put it BELOW the router decorator::

        @router.get("/{customer_id}", response=CustomerOut)
        @api_permission(Perm.VIEW_CUSTOMER)
        def customer_get(request, customer_id: int): ...

    The check runs after the API's authentication (anonymous still gets 401) and before the
    input is read, so a user without the permission gets 403 whatever they send, not a 422
    that describes the input. Like staff_view it records `required_permission` on the function,
    which the tenancy test matrix reads to know which roles must get 403.
    """
    from ninja.decorators import decorate_view
    from ninja.utils import contribute_operation_callback

    def refuse_without_permission(request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        if user is None or not user.has_perm(permission):
            raise PermissionDenied

    def check_before_input(run: Callable) -> Callable:  # type: ignore[type-arg]
        # ninja authenticates, then reads the input (_get_values), then calls the handler; the
        # check goes between the first two. decorate_view re-applies this to every copy of the
        # operation that ninja binds to an API.
        operation = getattr(run, "__self__", None)
        read_input = getattr(operation, "_get_values", None)
        if read_input is not None and not getattr(read_input, "_checks_permission", False):

            def get_values(request: HttpRequest, *args, **kwargs):  # noqa: ANN202
                refuse_without_permission(request)
                return read_input(request, *args, **kwargs)

            get_values._checks_permission = True  # type: ignore[attr-defined]
            operation._get_values = get_values  # type: ignore[union-attr]
        return run

    def wrap_handler(operation) -> None:  # noqa: ANN001
        # And in the handler itself, should a ninja version read input differently. Wrapping the
        # operation's handler, not the function ninja reads the signature from, keeps the
        # parameters and annotations those of the original function.
        handler = operation.view_func

        @functools.wraps(handler)
        def checked(request: HttpRequest, *args, **kwargs):  # noqa: ANN202
            refuse_without_permission(request)
            return handler(request, *args, **kwargs)

        operation.view_func = checked

    def decorator(func: View) -> View:
        func.required_permission = permission  # type: ignore[attr-defined]
        operation = getattr(func, "_ninja_operation", None)
        if operation is not None:  # placed above the router decorator: the operation exists
            wrap_handler(operation)
        else:
            contribute_operation_callback(func, wrap_handler)
        return decorate_view(check_before_input)(func)

    return decorator
