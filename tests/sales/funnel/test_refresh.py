"""The roll-up: cells equal a direct count of the leads, and only changed months are rebuilt."""

from __future__ import annotations

import datetime

import time_machine
from django.db.models import Sum

from dealercrm.sales.models import FunnelCell, FunnelLossCell, FunnelRefresh, Lead, LeadChannel
from dealercrm.sales.models.funnel import GRAIN_DIMENSIONS, Grain, grain_for
from dealercrm.sales.services.funnel import funnel_refresh

from .conftest import at


def cell_totals(dealer) -> dict:
    return FunnelCell.objects.filter(dealer=dealer, grain=Grain.FULL).aggregate(
        leads=Sum("leads"),
        contacted=Sum("contacted"),
        test_driven=Sum("test_driven"),
        negotiated=Sum("negotiated"),
        ordered=Sum("ordered"),
        delivered=Sum("delivered"),
        lost=Sum("lost"),
        responded=Sum("responded"),
        response_seconds=Sum("response_seconds"),
        responded_in_time=Sum("responded_in_time"),
        decision_seconds=Sum("decision_seconds"),
    )


def snapshot() -> list[tuple]:
    cells = FunnelCell.objects.order_by(
        "dealer_id", "month", "channel", "consultant_id", "car_model_id"
    ).values_list(
        "dealer_id",
        "month",
        "channel",
        "consultant_id",
        "car_model_id",
        "leads",
        "contacted",
        "test_driven",
        "negotiated",
        "ordered",
        "delivered",
        "lost",
        "responded",
        "response_seconds",
        "responded_in_time",
        "decision_seconds",
    )
    losses = FunnelLossCell.objects.order_by(
        "dealer_id", "cohort_month", "month", "channel", "reason"
    ).values_list("dealer_id", "cohort_month", "month", "channel", "reason", "lost")
    return [*cells, *losses]


@time_machine.travel(at(2025, 6, 20), tick=False)
def test_given_leads_at_every_stage_when_refreshed_then_cells_match_a_direct_count(
    dealer, make_lead, sales_consultant
):
    # given: a walk-in ordered 40 days after creation, answered in 10 minutes (due in 30)
    make_lead(
        dealer,
        at(2025, 3, 1),
        consultant=sales_consultant,
        first_response_due_at=at(2025, 3, 1, 10, 30),
        first_contacted_at=at(2025, 3, 1, 10, 10),
        test_drive_at=at(2025, 3, 5),
        negotiation_at=at(2025, 3, 20),
        ordered_at=at(2025, 4, 10),
    )
    # a referral answered late, lost in April
    make_lead(
        dealer,
        at(2025, 3, 15),
        channel=LeadChannel.REFERRAL,
        first_response_due_at=at(2025, 3, 15, 10, 30),
        first_contacted_at=at(2025, 3, 15, 12),
        lost_at=at(2025, 4, 2),
    )
    # a lead that skipped ahead to delivery: counts as reaching every stage before
    make_lead(dealer, at(2025, 4, 30, 23, 30), delivered_at=at(2025, 5, 2))
    make_lead(dealer, at(2025, 5, 1))

    # when
    funnel_refresh()

    # then: the totals are those of the leads
    totals = cell_totals(dealer)
    assert totals == {
        "leads": 4,
        "contacted": 3,
        "test_driven": 2,
        "negotiated": 2,
        "ordered": 2,
        "delivered": 1,
        "lost": 1,
        "responded": 2,
        "response_seconds": 600 + 7200,
        "responded_in_time": 1,
        "decision_seconds": 40 * 86400,
    }
    # months are the dealer's (Shanghai): 23:30 on 30 April is April, not May (UTC 15:30)
    by_month = dict(
        FunnelCell.objects.filter(grain=Grain.FULL)
        .values_list("month")
        .annotate(n=Sum("leads"))
        .values_list("month", "n")
    )
    assert by_month == {
        datetime.date(2025, 3, 1): 2,
        datetime.date(2025, 4, 1): 1,
        datetime.date(2025, 5, 1): 1,
    }
    assert list(
        FunnelLossCell.objects.filter(grain=Grain.FULL).values_list(
            "cohort_month", "month", "channel", "lost"
        )
    ) == [(datetime.date(2025, 3, 1), datetime.date(2025, 4, 1), LeadChannel.REFERRAL, 1)]
    assert FunnelRefresh.objects.get(dealer=dealer).refreshed_through == at(2025, 5, 1)
    assert FunnelRefresh.objects.get(dealer=dealer).refreshed_at == at(2025, 6, 20)


