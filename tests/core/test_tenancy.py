"""The dealer scope (dealercrm/core/tenancy.py) and who sees which dealers (core/scoping.py)."""

from __future__ import annotations

import contextvars

import pytest
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.urls import path

from dealercrm.core.models import Department
from dealercrm.core.permissions import Role
from dealercrm.core.scoping import scope_for_user
from dealercrm.core.tenancy import (
    DealerScope,
    DealerScopeMissing,
    dealer_scope,
    get_current_scope,
    in_dealer_scope,
    require_scope,
)
from tests.core.factories import BrandFactory, DealerFactory, DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def outside_any_scope(func, *args, **kwargs):
    """Run `func` in a fresh context, where no dealer scope has ever been set."""
    return contextvars.Context().run(func, *args, **kwargs)


@pytest.fixture
def departments(dealer, other_dealer):
    return {
        "home": DepartmentFactory(dealer=dealer, kind=Department.Kind.SALES, name="销售部"),
        "other": DepartmentFactory(dealer=other_dealer, kind=Department.Kind.SALES, name="销售部"),
    }


@pytest.fixture
def foreign_dealer():
    other_brand = BrandFactory(code="other-brand", name="别家汽车")
    return DealerFactory(brand=other_brand, name="别家4S店")


# --- failing closed ---------------------------------------------------------------------------


def test_reading_dealer_owned_rows_without_a_scope_raises(departments):
    # Given rows of two dealers, when they are read where no scope is active, then it raises.
    with pytest.raises(DealerScopeMissing):
        outside_any_scope(lambda: list(Department.objects.all()))


def test_require_scope_names_the_way_out_when_no_scope_is_active():
    with pytest.raises(DealerScopeMissing, match="dealer_scope"):
        outside_any_scope(require_scope)


def test_a_scope_of_no_dealers_reads_nothing(departments):
    with dealer_scope(DealerScope.nothing()):
        assert list(Department.objects.all()) == []


# --- filtering by the scope -------------------------------------------------------------------


def test_a_dealer_scope_reads_only_that_dealers_rows(departments, dealer):
    # Given departments at two dealers, when read in the home dealer's scope …
    with dealer_scope(dealer.pk):
        rows = list(Department.objects.all())
    # … then only the home dealer's are there.
    assert rows == [departments["home"]]


def test_a_scope_of_several_dealers_reads_theirs_and_no_other(
    departments, dealer, other_dealer, foreign_dealer
):
    foreign = DepartmentFactory(dealer=foreign_dealer, kind=Department.Kind.SALES)
    with dealer_scope([dealer.pk, other_dealer.pk]):
        ids = set(Department.objects.values_list("id", flat=True))
    assert ids == {departments["home"].pk, departments["other"].pk}
    assert foreign.pk not in ids


def test_get_by_id_of_another_dealers_row_finds_nothing(departments, dealer):
    with dealer_scope(dealer.pk), pytest.raises(Department.DoesNotExist):
        Department.objects.get(pk=departments["other"].pk)


def test_the_everything_scope_reads_every_dealer(departments):
    with dealer_scope(None):
        assert Department.objects.count() == 2


def test_leaving_a_scope_restores_the_one_before_even_after_an_error(dealer):
    before = get_current_scope()
    with pytest.raises(ValueError), dealer_scope(dealer.pk):
        assert get_current_scope().dealer_ids == frozenset({dealer.pk})
        raise ValueError
    assert get_current_scope() == before


# --- crossing dealers on purpose --------------------------------------------------------------


def test_unscoped_is_refused_inside_a_dealer_scope(departments, dealer):
    with dealer_scope(dealer.pk):
        with pytest.raises(PermissionDenied):
            Department.objects.unscoped()
        with pytest.raises(PermissionDenied):
            Department.objects.all().unscoped()


def test_unscoped_reads_every_dealer_inside_a_network_scope(departments, dealer, other_dealer):
    # Given an OEM-like scope over the brand's dealers …
    network = DealerScope.for_dealers([dealer.pk], is_network=True)
    with dealer_scope(network):
        # … the default manager still filters, and unscoped() deliberately reads everything.
        assert Department.objects.count() == 1
        assert Department.objects.unscoped().count() == 2
        assert Department.objects.filter(dealer=other_dealer).unscoped().count() == 2


def test_unscoped_works_where_no_scope_is_set_for_commands_and_migrations(departments):
    assert outside_any_scope(lambda: Department.objects.unscoped().count()) == 2


# --- jobs -------------------------------------------------------------------------------------


@in_dealer_scope
def count_departments_job(*, dealer_id=None):
    return Department.objects.count(), get_current_scope()


def test_a_job_with_a_dealer_id_runs_in_that_dealers_scope(departments, dealer):
    # Given a job decorated with in_dealer_scope, when it runs for one dealer …
    before = get_current_scope()
    count, scope = count_departments_job(dealer_id=dealer.pk)
    # … then it sees that dealer's rows only, and the scope ends with the job.
    assert count == 1
    assert scope.dealer_ids == frozenset({dealer.pk})
    assert get_current_scope() == before


