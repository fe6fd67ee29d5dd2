"""Merging two customers: survivorship per field, every related record moved, conflicts (a shared
phone, tag or consent channel) handled, undo that restores every table exactly, and refusals."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealercrm.core.models import AuditEvent
from dealercrm.customers.models import (
    Consent,
    ConsentChannel,
    Customer,
    CustomerTag,
    Interaction,
    LifecycleStage,
)
from dealercrm.dataquality.models import DuplicateCandidate, DuplicateStatus, MergeRecord
from dealercrm.dataquality.services.merges import (
    _customer_foreign_keys,
    customer_merge,
    merge_plan,
    merge_undo,
)
from dealercrm.search.models import SearchKey
from dealercrm.search.services import search_keys_refresh
from tests.customers.factories import (
    ConsentFactory,
    CustomerFactory,
    CustomerPhoneFactory,
    CustomerTagFactory,
    InteractionFactory,
    TagFactory,
    valid_id_number,
)
from tests.feedback.factories import ComplaintFactory, make_invitation, make_questionnaire
from tests.messaging.factories import MessageFactory
from tests.sales.factories import LeadFactory, OrderFactory, QuoteFactory
from tests.service.factories import AppointmentFactory, RepairOrderFactory
from tests.vehicles.factories import VehicleFactory
from tests.worklist.factories import TaskFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

T0 = timezone.make_aware(dt.datetime(2025, 3, 1, 10, 0))


def _pair_candidate(a: Customer, b: Customer, **fields) -> DuplicateCandidate:
    low, high = sorted([a.pk, b.pk])
    return DuplicateCandidate.objects.create(
        dealer_id=a.dealer_id,
        customer_a_id=low,
        customer_b_id=high,
        other_dealer_id=a.dealer_id,
        score=fields.pop("score", 0.93),
        reasons={"blocks": ["phone"]},
        **fields,
    )


def _rows(model) -> dict:
    """Every row of a table by id, all columns (the search keys by their content: rebuilt)."""
    names = [f.attname for f in model._meta.concrete_fields]
    rows = model._base_manager.order_by("pk").values(*names)
    if model is SearchKey:
        return sorted(tuple(sorted((k, str(v)) for k, v in r.items() if k != "id")) for r in rows)
    return {r["id"]: r for r in rows}


def _tables() -> dict:
    models = {m for m, _fk in _customer_foreign_keys()} | {Customer, DuplicateCandidate, SearchKey}
    return {m._meta.label: _rows(m) for m in sorted(models, key=lambda m: m._meta.label)}


def _customers_without_version(tables: dict) -> dict:
    return {
        pk: {k: v for k, v in row.items() if k != "version"}
        for pk, row in tables["customers.Customer"].items()
    }


@pytest.fixture
def rich_pair(dealer, brand, manager):
    """张伟 entered twice: the older record and a newer one with more history of its own."""
    with time_machine.travel(T0, tick=False):
        older = CustomerFactory(
            dealer=dealer,
            name="张伟",
            gender="male",
            email="",
            province="上海市",
            city="上海市",
            district="浦东新区",
            street="世纪大道100号",
            interests=["高尔夫"],
            lifecycle_stage=LifecycleStage.OWNER,
            id_number=valid_id_number(1),
        )
    with time_machine.travel(T0 + dt.timedelta(days=40), tick=False):
        newer = CustomerFactory(
            dealer=dealer,
            name="张 伟",
            email="zhangwei@example.com",
            province="上海市",
            city="上海市",
            street="世纪大道100号1201室",
            interests=["高尔夫", "自驾游"],
            lifecycle_stage=LifecycleStage.PROSPECT,
            occupation="工程师",
        )
    bystander = CustomerFactory(dealer=dealer, name="李娜")
    shared = "+8613900001111"
    CustomerPhoneFactory(customer=older, number=shared, is_primary=True)
    CustomerPhoneFactory(customer=newer, number=shared, is_primary=True)
    CustomerPhoneFactory(customer=newer, number="+8613900002222", is_primary=False)
    vip = TagFactory(dealer=dealer, name="VIP")
    CustomerTagFactory(customer=older, tag=vip)
    CustomerTagFactory(customer=newer, tag=vip)
    CustomerTagFactory(customer=newer, tag=TagFactory(dealer=dealer, name="车友会"))
    ConsentFactory(customer=older, channel=ConsentChannel.SMS, granted=True, changed_at=T0)
    ConsentFactory(
        customer=newer,
        channel=ConsentChannel.SMS,
        granted=False,
        changed_at=T0 + dt.timedelta(days=50),
        source="短信退订",
    )
    ConsentFactory(customer=newer, channel=ConsentChannel.WECHAT, granted=True, changed_at=T0)
    car = VehicleFactory(dealer=dealer, owner=newer)
    VehicleFactory(dealer=dealer, owner=older)
    InteractionFactory(customer=newer)
    InteractionFactory(customer=older)
    lead = LeadFactory(dealer=dealer, customer=newer)
    QuoteFactory(lead=lead)
    OrderFactory(lead=LeadFactory(dealer=dealer, customer=newer))
    RepairOrderFactory(vehicle=car)
    AppointmentFactory(vehicle=car)
    MessageFactory(customer=newer)
    TaskFactory(customer=newer)
    ComplaintFactory(customer=newer)
    make_invitation(questionnaire=make_questionnaire(brand=brand), customer=newer)
    candidate = _pair_candidate(older, newer)
    # Another open pair with the newer record: it concerns the survivor after the merge.
    other_pair = _pair_candidate(newer, bystander, score=0.6)
    # The factories write no search keys; the services keep them current.
    search_keys_refresh(dealer_id=dealer.pk, customer_ids=[older.pk, newer.pk, bystander.pk])
    return {
        "older": Customer.objects.get(pk=older.pk),
        "newer": Customer.objects.get(pk=newer.pk),
        "bystander": bystander,
        "candidate": candidate,
        "other_pair": other_pair,
        "manager": manager,
    }


def test_merge_moves_every_related_record_and_undo_restores_every_table_exactly(rich_pair):
    # Given a rich pair and every related table as it is …
    older, newer, manager = rich_pair["older"], rich_pair["newer"], rich_pair["manager"]
    before = _tables()
    theirs = {
        f"{model._meta.label}.{fk.name}": set(
            model._base_manager.filter(**{fk.attname: newer.pk}).values_list("pk", flat=True)
        )
        for model, fk in _customer_foreign_keys()
    }

    # … when the newer record is merged into the older one …
    merge = customer_merge(
        actor=manager, survivor=older, merged=newer, candidate=rich_pair["candidate"]
    )

    # … then nothing points at the merged customer any more, and it is soft-deleted …
    for model, fk in _customer_foreign_keys():
        assert not model._base_manager.filter(**{fk.attname: newer.pk}).exists(), model
    gone = Customer._base_manager.get(pk=newer.pk)
    assert gone.is_deleted and gone.version == newer.version + 1
    survivor = Customer._base_manager.get(pk=older.pk)
    # … its vehicles, leads, orders, repair orders, messages, tasks, complaints, surveys moved …
    for label in (
        "vehicles.Vehicle.owner",
        "sales.Lead.customer",
        "sales.Order.customer",
        "sales.Quote.customer",
        "service.RepairOrder.customer",
        "service.Appointment.customer",
        "messaging.Message.customer",
        "worklist.Task.customer",
        "feedback.Complaint.customer",
        "feedback.SurveyInvitation.customer",
        "customers.Interaction.customer",
    ):
        assert merge.snapshot["moved"][label], label
    # … every row that was theirs was moved, or dropped as one the survivor already had …
    dropped = {
        f"{label}.customer": {row["id"] for row in rows}
        for label, rows in merge.snapshot["deleted"].items()
        if label != "dataquality.DuplicateCandidate"
    }
    assert {k: v for k, v in theirs.items() if v} == {
        label: set(merge.snapshot["moved"].get(label, [])) | dropped.get(label, set())
        for label in set(merge.snapshot["moved"]) | set(dropped)
    }
    # … phones, tags and consents are unions: the shared ones dropped, the newer SMS opt-out won
    assert sorted(survivor.phones.values_list("number", flat=True)) == [
        "+8613900001111",
        "+8613900002222",
    ]
    assert list(survivor.phones.filter(is_primary=True).values_list("number", flat=True)) == [
        "+8613900001111"
    ]
    assert sorted(
        CustomerTag.objects.filter(customer=survivor).values_list("tag__name", flat=True)
    ) == [
        "VIP",
        "车友会",
    ]
    consents = {c.channel: c for c in Consent.objects.filter(customer=survivor)}
    assert consents["sms"].granted is False and consents["sms"].source == "短信退订"
    assert consents["wechat"].granted is True
    assert set(merge.snapshot["deleted"]) == {
        "customers.CustomerPhone",
        "customers.CustomerTag",
        "customers.Consent",
    }
    # … the fields follow the rule: the newer record's e-mail and occupation, the union of
    # interests, the more advanced stage (owner), the older record's ID number …
    assert survivor.email == "zhangwei@example.com"
    assert survivor.occupation == "工程师"
    assert survivor.interests == ["高尔夫", "自驾游"]
    assert survivor.lifecycle_stage == LifecycleStage.OWNER
    assert survivor.id_number_hash == older.id_number_hash
    # … the pair is merged, the other pair re-pointed at the survivor, the merge audited and on
    # the survivor's timeline.
    assert DuplicateCandidate.objects.get(pk=rich_pair["candidate"].pk).status == "merged"
    moved_pair = DuplicateCandidate.objects.get(pk=rich_pair["other_pair"].pk)
    assert {moved_pair.customer_a_id, moved_pair.customer_b_id} == {
        older.pk,
        rich_pair["bystander"].pk,
    }
    assert AuditEvent.objects.filter(action="merge", target_id=str(older.pk)).exists()
    assert Interaction.objects.filter(customer=survivor, subject__contains="张 伟").exists()
    assert not SearchKey.objects.filter(customer_id=newer.pk).exists()

    # When the merge is undone …
    merge_undo(actor=manager, merge=merge)

    # … then every table is exactly as before: same ids, same values (the customers' versions
    # move on, so a form opened before the undo cannot overwrite it).
    after = _tables()
    assert _customers_without_version(after) == _customers_without_version(before)
    for label in before:
        if label != "customers.Customer":
            assert after[label] == before[label], label
    merge.refresh_from_db()
    assert merge.undone_at is not None and merge.undone_by == manager
    assert AuditEvent.objects.filter(action="merge_undo", target_id=str(older.pk)).exists()


def test_query_count_does_not_grow_with_the_related_rows(dealer):
    # Given two pairs, one with 2 related rows per kind and one with 12 …
    def pair(n: int) -> tuple[Customer, Customer]:
        survivor, merged = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
        for i in range(n):
            CustomerPhoneFactory(customer=merged, is_primary=i == 0)
            InteractionFactory(customer=merged)
            VehicleFactory(dealer=dealer, owner=merged)
            TaskFactory(customer=merged)
        return survivor, merged

    counts = []
    for n in (2, 12):
        survivor, merged = pair(n)
        # … when each is merged, then undone …
        with CaptureQueriesContext(connection) as merging:
            merge = customer_merge(actor=None, survivor=survivor, merged=merged)
        with CaptureQueriesContext(connection) as undoing:
            merge_undo(actor=None, merge=merge)
        counts.append((len(merging), len(undoing)))
        assert len(merge.snapshot["moved"]["customers.CustomerPhone.customer"]) == n
    # … then both take the same number of queries: one UPDATE per foreign key, not per row.
    assert counts[0] == counts[1]


def test_most_recent_rule_takes_the_later_updated_value_and_most_complete_the_fuller(dealer):
    with time_machine.travel(T0, tick=False):
        survivor = CustomerFactory(dealer=dealer, name="王芳", street="人民路8号1单元")
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        merged = CustomerFactory(dealer=dealer, name="王芳芳", street="人民路8号")

    recent = {p.name: p for p in merge_plan(survivor=survivor, merged=merged)}
    complete = {
        p.name: p for p in merge_plan(survivor=survivor, merged=merged, rule="most_complete")
    }

    assert recent["name"].choice == "merged" and recent["address"].choice == "merged"
    assert complete["name"].choice == "merged"  # 王芳芳 is longer
    assert complete["address"].choice == "survivor"  # 人民路8号1单元 says more
    assert recent["name"].survivor_value == "王芳" and recent["name"].merged_value == "王芳芳"


def test_a_value_beats_an_empty_one_and_the_users_choice_beats_the_rule(dealer):
    with time_machine.travel(T0, tick=False):
        survivor = CustomerFactory(dealer=dealer, email="a@example.com", occupation="")
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        merged = CustomerFactory(dealer=dealer, email="b@example.com", occupation="医生")

    plan = {
        p.name: p
        for p in merge_plan(survivor=survivor, merged=merged, choices={"email": "survivor"})
    }

    assert plan["occupation"].choice == "merged"
    assert plan["email"].choice == "survivor" and plan["email"].reason == "chosen"
    merge = customer_merge(
        actor=None, survivor=survivor, merged=merged, choices={"email": "survivor"}
    )
    survivor.refresh_from_db()
    assert (survivor.email, survivor.occupation) == ("a@example.com", "医生")
    assert merge.choices["email"] == "survivor" and merge.choices["occupation"] == "merged"


def test_the_id_number_moves_as_one_and_the_survivor_may_take_the_merged_ones(dealer):
    # Given only the merged record has an ID number (one living customer per ID number) …
    survivor = CustomerFactory(dealer=dealer)
    merged = CustomerFactory(dealer=dealer, id_number=valid_id_number(7))
    # … when merged, then the survivor has its encrypted value, hash and masked form …
    customer_merge(actor=None, survivor=survivor, merged=merged)
    survivor.refresh_from_db()
    assert (survivor.id_number_encrypted, survivor.id_number_hash, survivor.id_number_masked) == (
        merged.id_number_encrypted,
        merged.id_number_hash,
        merged.id_number_masked,
    )


def test_invalid_choices_and_rules_name_the_field(dealer):
    survivor, merged = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    with pytest.raises(ValidationError) as bad_choice:
        customer_merge(
            actor=None, survivor=survivor, merged=merged, choices={"shoe_size": "merged"}
        )
    assert "choices" in bad_choice.value.message_dict
    with pytest.raises(ValidationError) as bad_rule:
        customer_merge(actor=None, survivor=survivor, merged=merged, rule="loudest")
    assert "rule" in bad_rule.value.message_dict
    assert not MergeRecord.objects.exists()


def test_customers_of_two_dealers_are_never_merged(dealer, other_dealer):
    mine, theirs = CustomerFactory(dealer=dealer), CustomerFactory(dealer=other_dealer)
    with pytest.raises(ValidationError, match="two dealers"):
        customer_merge(actor=None, survivor=mine, merged=theirs)
    assert not Customer._base_manager.get(pk=theirs.pk).is_deleted


def test_a_stale_version_refuses_the_merge_and_changes_nothing(dealer):
    survivor, merged = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    InteractionFactory(customer=merged)
    Customer.objects.filter(pk=merged.pk).update(version=5)  # someone saved since we read it
    with pytest.raises(ValidationError, match="changed by someone else"):
        customer_merge(actor=None, survivor=survivor, merged=merged)
    assert Interaction.objects.filter(customer=merged).count() == 1
    assert not Customer._base_manager.get(pk=merged.pk).is_deleted


def test_the_same_customer_or_a_deleted_one_cannot_be_merged(dealer):
    customer, deleted = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    Customer.objects.filter(pk=deleted.pk).update(is_deleted=True)
    with pytest.raises(ValidationError, match="itself"):
        customer_merge(actor=None, survivor=customer, merged=customer)
    with pytest.raises(ValidationError, match="deleted"):
        customer_merge(actor=None, survivor=customer, merged=deleted)


def test_undo_is_refused_after_30_days(dealer):
    survivor, merged = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    with time_machine.travel(T0, tick=False):
        merge = customer_merge(actor=None, survivor=survivor, merged=merged)
    with (
        time_machine.travel(T0 + dt.timedelta(days=31), tick=False),
        pytest.raises(ValidationError, match="30 days"),
    ):
        merge_undo(actor=None, merge=merge)
    with time_machine.travel(T0 + dt.timedelta(days=29), tick=False):
        merge_undo(actor=None, merge=merge)
    assert not Customer.objects.get(pk=merged.pk).is_deleted


def test_undo_twice_is_refused(dealer):
    survivor, merged = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    merge = customer_merge(actor=None, survivor=survivor, merged=merged)
    merge_undo(actor=None, merge=merge)
    with pytest.raises(ValidationError, match="already undone"):
        merge_undo(actor=None, merge=merge)


def test_chained_merges_are_undone_newest_first(dealer):
    # Given A merged into B, then B merged into C …
    a, b, c = (CustomerFactory(dealer=dealer) for _ in range(3))
    InteractionFactory(customer=a)
    first = customer_merge(actor=None, survivor=b, merged=a)
    b.refresh_from_db()
    second = customer_merge(actor=None, survivor=c, merged=b)
    # … then the first cannot be undone while the second stands …
    with pytest.raises(ValidationError, match=f"merge #{second.pk}"):
        merge_undo(actor=None, merge=first)
    # … and undoing the second, then the first, gives A its note back.
    merge_undo(actor=None, merge=second)
    merge_undo(actor=None, merge=first)
    assert Interaction.objects.filter(customer=a, kind="note").count() == 1
    assert not Customer.objects.filter(pk__in=[a.pk, b.pk, c.pk], is_deleted=True).exists()


def test_a_candidate_goes_back_to_review_after_undo(dealer, manager):
    survivor, merged = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    candidate = _pair_candidate(survivor, merged)
    merge = customer_merge(actor=manager, survivor=survivor, merged=merged)  # found by the pair
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_by) == (DuplicateStatus.MERGED, manager)
    assert merge.candidate == candidate and merge.score == pytest.approx(0.93)
    merge_undo(actor=manager, merge=merge)
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_at) == (DuplicateStatus.OPEN, None)


def test_a_pair_the_survivor_already_has_is_dropped_and_comes_back_on_undo(dealer):
    survivor, merged, third = (CustomerFactory(dealer=dealer) for _ in range(3))
    _pair_candidate(survivor, third)
    redundant = _pair_candidate(merged, third)
    merge = customer_merge(actor=None, survivor=survivor, merged=merged)
    assert not DuplicateCandidate.objects.filter(pk=redundant.pk).exists()
    merge_undo(actor=None, merge=merge)
    restored = DuplicateCandidate.objects.get(pk=redundant.pk)
    assert (restored.customer_a_id, restored.customer_b_id) == (
        redundant.customer_a_id,
        redundant.customer_b_id,
    )


def test_an_automatic_merge_notes_its_confidence(dealer):
    survivor, merged = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    merge = customer_merge(actor=None, survivor=survivor, merged=merged, automatic=True, score=0.97)
    assert merge.automatic and merge.merged_by is None
    note = Interaction.objects.get(customer=survivor)
    assert "0.97" in note.body


def test_rows_added_to_the_survivor_after_the_merge_stay_after_undo(dealer):
    survivor, merged = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    moved = InteractionFactory(customer=merged)
    merge = customer_merge(actor=None, survivor=survivor, merged=merged)
    later = InteractionFactory(customer=Customer.objects.get(pk=survivor.pk))
    merge_undo(actor=None, merge=merge)
    assert Interaction.objects.get(pk=moved.pk).customer_id == merged.pk
    assert Interaction.objects.get(pk=later.pk).customer_id == survivor.pk


def test_the_nightly_job_drops_the_undo_data_of_merges_past_30_days(dealer):
    # Given a merge 31 days old and one from yesterday …
    from dealercrm.dataquality.merge_jobs import merges_finalise_nightly
    from dealercrm.dataquality.services.merges import merge_moved_counts, merges_finalise

    old_survivor = CustomerFactory(dealer=dealer)
    old_merged = CustomerFactory(dealer=dealer, id_number=valid_id_number(9))
    InteractionFactory(customer=old_merged)
    with time_machine.travel(T0, tick=False):
        old = customer_merge(actor=None, survivor=old_survivor, merged=old_merged)
    with time_machine.travel(T0 + dt.timedelta(days=30), tick=False):
        recent = customer_merge(
            actor=None,
            survivor=CustomerFactory(dealer=dealer),
            merged=CustomerFactory(dealer=dealer),
        )

    # … when the nightly job runs …
    with time_machine.travel(T0 + dt.timedelta(days=31), tick=False):
        merges_finalise_nightly.call_local()
        again = merges_finalise()

    # … then the old merge keeps only its counts (no personal data), and cannot be undone …
    old.refresh_from_db()
    assert old_merged.id_number_hash not in str(old.snapshot)
    assert merge_moved_counts(old) == {"customers.Interaction.customer": 1}
    with pytest.raises(ValidationError, match="30 days"):
        merge_undo(actor=None, merge=old)
    assert Customer._base_manager.get(pk=old_merged.pk).is_deleted
    # … the recent one is untouched, and a second run finds nothing to do.
    recent.refresh_from_db()
    assert "survivor" in recent.snapshot
    assert again == 0
