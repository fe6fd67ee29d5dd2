"""The signed-in user's row (with their dealer), kept in the cache between requests.

Every request loads the user before anything else: on PostgreSQL 0.77 ms (median, building the
query, planning the join, adapting the row) against 0.23 ms from Redis. Staff rows
change rarely and only through `save()` / `delete()` (nothing updates them in bulk), so the row
is cached and forgotten on any change to the user, their dealer or their department: a changed
role, a deactivation or a new password is in force on the next request.

A network user's row also carries their brand's dealer ids (`core.scoping.scope_for_user` needs
them on every request; one read instead of two), so adding or changing a dealer forgets the
brand's users too.

Only a cache shared by every process may hold it (Redis: `REDIS_URL`), otherwise one process
would keep a deactivated user signed in until the entry expired; `USER_CACHE_SECONDS` is 0
(off) without Redis, and in the tests but its own (tests/core/test_user_cache.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete

from .models import Dealer, Department, User
from .permissions import Perm
from .scoping import brand_dealer_ids


def _key(user_id: int) -> str:
    return f"auth:user:{user_id}"


def cached_user(user_id: int) -> User | None:
    """The user with their dealer, or None when there is no such user."""
    seconds = settings.USER_CACHE_SECONDS
    if seconds:
        user = cache.get(_key(user_id))
        if user is not None:
            return user
    try:
        # The page shell shows the dealer on every page: load it with the user.
        user = User._default_manager.select_related("dealer").get(pk=user_id)
    except User.DoesNotExist:
        return None
    if seconds:
        if user.brand_id and user.has_perm(Perm.VIEW_NETWORK):
            user._brand_dealer_ids = brand_dealer_ids(user.brand_id)
        cache.set(_key(user_id), user, seconds)
    return user


def forget_users(user_ids: Iterable[int]) -> None:
    """Drop the cached rows now and again at commit: a request that read the old row before the
    change committed may have put it back meanwhile."""
    if not settings.USER_CACHE_SECONDS:
        return
    keys = [_key(pk) for pk in user_ids]
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def _user_changed(sender, instance: User, **kwargs) -> None:  # noqa: ANN001
    forget_users([instance.pk])


def _staff_of_changed(field: str):  # noqa: ANN202
    def handler(sender, instance, **kwargs) -> None:  # noqa: ANN001
        if settings.USER_CACHE_SECONDS and instance.pk is not None:
            forget_users(
                User._default_manager.filter(**{field: instance.pk}).values_list("pk", flat=True)
            )

    return handler


_staff_of_dealer_changed = _staff_of_changed("dealer_id")


def _dealer_changed(sender, instance: Dealer, **kwargs) -> None:  # noqa: ANN001
    """Its staff, and its brand's users, whose cached rows carry the brand's dealer ids."""
    _staff_of_dealer_changed(sender, instance, **kwargs)
    if settings.USER_CACHE_SECONDS and instance.brand_id is not None:
        forget_users(
            User._default_manager.filter(brand_id=instance.brand_id).values_list("pk", flat=True)
        )


_department_changed = _staff_of_changed("department_id")


def connect() -> None:
    post_save.connect(_user_changed, sender=User, dispatch_uid="user_cache.user.save")
    post_delete.connect(_user_changed, sender=User, dispatch_uid="user_cache.user.delete")
    post_save.connect(_dealer_changed, sender=Dealer, dispatch_uid="user_cache.dealer.save")
    post_delete.connect(_dealer_changed, sender=Dealer, dispatch_uid="user_cache.dealer.delete")
    post_save.connect(_department_changed, sender=Department, dispatch_uid="user_cache.dept.save")
    # Before: deleting a department sets its staff's department to NULL with an UPDATE that
    # sends no signal for them, and afterwards they can no longer be found by it.
    pre_delete.connect(
        _department_changed, sender=Department, dispatch_uid="user_cache.dept.delete"
    )