def test_a_job_with_a_dealer_id_needs_no_scope_around_it(departments, dealer):
    count, _ = outside_any_scope(count_departments_job, dealer_id=dealer.pk)
    assert count == 1


def test_a_job_without_a_dealer_id_runs_over_the_network(departments):
    count, scope = outside_any_scope(count_departments_job)
    assert count == 2
    assert scope.dealer_ids is None
    assert scope.is_network


def test_a_job_inside_a_dealer_scope_cannot_widen_it_by_unscoped(departments, dealer):
    @in_dealer_scope
    def sneaky(*, dealer_id):
        return Department.objects.unscoped().count()

    with pytest.raises(PermissionDenied):
        outside_any_scope(sneaky, dealer_id=dealer.pk)


# --- scope of each role -----------------------------------------------------------------------

DEALER_ROLES = [
    Role.SALES_CONSULTANT,
    Role.SERVICE_ADVISOR,
    Role.CARE_SPECIALIST,
    Role.DEALER_MANAGER,
    Role.DEALER_ADMIN,
]


@pytest.mark.parametrize("role", DEALER_ROLES)
def test_a_dealer_role_sees_its_own_dealer_only(role, make_user, dealer, other_dealer):
    scope = scope_for_user(make_user(role))
    assert scope.dealer_ids == frozenset({dealer.pk})
    assert not scope.is_network
    assert not scope.allows(other_dealer.pk)


@pytest.mark.parametrize("role", [Role.OEM_ANALYST, Role.OEM_ADMIN])
def test_an_oem_role_sees_every_dealer_of_its_brand_and_no_other_brand(
    role, make_user, dealer, other_dealer, foreign_dealer
):
    scope = scope_for_user(make_user(role))
    assert scope.dealer_ids == frozenset({dealer.pk, other_dealer.pk})
    assert scope.is_network
    assert not scope.allows(foreign_dealer.pk)


def test_a_system_admin_sees_every_dealer_of_every_brand(make_user, foreign_dealer):
    scope = scope_for_user(make_user(Role.SYSTEM_ADMIN))
    assert scope.dealer_ids is None
    assert scope.is_network
    assert scope.allows(foreign_dealer.pk)


def test_an_inactive_user_sees_nothing(make_user):
    user = make_user(Role.DEALER_MANAGER, is_active=False)
    assert scope_for_user(user).dealer_ids == frozenset()


def test_a_user_without_a_role_sees_nothing(brand):
    user = UserFactory(role="", dealer=None, brand=brand)
    assert scope_for_user(user).dealer_ids == frozenset()


def test_the_scope_remembers_whose_it_is(consultant):
    assert scope_for_user(consultant).user_id == consultant.pk


def test_an_oem_users_scope_reads_the_brands_rows_through_the_manager(
    departments, oem_analyst, foreign_dealer
):
    DepartmentFactory(dealer=foreign_dealer, kind=Department.Kind.SALES)
    with dealer_scope(scope_for_user(oem_analyst)):
        assert set(Department.objects.all()) == set(departments.values())


# --- requests ---------------------------------------------------------------------------------


def scope_probe(request):
    scope = get_current_scope()
    ids = None if scope.dealer_ids is None else sorted(scope.dealer_ids)
    return JsonResponse({"dealer_ids": ids, "user_id": scope.user_id, "rows": _rows_seen()})


def _rows_seen() -> int:
    return Department.objects.count()


urlpatterns = [path("scope/", scope_probe)]


@pytest.mark.urls(__name__)
def test_a_signed_in_request_runs_in_the_users_scope(client, consultant, dealer, departments):
    client.force_login(consultant)
    body = client.get("/scope/").json()
    assert body == {"dealer_ids": [dealer.pk], "user_id": consultant.pk, "rows": 1}


@pytest.mark.urls(__name__)
def test_an_anonymous_request_runs_in_a_scope_of_no_dealers(client, departments):
    body = client.get("/scope/").json()
    assert body == {"dealer_ids": [], "user_id": None, "rows": 0}


@pytest.mark.urls(__name__)
def test_the_requests_scope_ends_with_the_request(client, consultant):
    before = get_current_scope()
    client.force_login(consultant)
    client.get("/scope/")
    assert get_current_scope() == before


def test_a_new_dealer_is_in_the_oem_scope_at_once_though_the_brand_dealers_are_cached(
    brand, make_user
):
    from dealercrm.core.models import Region
    from dealercrm.core.scoping import scope_for_user
    from dealercrm.core.services import dealer_create

    oem_admin = make_user(Role.OEM_ADMIN)
    before = scope_for_user(oem_admin).dealer_ids  # now cached
    region = Region.objects.create(brand=brand, name="华东新区", code="east-new")
    dealer = dealer_create(
        actor=oem_admin, region=region, code="new-dealer", name="新店", province="上海", city="上海"
    )
    after = scope_for_user(oem_admin).dealer_ids
    assert dealer.pk not in before
    assert after == before | {dealer.pk}
