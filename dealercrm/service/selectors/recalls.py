"""Reads of recalls: campaigns the user may see, the completion figures per dealer and region
(one grouped query), a dealer's affected cars."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm, Role

from ..models import RecallCampaign, RecallStatus, RecallVehicle
from ..models.recalls import RecallCampaignStatus

# A car counts as booked once its appointment is booked, and still when it has been repaired.
BOOKED_OR_LATER = (RecallStatus.BOOKED, RecallStatus.COMPLETED)


def campaigns_for_user(user: User) -> QuerySet[RecallCampaign]:
    """The brand's campaigns; dealer staff see launched ones only (drafts are the OEM's)."""
    qs = RecallCampaign.objects.all()
    if user.role == Role.SYSTEM_ADMIN:
        return qs
    dealer = user.dealer
    brand_id = user.brand_id or (dealer.brand_id if dealer is not None else None)
    return qs.filter(brand_id=brand_id) if brand_id else qs.none()


def campaign_list(user: User) -> QuerySet[RecallCampaign]:
    qs = campaigns_for_user(user)
    if not user.has_perm(Perm.MANAGE_RECALLS) and not user.has_perm(Perm.VIEW_NETWORK):
        qs = qs.exclude(status=RecallCampaignStatus.DRAFT)
    return qs.order_by("-created_at", "-id")


def get_campaign_for_user(user: User, recall_id: int) -> RecallCampaign:
    """The campaign, or 404 when it is another brand's (or does not exist)."""
    campaign = campaigns_for_user(user).filter(pk=recall_id).first()
    if campaign is None:
        raise Http404
    return campaign


@dataclass
class Figures:
    """Affected cars and how far each got."""

    affected: int = 0
    notified: int = 0
    booked: int = 0
    completed: int = 0

    @property
    def rate(self) -> float:
        return self.completed / self.affected if self.affected else 0.0

    @property
    def rate_percent(self) -> str:
        return f"{self.rate * 100:.1f}%"

    def add(self, other: Figures) -> None:
        self.affected += other.affected
        self.notified += other.notified
        self.booked += other.booked
        self.completed += other.completed


@dataclass
class DealerFigures(Figures):
    dealer_id: int = 0
    dealer_code: str = ""
    dealer_name: str = ""
    region: str = ""


@dataclass
class CampaignFigures:
    dealers: list[DealerFigures] = field(default_factory=list)
    regions: list[tuple[str, Figures]] = field(default_factory=list)
    total: Figures = field(default_factory=Figures)


def campaign_figures(campaign: RecallCampaign) -> CampaignFigures:
    """Per dealer the user may see (the scoped manager: a dealer sees its own row, the OEM every
    dealer), in ONE grouped query; the regions and the total are summed from those rows."""
    rows = (
        RecallVehicle.objects.filter(campaign_id=campaign.pk)
        .order_by()
        .values("dealer_id", "dealer__code", "dealer__name", "dealer__region__name")
        .annotate(
            affected=Count("id"),
            notified=Count("id", filter=Q(notified_at__isnull=False)),
            booked=Count("id", filter=Q(status__in=BOOKED_OR_LATER)),
            completed=Count("id", filter=Q(status=RecallStatus.COMPLETED)),
        )
        .order_by("dealer__region__name", "dealer__code")
    )
    result = CampaignFigures()
    regions: dict[str, Figures] = {}
    for row in rows:
        item = DealerFigures(
            affected=row["affected"],
            notified=row["notified"],
            booked=row["booked"],
            completed=row["completed"],
            dealer_id=row["dealer_id"],
            dealer_code=row["dealer__code"],
            dealer_name=row["dealer__name"],
            region=row["dealer__region__name"],
        )
        result.dealers.append(item)
        regions.setdefault(item.region, Figures()).add(item)
        result.total.add(item)
    result.regions = sorted(regions.items())
    return result


def recall_vehicle_list(
    campaign: RecallCampaign, *, status: str = "", dealer_id: int | None = None, q: str = ""
) -> QuerySet[RecallVehicle]:
    """The campaign's cars the user may see (scoped: a dealer's own, never another's)."""
    qs = (
        RecallVehicle.objects.filter(campaign_id=campaign.pk)
        .select_related("vehicle", "vehicle__car_model", "customer", "dealer", "repair_order")
        .order_by("status", "vin")
    )
    if status in RecallStatus.values:
        qs = qs.filter(status=status)
    if dealer_id:
        qs = qs.filter(dealer_id=dealer_id)
    q = (q or "").strip().upper()
    if q:
        qs = qs.filter(Q(vin__contains=q) | Q(vehicle__plate__contains=q))
    return qs