@time_machine.travel(at(2025, 6, 20), tick=False)
def test_a_changed_lead_rebuilds_only_its_month(dealer, make_lead):
    # given
    march = make_lead(dealer, at(2025, 3, 3))
    make_lead(dealer, at(2025, 5, 3))
    funnel_refresh()
    may_cell_id = FunnelCell.objects.get(grain=Grain.FULL, month=datetime.date(2025, 5, 1)).pk
    march_cell_id = FunnelCell.objects.get(grain=Grain.FULL, month=datetime.date(2025, 3, 1)).pk

    # when: the March lead is contacted (well after the safety margin)
    with time_machine.travel(at(2025, 6, 21), tick=False):
        Lead.objects.filter(pk=march.pk).update(
            first_contacted_at=at(2025, 6, 21), updated_at=at(2025, 6, 21)
        )
        recomputed = funnel_refresh()

    # then: March was rebuilt (a new row), May untouched (the same row)
    assert recomputed == 1
    assert (
        FunnelCell.objects.get(grain=Grain.FULL, month=datetime.date(2025, 5, 1)).pk == may_cell_id
    )
    march_cell = FunnelCell.objects.get(grain=Grain.FULL, month=datetime.date(2025, 3, 1))
    assert march_cell.pk != march_cell_id
    assert march_cell.contacted == 1


@time_machine.travel(at(2025, 6, 20), tick=False)
def test_running_refresh_twice_changes_nothing(dealer, other_dealer, make_lead):
    # given
    make_lead(dealer, at(2025, 1, 3), first_contacted_at=at(2025, 1, 3, 11))
    make_lead(other_dealer, at(2025, 2, 3), lost_at=at(2025, 3, 1))
    funnel_refresh()
    before = snapshot()

    # when
    funnel_refresh()
    funnel_refresh()

    # then
    assert snapshot() == before
    assert len(before) == 3 * 6  # a full cell and its five roll-ups each


@time_machine.travel(at(2025, 6, 20), tick=False)
def test_a_late_commit_with_an_earlier_updated_at_is_still_rolled_up(dealer, make_lead):
    # given: refreshed through 12:00
    make_lead(dealer, at(2025, 6, 20, 12), updated_at=at(2025, 6, 20, 12))
    funnel_refresh()

    # when: a transaction that stamped 11:58 commits after the refresh
    make_lead(dealer, at(2025, 2, 1), updated_at=at(2025, 6, 20, 11, 58))
    funnel_refresh()

    # then
    assert cell_totals(dealer)["leads"] == 2
    assert FunnelCell.objects.filter(grain=Grain.FULL, month=datetime.date(2025, 2, 1)).exists()


@time_machine.travel(at(2025, 6, 20), tick=False)
def test_deleted_leads_and_history_loaded_in_bulk_are_noticed(dealer, make_lead):
    # given
    gone = make_lead(dealer, at(2025, 1, 5))
    make_lead(dealer, at(2025, 4, 5))
    funnel_refresh()

    # when: a lead is deleted, and a bulk load writes a 2024 lead with its old updated_at
    gone.delete()
    make_lead(dealer, at(2024, 11, 5), updated_at=at(2024, 11, 6))
    funnel_refresh(verify=True)

    # then
    months = dict(
        FunnelCell.objects.filter(grain=Grain.FULL)
        .values_list("month")
        .annotate(n=Sum("leads"))
        .values_list("month", "n")
    )
    assert months == {datetime.date(2024, 11, 1): 1, datetime.date(2025, 4, 1): 1}


