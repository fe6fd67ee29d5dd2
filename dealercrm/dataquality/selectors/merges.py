"""Reads for merges: the merge history a user may see, one merge, a pair that may be merged."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404

from dealercrm.core.models import User
from dealercrm.core.scoping import visible_dealers
from dealercrm.customers.models import Customer

from ..models import DuplicateCandidate, MergeRecord
from ..services.merges import merge_moved_counts, merge_not_copied_counts

PAGE_SIZE = 50


def visible_merges(user: User) -> QuerySet[MergeRecord]:
    """The merges of the dealers this user may see, newest first."""
    return (
        MergeRecord.objects.filter(dealer_id__in=visible_dealers(user).values("pk"))
        .select_related("survivor", "merged", "merged_by", "undone_by", "dealer")
        .order_by("-merged_at", "-pk")
    )


def merge_page(user: User, *, page: int | str = 1) -> Page:
    return Paginator(visible_merges(user), PAGE_SIZE).get_page(page)


def get_merge_for_user(user: User, merge_id: int | str) -> MergeRecord:
    """The merge, or Http404 alike for missing and another dealer's."""
    try:
        return visible_merges(user).get(pk=int(merge_id))
    except (MergeRecord.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def get_mergeable_pair_for_user(user: User, candidate_id: int | str) -> DuplicateCandidate:
    """A within-dealer pair the user's dealers own (cross-dealer pairs are linked, not merged)."""
    try:
        return (
            DuplicateCandidate.objects.filter(
                dealer_id__in=visible_dealers(user).values("pk"), cross_dealer=False
            )
            .select_related("customer_a", "customer_b")
            .get(pk=int(candidate_id))
        )
    except (DuplicateCandidate.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def pair_customers(candidate: DuplicateCandidate) -> tuple[Customer, Customer]:
    """The pair, older record first (the default survivor: it has more history)."""
    a, b = candidate.customer_a, candidate.customer_b
    return (a, b) if (a.created_at, a.pk) <= (b.created_at, b.pk) else (b, a)


@dataclass(frozen=True)
class MovedKind:
    label: str  # "Vehicle" (the model's verbose name, plural when more than one)
    field: str  # "owner"
    count: int


def _kinds(counts: dict[str, int]) -> list[MovedKind]:
    kinds = []
    for key, count in sorted(counts.items()):
        app_label, model_name, *field = key.split(".")
        try:
            meta = apps.get_model(app_label, model_name)._meta
        except LookupError:
            continue
        name = meta.verbose_name_plural if count != 1 else meta.verbose_name
        kinds.append(MovedKind(label=str(name), field=field[0] if field else "", count=count))
    return kinds


def moved_kinds(merge: MergeRecord) -> list[MovedKind]:
    """What the merge moved to the survivor, per kind of record and foreign key."""
    return _kinds(merge_moved_counts(merge))


def dropped_kinds(merge: MergeRecord) -> list[MovedKind]:
    """What the survivor already had the like of (a phone, a tag, a consent channel)."""
    return _kinds(merge_not_copied_counts(merge))
