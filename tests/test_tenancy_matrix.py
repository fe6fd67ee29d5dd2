"""The tenancy matrix (ARCHITECTURE.md point 4), generated from the URLconf and the OpenAPI schema.

For every page and every API operation:
- an anonymous visitor is sent to log in (pages) or gets 401 (API);
- a user of another dealer (or brand) asking for this dealer's object gets 404, never the object;
- a signed-in user without the recorded permission gets 403;
- every role holding the permission gets 200 (GET), or an answer that is neither an error of the
  server nor a 404 when it sends an empty body (POST, PUT, PATCH, DELETE: 400/422 expected).

Nobody lists routes here: a new page or endpoint is in the matrix as soon as it is routed. The ids
in its path are made by tests/matrix/objects.py; an id the registry does not know fails the
matrix with a message saying what to add. Pages record their permission with
dealercrm.core.access.staff_view, API operations with dealercrm.core.access.api_permission.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dealercrm.core.models import ApiToken, User
from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import DealerScope, dealer_scope
from tests.matrix.objects import OBJECTS, PAGE_QUERY, MakeContext
from tests.matrix.org import HOME, OTHER_BRAND, OTHER_DEALER, Org, build_org
from tests.matrix.routes import Route, all_routes, fill_api_path, page_routes

ROUTES, COLLECTION_ERRORS = all_routes()
PROTECTED = [r for r in ROUTES if not r.public]
PUBLIC = [r for r in ROUTES if r.public]
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _owners(route: Route) -> set[str]:
    return {OBJECTS[k].owner if k in OBJECTS else "unknown" for k in route.kwargs}


def _param(routes: list[Route]) -> dict:
    return {"argvalues": routes, "ids": [r.id for r in routes]}


OBJECT_BOUND = [r for r in PROTECTED if _owners(r) - {"network"}]
WITH_PERMISSION = [r for r in PROTECTED if r.required_permission]


# --- the organisation, built once for the module ----------------------------------------------


@pytest.fixture(scope="module")
def org(django_db_setup, django_db_blocker) -> Iterator[Org]:
    """Built once, inside a transaction rolled back when the module is done; every test runs in
    a savepoint within it, so tests still cannot see each other's writes."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        with dealer_scope(DealerScope.everything()):
            built = build_org()
            # Sign every user in once; the tests reuse the session cookies.
            for user in built.users.values():
                client = Client()
                client.force_login(user)
                built.sessions[user.pk] = client.cookies[settings.SESSION_COOKIE_NAME].value
            # A revoked token of a user who may do everything: it must open nothing.
            built.revoked_token = ApiToken.generate_key()
            ApiToken.objects.create(
                user=built.user(HOME, Role.SYSTEM_ADMIN),
                name="revoked",
                prefix=built.revoked_token[:8],
                key_hash=ApiToken.hash_key(built.revoked_token),
                revoked_at=timezone.now(),
            )
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


