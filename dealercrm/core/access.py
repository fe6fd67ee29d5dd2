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