@time_machine.travel(at(2025, 6, 20), tick=False)
def test_deleted_leads_are_counted_again_on_the_first_run_of_the_hour(dealer, make_lead):
    # given
    gone = make_lead(dealer, at(2025, 1, 5))
    make_lead(dealer, at(2025, 1, 6))
    funnel_refresh()
    gone.delete()

    # when: a run at 10:15 does not count; the one at 11:00 does
    funnel_refresh(now=at(2025, 6, 20, 10, 15))
    before = cell_totals(dealer)["leads"]
    funnel_refresh(now=at(2025, 6, 20, 11, 0))

    # then
    assert before == 2
    assert cell_totals(dealer)["leads"] == 1


@time_machine.travel(at(2025, 6, 20), tick=False)
def test_refresh_of_one_dealer_leaves_the_others_alone(dealer, other_dealer, make_lead):
    make_lead(dealer, at(2025, 1, 5))
    make_lead(other_dealer, at(2025, 1, 5))

    funnel_refresh(dealer_ids=[dealer.pk])

    assert FunnelCell.objects.filter(dealer=dealer, grain=Grain.FULL).count() == 1
    assert not FunnelCell.objects.filter(dealer=other_dealer).exists()
    assert not FunnelRefresh.objects.filter(dealer=other_dealer).exists()


@time_machine.travel(at(2025, 6, 20), tick=False)
def test_every_grain_sums_to_the_same_figures_as_the_full_cells(
    dealer, make_lead, sales_consultant, brand
):
    # given: leads across channels, consultants, models, months, some lost
    from tests.vehicles.factories import CarModelFactory

    other_model = CarModelFactory(brand=brand, series="银河")
    for i in range(12):
        kwargs = {
            "channel": [LeadChannel.REFERRAL, LeadChannel.DOUYIN, LeadChannel.PHONE][i % 3],
            "consultant": sales_consultant if i % 2 else None,
            "first_contacted_at": at(2025, 1 + i % 5, 1 + i, 10, 5 + i),
            "ordered_at": at(2025, 6, 1) if i % 3 == 0 else None,
            "lost_at": at(2025, 6, 2) if i % 3 == 1 else None,
        }
        if i % 4 == 0:
            kwargs["car_model"] = other_model
        elif i % 4 == 1:
            kwargs["car_model"] = None
        make_lead(dealer, at(2025, 1 + i % 5, 1 + i), **kwargs)

    # when
    funnel_refresh()

    # then: each grain holds the same totals, keeping only its own dimensions
    full = FunnelCell.objects.filter(grain=Grain.FULL).aggregate(
        leads=Sum("leads"), ordered=Sum("ordered"), response_seconds=Sum("response_seconds")
    )
    assert full["leads"] == 12
    for grain, kept in GRAIN_DIMENSIONS.items():
        cells = FunnelCell.objects.filter(grain=grain)
        assert (
            cells.aggregate(
                leads=Sum("leads"), ordered=Sum("ordered"), response_seconds=Sum("response_seconds")
            )
            == full
        ), grain
        if "channel" not in kept:
            assert set(cells.values_list("channel", flat=True)) == {""}
        if "consultant_id" not in kept:
            assert set(cells.values_list("consultant_id", flat=True)) == {None}
        losses = FunnelLossCell.objects.filter(grain=grain).aggregate(n=Sum("lost"))["n"]
        assert losses == 4, grain
    by_channel_model = {
        (c, m): n
        for c, m, n in FunnelCell.objects.filter(grain=Grain.CHANNEL_MODEL)
        .values_list("channel", "car_model_id")
        .annotate(n=Sum("leads"))
        .values_list("channel", "car_model_id", "n")
    }
    # referral is i = 0, 3, 6, 9; the other model i = 0, 4, 8: only i = 0 is both
    assert by_channel_model[(LeadChannel.REFERRAL, other_model.pk)] == 1


def test_the_coarsest_grain_that_keeps_the_dimensions_is_chosen():
    assert grain_for(set()) == Grain.TOTAL
    assert grain_for({"channel"}) == Grain.CHANNEL
    assert grain_for({"car_model_id", "channel"}) == Grain.CHANNEL_MODEL
    assert grain_for({"consultant_id"}) == Grain.CONSULTANT
    assert grain_for({"consultant_id", "channel"}) == Grain.FULL
