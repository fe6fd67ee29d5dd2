"""Every page and API operation of the project, found by walking the URLconf and the OpenAPI schema.

Nothing here is listed by hand except what is deliberately outside the matrix (admin, static
files, the API's own docs) and the pages anyone may open (log in, log out, the messaging webhooks and unsubscribe page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

MISSING = object()

# Pages an anonymous visitor may open on purpose: log in and out; the messaging gateways'
# webhooks (checked by the provider configuration's key and the request's signature) and the
# e-mail unsubscribe page (checked by its signed token).
PUBLIC_PAGES = frozenset(
    {
        "core:login",
        "core:logout",
        "messaging_public:receipts",
        "messaging_public:inbound",
        "messaging_public:events",
        "messaging_public:unsubscribe",
        "sales_public:quote",
        "sales_public:tracking",
        "surveys_public:answer",
    }
)
# URL namespaces and callbacks outside the matrix: the admin, and the API (its operations come
# from the OpenAPI schema instead; its docs and schema are public by design).
SKIPPED_NAMESPACES = frozenset({"admin", "api", "djdt"})
SKIPPED_CALLBACK_MODULES = ("django.views.static", "django.contrib.staticfiles")
API_METHODS = ("get", "post", "put", "patch", "delete")
_PATH_PARAM = re.compile(r"\{(?:[^}:]+:)?([^}]+)\}")


@dataclass(frozen=True)
class Route:
    """A page (URL name; methods found by asking it) or an API operation (path and method)."""

    kind: str  # "page" or "api"
    name: str  # "customers:detail" for pages, the operationId for API operations
    path: str  # the route as written: "customers/<int:customer_id>/" or "/api/customers/{customer_id}"
    kwargs: tuple[str, ...]
    method: str = "GET"  # pages: the first method tried; 405 makes the matrix use the Allow list
    permission: Any = MISSING  # the recorded required_permission; MISSING when none was recorded
    public: bool = False
    query: tuple[tuple[str, str], ...] = field(
        default=()
    )  # API: required query params (name, type)
    view: str = ""

    @property
    def id(self) -> str:
        if self.kind == "page":
            return f"page {self.name} {self.path}"
        return f"api {self.method} {self.path}"

    @property
    def has_marker(self) -> bool:
        return self.permission is not MISSING

    @property
    def required_permission(self) -> str | None:
        return None if self.permission is MISSING else self.permission


def _view_label(callback: Any) -> str:
    target = getattr(callback, "view_class", None) or callback
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def _walk(patterns: list, prefix: str, namespace: str, kwargs: tuple[str, ...]):  # noqa: ANN202
    for entry in patterns:
        own = tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES or entry.app_name in SKIPPED_NAMESPACES:
                continue
            ns = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns, kwargs + own)
        elif isinstance(entry, URLPattern):
            callback = entry.callback
            if getattr(callback, "__module__", "").startswith(SKIPPED_CALLBACK_MODULES):
                continue
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
            yield Route(
                kind="page",
                name=name,
                path=prefix + str(entry.pattern),
                kwargs=kwargs + own,
                permission=getattr(callback, "required_permission", MISSING),
                public=name in PUBLIC_PAGES,
                view=_view_label(callback),
            )


def page_routes() -> list[Route]:
    return sorted(_walk(get_resolver().url_patterns, "", "", ()), key=lambda r: r.path)


def _api_operations(api: Any) -> dict[str, Any]:
    """operationId → ninja Operation, across every router mounted on the API."""
    if hasattr(api, "_get_bound_routers"):
        routers = [(bound.prefix, bound) for bound in api._get_bound_routers()]
    else:  # older django-ninja
        routers = api._routers
    found: dict[str, Any] = {}
    for _prefix, router in routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                op_id = operation.operation_id or api.get_openapi_operation_id(operation)
                found[op_id] = operation
    return found


def hidden_api_operations() -> list[str]:
    """API operations left out of the OpenAPI schema, and so out of the matrix."""
    from config.api import api

    return sorted(
        f"{', '.join(op.methods)} {op.path} ({_view_label(op.view_func)})"
        for op in _api_operations(api).values()
        if not op.include_in_schema
    )


def api_routes() -> list[Route]:
    from config.api import api

    schema = api.get_openapi_schema()
    operations = _api_operations(api)
    routes = []
    for path, spec_by_method in schema["paths"].items():
        for method, spec in spec_by_method.items():
            if method not in API_METHODS:
                continue
            operation = operations.get(spec.get("operationId"))
            view = operation.view_func if operation is not None else None
            params = spec.get("parameters", [])
            query = tuple(
                (p["name"], p.get("schema", {}).get("type", "string"))
                for p in params
                if p.get("in") == "query" and p.get("required")
            )
            routes.append(
                Route(
                    kind="api",
                    name=spec.get("operationId", ""),
                    path=path,
                    kwargs=tuple(_PATH_PARAM.findall(path)),
                    method=method.upper(),
                    permission=getattr(view, "required_permission", MISSING),
                    public=not spec.get("security")
                    and not (operation is not None and operation.auth_callbacks),
                    query=query,
                    view=_view_label(view) if view is not None else "",
                )
            )
    return sorted(routes, key=lambda r: (r.path, r.method))


def fill_api_path(path: str, values: dict[str, int]) -> str:
    return _PATH_PARAM.sub(lambda m: str(values[m.group(1)]), path)


def all_routes() -> tuple[list[Route], list[str]]:
    """Every route, and the errors met while collecting them (reported as failing tests)."""
    errors: list[str] = []
    routes: list[Route] = []
    try:
        routes.extend(page_routes())
    except Exception as exc:  # noqa: BLE001 - a broken URLconf must show as a failing test
        errors.append(f"Walking the URLconf failed: {exc!r}")
    try:
        routes.extend(api_routes())
        errors.extend(
            f"{hidden} is left out of the OpenAPI schema (include_in_schema=False), so the "
            f"tenancy matrix cannot see it"
            for hidden in hidden_api_operations()
        )
    except Exception as exc:  # noqa: BLE001
        errors.append(f"Building the OpenAPI schema failed: {exc!r}")
    return routes, errors