class Matrix:
    """Makes a route's objects, calls it as a given user and describes what came back."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self._clients: dict[int | None, Client] = {}

    def client(self, user: User | None, **headers: str) -> Client:
        key = (user.pk if user is not None else None, tuple(sorted(headers.items())))
        if key not in self._clients:
            client = Client(raise_request_exception=False, headers=headers)
            if user is not None:
                client.cookies[settings.SESSION_COOKIE_NAME] = self.org.sessions[user.pk]
            self._clients[key] = client
        return self._clients[key]

    def objects(self, route: Route, owner: User, *, dummy_unknown: bool = False) -> dict:
        """The ids of the route's path, made at the home dealer for `owner` (the user who will
        ask, or for the 404 check the home user the objects belong to)."""
        unknown = [k for k in route.kwargs if k not in OBJECTS]
        if unknown and not dummy_unknown:
            pytest.fail(unregistered_message(route, unknown), pytrace=False)
        ctx = MakeContext(brand=self.org.brand, dealer=self.org.dealer, user=owner)
        values = {k: ctx.get_or_make(k) if k in OBJECTS else 1 for k in route.kwargs}
        for param, kwarg in PAGE_QUERY.get(route.name, {}).items():
            values.setdefault(f"?{param}", ctx.get_or_make(kwarg))
        return values

    def url(self, route: Route, values: dict) -> str:
        path_values = {k: v for k, v in values.items() if not k.startswith("?")}
        query = {k[1:]: v for k, v in values.items() if k.startswith("?")}
        if route.kind == "page":
            url = reverse(route.name, kwargs=path_values)
        else:
            url = fill_api_path(route.path, path_values)
            for name, kind in route.query:
                query.setdefault(name, _sample(name, kind, path_values))
        return f"{url}?{urlencode(query)}" if query else url

    def call(
        self, route: Route, user: User | None, values: dict, **headers: str
    ) -> list[tuple[str, HttpResponse]]:
        """The answers to the route's methods. A page is asked with GET and with an empty POST
        (a form page answers both; a page that refuses one with 405 is not judged on it); a page
        that refuses GET is asked with each method its Allow header names."""
        client = self.client(user, **headers)
        url = self.url(route, values)
        if route.kind == "api":
            response = client.generic(route.method, url, "", content_type="application/json")
            return [(route.method, response)]
        response = client.get(url)
        if response.status_code != 405:
            answers = [("GET", response)]
            posted = client.post(url)
            if posted.status_code != 405:
                answers.append(("POST", posted))
            return answers
        allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
        return [
            (
                method,
                client.generic(method, url, "", content_type="application/x-www-form-urlencoded"),
            )
            for method in allowed
            if method not in SAFE_METHODS
        ]


def _sample(name: str, kind: str, values: dict) -> str:
    """A value for a required query parameter of an API operation."""
    if name in values:
        return str(values[name])
    return {"integer": "1", "number": "1", "boolean": "true"}.get(kind, "1234")


def describe(user: User | None, place: str, method: str, response: HttpResponse) -> str:
    who = "anonymous" if user is None else f"{user.role} ({place})"
    text = f"{who}: {method} {response.request['PATH_INFO']} → {response.status_code}"
    exc_info = getattr(response, "exc_info", None)
    if exc_info:
        tb = exc_info[2]
        while tb.tb_next is not None:
            tb = tb.tb_next
        text += f" [{exc_info[1]!r} at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}]"
    elif response.status_code in (301, 302, 303):
        text += f" to {response['Location']}"
    return text


def unregistered_message(route: Route, unknown: list[str]) -> str:
    return (
        f"{route.id} ({route.view}) takes {', '.join(unknown)}, which the tenancy matrix does not "
        f"know. Add a maker for each to OBJECTS in tests/matrix/objects.py, saying whether a "
        f"dealer, the brand or the whole network owns it, so the matrix can check that other "
        f"dealers get 404."
    )


def check(failures: list[str]) -> None:
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture(scope="module", autouse=True)
def _quiet_expected_refusals():
    # Hundreds of 403s and 404s are the point here; logging each with its traceback only costs
    # time. Server errors (logged at ERROR) still show.
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture
def matrix(org: Org, db) -> Matrix:
    return Matrix(org)


def home_users(org: Org, roles: list[str]) -> list[User]:
    return [org.user(HOME, role) for role in roles]


# --- the tests --------------------------------------------------------------------------------


def test_every_page_and_api_operation_was_collected():
    # Given the URLconf and the OpenAPI schema, when walked, then both gave their routes.
    assert not COLLECTION_ERRORS, "\n".join(COLLECTION_ERRORS)
    assert any(r.kind == "page" for r in ROUTES)


@pytest.mark.parametrize("route", **_param(ROUTES))
def test_route_declares_its_access_and_its_objects(route: Route):
    # Given a route, then every id in its path is known to the matrix …
    unknown = [k for k in route.kwargs if k not in OBJECTS]
    assert not unknown, unregistered_message(route, unknown)
    # … and a page says who may open it (staff_view records the permission, None for any staff).
    if route.kind == "page" and not route.public:
        assert route.has_marker, (
            f"{route.id} ({route.view}) records no permission: decorate it with "
            f"dealercrm.core.access.staff_view(Perm.…) (or staff_view() for any signed-in staff), "
            f"or add it to PUBLIC_PAGES in tests/matrix/routes.py if anyone may open it."
        )
    # … and a page can be reversed by name.
    if route.kind == "page":
        assert route.name, f"{route.id} ({route.view}) has no URL name: give it one."


@pytest.mark.parametrize("route", **_param(PUBLIC))
def test_public_page_opens_for_an_anonymous_visitor(route: Route, matrix: Matrix):
    # Given nobody signed in, when the page is asked for (with the keys or tokens in its path
    # made at the home dealer), then it answers without a server error.
    values = matrix.objects(route, matrix.org.user(HOME, "dealer_manager"))
    failures = [
        describe(None, "", method, response)
        for method, response in matrix.call(route, None, values)
        if response.status_code >= 500
    ]
    check(failures)


# --- the four checks, as functions so the matrix can be tested on views made to fail ----------


def anonymous_failures(matrix: Matrix, route: Route) -> list[str]:
    # Given nobody signed in, when the route is asked for one of the home dealer's objects …
    values = matrix.objects(route, matrix.org.user(HOME, "dealer_manager"), dummy_unknown=True)
    failures = []
    for method, response in matrix.call(route, None, values):
        if route.kind == "api":
            # … then the API answers 401.
            ok = response.status_code == 401
        else:
            # … then the page sends them to the login page.
            ok = response.status_code == 302 and urlsplit(response["Location"]).path == (
                resolve_url(settings.LOGIN_URL)
            )
        if not ok:
            failures.append(describe(None, "", method, response) + " (expected to log in)")
    if route.kind == "api":
        # … and a revoked token, even a system administrator's, is no better than none.
        revoked = {"Authorization": f"Bearer {matrix.org.revoked_token}"}
        for method, response in matrix.call(route, None, values, **revoked):
            if response.status_code != 401:
                failures.append(
                    describe(None, "", method, response) + " (revoked token: expected 401)"
                )
    return failures


def outsider_failures(matrix: Matrix, route: Route) -> list[str]:
    org = matrix.org
    permission = route.required_permission
    holders = org.roles_with(permission)
    owner = "dealer" if "dealer" in _owners(route) else "brand"
    outsiders = org.outsiders(permission, owner)
    if not holders or not outsiders:
        pytest.skip(f"no role outside the home {owner} holds {permission}")
    # Given objects of the home dealer (made for a home user who may see them) …
    values = matrix.objects(route, org.user(HOME, holders[0]))
    missing = {
        k: (v + 10_000_000 if k in OBJECTS and OBJECTS[k].owner != "network" else v)
        for k, v in values.items()
    }
    failures = []
    # … when users of another dealer, and of another brand, who hold the permission ask for them …
    for outsider in outsiders:
        place = OTHER_BRAND if outsider.brand_id == org.other_brand.pk else OTHER_DEALER
        for method, response in matrix.call(route, outsider, values):
            # … then the answer is 404, as if the object did not exist …
            if response.status_code == 404:
                continue
            # … or, for a write whose empty body is refused before any look-up (ninja reads the
            # input first), exactly the answer a missing object gets: nothing tells them apart.
            if method not in SAFE_METHODS and 400 <= response.status_code < 500:
                alike = dict(matrix.call(route, outsider, missing)).get(method)
                if alike is not None and (alike.status_code, alike.content) == (
                    response.status_code,
                    response.content,
                ):
                    continue
            failures.append(describe(outsider, place, method, response) + " (expected 404)")
    return failures


def forbidden_failures(matrix: Matrix, route: Route) -> list[str]:
    permission = route.required_permission
    failures = []
    # Given each role of the home dealer and brand that lacks the permission …
    for user in home_users(matrix.org, matrix.org.roles_without(permission)):
        values = matrix.objects(route, user)
        # … when it asks for the route with objects it could otherwise see, then it gets 403.
        for method, response in matrix.call(route, user, values):
            if response.status_code != 403:
                failures.append(
                    describe(user, HOME, method, response) + f" (expected 403: lacks {permission})"
                )
    return failures


def permitted_failures(matrix: Matrix, route: Route) -> list[str]:
    permission = route.required_permission
    failures = []
    # Given each role of the home dealer and brand that holds the permission (every role when
    # the route needs none), and objects it may see …
    for user in home_users(matrix.org, matrix.org.roles_with(permission)):
        values = matrix.objects(route, user)
        answers = matrix.call(route, user, values)
        gets_too = any(method in SAFE_METHODS for method, _ in answers)
        for method, response in answers:
            status = response.status_code
            # … then GET answers 200, and an empty write an error of the input, not of the server
            # (a page that also takes POST may ask a further permission for it: 403 is allowed).
            if method in SAFE_METHODS:
                ok = status == 200
            else:
                refused = (401, 404, 405) if gets_too else (401, 403, 404, 405)
                ok = status < 500 and status not in refused
            if not ok:
                failures.append(describe(user, HOME, method, response))
    return failures


@pytest.mark.parametrize("route", **_param(PROTECTED))
def test_anonymous_visitor_is_sent_to_log_in(route: Route, matrix: Matrix):
    check(anonymous_failures(matrix, route))


@pytest.mark.parametrize("route", **_param(OBJECT_BOUND))
def test_user_of_another_dealer_gets_404_for_this_dealers_object(route: Route, matrix: Matrix):
    check(outsider_failures(matrix, route))


@pytest.mark.parametrize("route", **_param(WITH_PERMISSION))
def test_signed_in_user_without_the_permission_gets_403(route: Route, matrix: Matrix):
    check(forbidden_failures(matrix, route))


@pytest.mark.parametrize("route", **_param(PROTECTED))
def test_every_role_holding_the_permission_gets_an_answer(route: Route, matrix: Matrix):
    check(permitted_failures(matrix, route))


# --- the matrix itself catches what it is for -------------------------------------------------


def _page(name: str) -> Route:
    return next(r for r in page_routes() if r.name == name)


@pytest.mark.urls("tests.matrix.faulty_urls")
def test_the_matrix_passes_a_view_that_keeps_to_its_dealer(matrix: Matrix):
    route = _page("faulty:scoped")
    assert anonymous_failures(matrix, route) == []
    assert outsider_failures(matrix, route) == []
    assert forbidden_failures(matrix, route) == []
    assert permitted_failures(matrix, route) == []


@pytest.mark.urls("tests.matrix.faulty_urls")
def test_the_matrix_catches_a_view_that_shows_another_dealers_customer(matrix: Matrix):
    failures = outsider_failures(matrix, _page("faulty:leaky"))
    assert failures
    assert all("→ 200 (expected 404)" in f for f in failures)


@pytest.mark.urls("tests.matrix.faulty_urls")
def test_the_matrix_catches_a_view_that_does_not_check_its_permission(matrix: Matrix):
    failures = forbidden_failures(matrix, _page("faulty:unchecked"))
    assert any(f.startswith("dealer_admin (home)") for f in failures)


@pytest.mark.urls("tests.matrix.faulty_urls")
def test_the_matrix_catches_a_page_that_fails_for_some_role(matrix: Matrix):
    failures = permitted_failures(matrix, _page("faulty:broken_for_oem"))
    assert {f.split(" ")[0] for f in failures} == {"oem_analyst", "oem_admin", "system_admin"}
    assert all("→ 500" in f and "RuntimeError('no dealer')" in f for f in failures)


@pytest.mark.urls("tests.matrix.faulty_urls")
def test_the_matrix_catches_a_page_that_forgets_the_login(matrix: Matrix):
    failures = anonymous_failures(matrix, _page("faulty:open"))
    url = reverse("faulty:open")
    assert failures == [
        f"anonymous: GET {url} → 200 (expected to log in)",
        f"anonymous: POST {url} → 200 (expected to log in)",
    ]
