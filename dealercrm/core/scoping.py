"""Which dealers a user may see, and the look-up helpers that answer 404 for everything else."""

from __future__ import annotations

from django.core.cache import cache
from django.http import Http404

from .models import Dealer, User
from .permissions import Perm, Role
from .tenancy import DealerScope


def scope_for_user(user: User) -> DealerScope:
    """A dealer user sees their dealer; an OEM user every dealer of the brand; a system admin all."""
    if not user.is_active:
        return DealerScope.nothing()
    if user.role == Role.SYSTEM_ADMIN:
        return DealerScope(dealer_ids=None, is_network=True, user_id=user.pk)
    if user.has_perm(Perm.VIEW_NETWORK) and user.brand_id:
        # Carried by a user read from the cache (core.user_cache), else read now.
        ids = user.__dict__.get("_brand_dealer_ids") or brand_dealer_ids(user.brand_id)
        return DealerScope(dealer_ids=ids, is_network=True, user_id=user.pk)
    if user.dealer_id:
        return DealerScope(dealer_ids=frozenset({user.dealer_id}), user_id=user.pk)
    return DealerScope(dealer_ids=frozenset(), user_id=user.pk)


# Every request of an OEM user needs its brand's dealer ids; they change only when a dealer is
# created, so they are cached (in Redis when REDIS_URL is set, shared by every process; otherwise
# per process). dealer_create forgets them; the short lifetime bounds how long another process
# without a shared cache can miss a new dealer.
BRAND_DEALERS_CACHE_SECONDS = 60


def _brand_dealers_key(brand_id: int) -> str:
    return f"scoping:brand-dealers:{brand_id}"


def brand_dealer_ids(brand_id: int) -> frozenset[int]:
    key = _brand_dealers_key(brand_id)
    ids = cache.get(key)
    if ids is None:
        ids = frozenset(Dealer.objects.filter(brand_id=brand_id).values_list("id", flat=True))
        cache.set(key, ids, BRAND_DEALERS_CACHE_SECONDS)
    return ids


def forget_brand_dealers(brand_id: int) -> None:
    """Call after adding (or removing) a dealer of the brand."""
    cache.delete(_brand_dealers_key(brand_id))


def visible_dealers(user: User):  # noqa: ANN201
    """Dealers the user may see, as a queryset."""
    scope = scope_for_user(user)
    qs = Dealer.objects.select_related("region", "group")
    if scope.dealer_ids is None:
        return qs
    return qs.filter(id__in=scope.dealer_ids)


def get_dealer_for_user(user: User, dealer_id: int) -> Dealer:
    try:
        return visible_dealers(user).get(pk=dealer_id)
    except Dealer.DoesNotExist as exc:
        raise Http404 from exc


def acting_dealer(request) -> Dealer | None:  # noqa: ANN001
    """The dealer a page acts for: the user's own; for a network user the `dealer` parameter
    (404 when it is not one they may see), else the first dealer they may see."""
    user = request.user
    if user.dealer_id:
        return user.dealer
    value = request.POST.get("dealer") or request.GET.get("dealer")
    if value:
        try:
            return get_dealer_for_user(user, int(value))
        except (TypeError, ValueError) as exc:
            raise Http404 from exc
    return visible_dealers(user).order_by("name").first()
