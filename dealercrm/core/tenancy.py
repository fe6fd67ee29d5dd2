"""Dealer scope: which dealers' rows the current request or job may touch.

Every dealer-owned model extends DealerOwnedModel. Its default manager filters by the scope that
middleware (requests), the API's auth (tokens) or `dealer_scope` (jobs, commands, tests) puts in
a context variable. Without a scope the manager raises rather than guess: tenancy fails closed.
Going across dealers is the explicit `.unscoped()`, refused inside a dealer-limited scope.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models


class DealerScopeMissing(RuntimeError):
    """Raised when dealer-owned rows are read with no scope active."""


@dataclass(frozen=True)
class DealerScope:
    """The dealers visible now. dealer_ids None means every dealer (system jobs, system admin)."""

    dealer_ids: frozenset[int] | None
    is_network: bool = False  # may read across dealers (OEM roles, system jobs)
    user_id: int | None = None

    @classmethod
    def everything(cls) -> DealerScope:
        return cls(dealer_ids=None, is_network=True)

    @classmethod
    def nothing(cls) -> DealerScope:
        return cls(dealer_ids=frozenset())

    @classmethod
    def for_dealers(cls, dealer_ids: Iterable[int], *, is_network: bool = False) -> DealerScope:
        return cls(dealer_ids=frozenset(dealer_ids), is_network=is_network)

    def allows(self, dealer_id: int | None) -> bool:
        return self.dealer_ids is None or dealer_id in self.dealer_ids


_current_scope: contextvars.ContextVar[DealerScope | None] = contextvars.ContextVar(
    "dealer_scope", default=None
)


def get_current_scope() -> DealerScope | None:
    return _current_scope.get()


def require_scope() -> DealerScope:
    scope = _current_scope.get()
    if scope is None:
        raise DealerScopeMissing(
            "No dealer scope is active: wrap this code in dealer_scope(...), "
            "or use .unscoped() for a deliberate network-wide read."
        )
    return scope


def activate_scope(scope: DealerScope) -> contextvars.Token:
    return _current_scope.set(scope)


def deactivate_scope(token: contextvars.Token) -> None:
    _current_scope.reset(token)


@contextmanager
def dealer_scope(scope: DealerScope | int | Iterable[int] | None) -> Iterator[DealerScope]:
    """Run a block in a scope: a DealerScope, one dealer id, several ids, or None for everything."""
    if scope is None:
        resolved = DealerScope.everything()
    elif isinstance(scope, DealerScope):
        resolved = scope
    elif isinstance(scope, int):
        resolved = DealerScope.for_dealers([scope])
    else:
        resolved = DealerScope.for_dealers(scope)
    token = activate_scope(resolved)
    try:
        yield resolved
    finally:
        deactivate_scope(token)


F = TypeVar("F", bound=Callable[..., Any])


def in_dealer_scope(func: F) -> F:
    """For jobs: the job's `dealer_id` keyword (or None for network jobs) sets the scope."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with dealer_scope(kwargs.get("dealer_id")):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class DealerScopedQuerySet(models.QuerySet):
    def unscoped(self) -> DealerScopedQuerySet:
        """All dealers' rows. Refused inside a dealer-limited scope (a dealer's user)."""
        scope = get_current_scope()
        if scope is not None and not scope.is_network:
            raise PermissionDenied("Reading across dealers needs a network (OEM) role.")
        return self.__class__(model=self.model, using=self.db)

    def for_dealer(self, dealer_id: int) -> DealerScopedQuerySet:
        return self.filter(dealer_id=dealer_id)


class DealerScopedManager(models.Manager.from_queryset(DealerScopedQuerySet)):  # type: ignore[misc]
    """Default manager of dealer-owned models: filters by the active DealerScope."""

    def get_queryset(self) -> DealerScopedQuerySet:
        qs = super().get_queryset()
        scope = require_scope()
        if scope.dealer_ids is None:
            return qs
        if len(scope.dealer_ids) == 1:
            return qs.filter(dealer_id=next(iter(scope.dealer_ids)))
        return qs.filter(dealer_id__in=sorted(scope.dealer_ids))

    def unscoped(self) -> DealerScopedQuerySet:
        scope = get_current_scope()
        if scope is not None and not scope.is_network:
            raise PermissionDenied("Reading across dealers needs a network (OEM) role.")
        return self._queryset_class(model=self.model, using=self._db, hints=self._hints)


class DealerOwnedModel(models.Model):
    """A row that belongs to one dealer. Every index and unique constraint starts with dealer_id,
    so the schema can be distributed by dealer (Citus) when a network outgrows one server."""

    dealer = models.ForeignKey(
        "core.Dealer", on_delete=models.PROTECT, related_name="+", db_index=False
    )

    objects = DealerScopedManager()

    class Meta:
        abstract = True
