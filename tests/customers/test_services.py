"""Customer services: validation, audit, optimistic locking, duplicates, reveal."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.customers import services
from dealercrm.customers.id_numbers import decrypt_id_number, hash_id_number
from dealercrm.customers.models import Consent, Customer, CustomerPhone, Interaction, Tag
from dealercrm.search.models import SearchKey
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory, valid_id_number

pytestmark = pytest.mark.django_db

ID = valid_id_number(7, birth="19850612")


def _create(actor, **kwargs):
    kwargs.setdefault("name", "张三")
    return services.customer_create(actor=actor, dealer_id=actor.dealer_id, **kwargs)


def _events(customer, action):
    return AuditEvent.objects.filter(
        target_type="customers.customer", target_id=str(customer.pk), action=action
    )


def test_create_stores_normalised_phones_encrypted_id_and_writes_an_audit_event(consultant):
    result = _create(
        consultant,
        phones=["138 1234 1234", "021-68881234", "13812341234"],
        id_number=ID.lower(),
        tags=["VIP", "车友会"],
        consents={"sms": True, "phone": False},
        consent_source="展厅签字",
        assigned_consultant_id=consultant.pk,
    )
    customer = result.customer

    phones = list(customer.phones.order_by("-is_primary", "id").values_list("number", "is_primary"))
    assert phones == [("+8613812341234", True), ("+862168881234", False)]
    assert decrypt_id_number(customer.id_number_encrypted) == ID
    assert customer.id_number_hash == hash_id_number(ID)
    assert customer.id_number_masked == ID[:6] + "********" + ID[-4:]
    assert sorted(Tag.objects.filter(dealer=consultant.dealer).values_list("name", flat=True)) == [
        "VIP",
        "车友会",
    ]
    assert dict(Consent.objects.filter(customer=customer).values_list("channel", "granted")) == {
        "sms": True,
        "phone": False,
    }
    event = _events(customer, AuditEvent.Action.CREATE).get()
    assert event.actor == consultant
    assert event.dealer_id == consultant.dealer_id
    assert event.changes["name"] == [None, "张三"]
    # The audit log holds masked values only: its readers may not see full contact details.
    assert event.changes["phones"][1] == ["138****1234", "216***1234"]
    assert ID not in str(event.changes)


def test_create_reads_birthday_and_gender_from_the_id_number(consultant):
    customer = _create(consultant, id_number=ID).customer

    assert customer.birthday == datetime.date(1985, 6, 12)
    assert customer.gender == "male"


def test_create_makes_the_customer_findable_by_name_and_phone(consultant):
    customer = _create(consultant, name="王小明", phones=["13912345678"]).customer

    terms = set(SearchKey.objects.filter(customer=customer).values_list("term", flat=True))
    assert "13912345678" in terms
    assert "王小明" in terms
    assert "wangxiaoming" in terms


def test_create_works_inside_a_dealer_users_own_scope(consultant):
    with dealer_scope(DealerScope.for_dealers([consultant.dealer_id])):
        customer = _create(consultant, phones=["13912345678"], id_number=ID).customer

    assert SearchKey.objects.filter(customer=customer, term="13912345678").exists()


def test_create_for_a_dealer_outside_the_scope_is_refused(consultant, other_dealer):
    with (
        dealer_scope(DealerScope.for_dealers([consultant.dealer_id])),
        pytest.raises(PermissionDenied),
    ):
        services.customer_create(actor=consultant, dealer_id=other_dealer.pk, name="越权")
    assert not Customer.objects.filter(name="越权").exists()


def test_second_customer_with_the_same_id_number_at_the_dealer_is_refused(consultant):
    first = _create(consultant, id_number=ID).customer

    with pytest.raises(ValidationError) as exc:
        _create(consultant, name="李四", id_number=ID.lower(), phones=["13912345678"])

    assert "id_number" in exc.value.message_dict
    assert str(first.pk) in exc.value.message_dict["id_number"][0]
    assert Customer.objects.filter(dealer=consultant.dealer).count() == 1
    assert not CustomerPhone.objects.filter(number="+8613912345678").exists()


def test_the_same_id_number_at_another_dealer_is_allowed(consultant, make_user, other_dealer):
    _create(consultant, id_number=ID)
    other = make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)

    assert _create(other, id_number=ID).customer.dealer_id == other_dealer.pk


def test_a_deleted_customers_id_number_can_be_registered_again(consultant):
    first = _create(consultant, id_number=ID).customer
    services.customer_delete(actor=consultant, customer=first)

    assert _create(consultant, id_number=ID).customer.pk != first.pk


def test_a_shared_phone_is_saved_but_the_existing_customer_is_reported(consultant):
    existing = _create(consultant, name="张三", phones=["13812341234"]).customer

    result = _create(consultant, name="张三妻子", phones=["+86 138 1234 1234"])

    assert result.same_phone_customers == [existing]
    assert result.customer.phones.get().number == "+8613812341234"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"phones": ["13812341234", "1234"]}, "phones"),
        ({"id_number": ID[:-1] + ("0" if ID[-1] != "0" else "1")}, "id_number"),
        ({"name": "  "}, "name"),
        ({"email": "zhang@"}, "email"),
        ({"lifecycle_stage": "unknown"}, "lifecycle_stage"),
        ({"birthday": datetime.date(2999, 1, 1)}, "birthday"),
        ({"lunar_birthday_month": 8}, "lunar_birthday_day"),
        ({"lunar_birthday_month": 13, "lunar_birthday_day": 1}, "lunar_birthday_month"),
        ({"children_birth_years": ["20x5"]}, "children_birth_years"),
        ({"consents": {"fax": True}}, "consents"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_is_saved(consultant, kwargs, field):
    with pytest.raises(ValidationError) as exc:
        _create(consultant, **kwargs)

    assert field in exc.value.message_dict
    assert not Customer.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_consultant_of_another_dealer_cannot_be_assigned(consultant, make_user, other_dealer):
    stranger = make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)

    with pytest.raises(ValidationError) as exc:
        _create(consultant, assigned_consultant_id=stranger.pk)
    assert "assigned_consultant_id" in exc.value.message_dict


def test_update_changes_fields_bumps_the_version_and_audits_the_changes(consultant):
    customer = _create(consultant, name="张三", phones=["13812341234"]).customer

    services.customer_update(
        actor=consultant,
        customer=customer,
        version=1,
        name="张叁",
        email="zs@example.com",
        phones=["13912345678", "13812341234"],
    )

    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.version) == ("张叁", "zs@example.com", 2)
    assert customer.phones.get(is_primary=True).number == "+8613912345678"
    event = _events(customer, AuditEvent.Action.CHANGE).get()
    assert event.changes["name"] == ["张三", "张叁"]
    assert event.changes["email"] == ["", "zs@example.com"]
    assert event.changes["phones"] == [["138****1234"], ["139****5678", "138****1234"]]
    terms = set(SearchKey.objects.filter(customer=customer).values_list("term", flat=True))
    assert {"13912345678", "张叁"} <= terms
    assert "张三" not in terms


def test_a_stale_version_is_refused_naming_who_saved_and_nothing_is_written(consultant, make_user):
    colleague = make_user(Role.SALES_CONSULTANT, display_name="李经理")
    customer = _create(consultant, name="张三", phones=["13812341234"], tags=["VIP"]).customer
    mine = Customer.objects.get(pk=customer.pk)  # both opened version 1
    theirs = Customer.objects.get(pk=customer.pk)
    services.customer_update(actor=colleague, customer=theirs, version=1, name="张三丰")

    with pytest.raises(services.ConcurrentEdit) as exc:
        services.customer_update(
            actor=consultant,
            customer=mine,
            version=1,
            name="张小三",
            phones=["13900000000"],
            tags=["车友会"],
        )

    assert "李经理" in exc.value.messages[0]
    assert exc.value.changed_by == "李经理"
    assert exc.value.current_version == 2
    customer.refresh_from_db()
    assert (customer.name, customer.version) == ("张三丰", 2)
    assert list(customer.phones.values_list("number", flat=True)) == ["+8613812341234"]
    assert [t.name for t in customer.tags.all()] == ["VIP"]
    assert _events(customer, AuditEvent.Action.CHANGE).count() == 1


def test_an_update_that_changes_nothing_writes_nothing(consultant):
    customer = _create(consultant, name="张三", phones=["13812341234"]).customer

    services.customer_update(
        actor=consultant, customer=customer, version=1, name="张三", phones=["138 1234 1234"]
    )

    customer.refresh_from_db()
    assert customer.version == 1
    assert not _events(customer, AuditEvent.Action.CHANGE).exists()


def test_update_to_another_customers_id_number_is_refused(consultant):
    _create(consultant, name="甲", id_number=ID)
    other = _create(consultant, name="乙").customer

    with pytest.raises(ValidationError) as exc:
        services.customer_update(actor=consultant, customer=other, version=1, id_number=ID)
    assert "id_number" in exc.value.message_dict
    other.refresh_from_db()
    assert other.id_number_hash == ""


def test_update_can_remove_the_id_number(consultant):
    customer = _create(consultant, id_number=ID).customer
    assert SearchKey.objects.filter(customer=customer, term=hash_id_number(ID)).exists()

    services.customer_update(actor=consultant, customer=customer, version=1, id_number="")

    customer.refresh_from_db()
    assert (customer.id_number_hash, customer.id_number_masked) == ("", "")
    assert not SearchKey.objects.filter(customer=customer, term=hash_id_number(ID)).exists()


def test_delete_is_soft_audited_and_removes_search_keys(manager):
    customer = _create(manager, phones=["13812341234"]).customer

    services.customer_delete(actor=manager, customer=customer)

    customer.refresh_from_db()
    assert customer.is_deleted
    assert _events(customer, AuditEvent.Action.DELETE).exists()
    assert not SearchKey.objects.filter(customer=customer).exists()


def test_phones_set_puts_the_first_number_first_and_bumps_the_version(consultant):
    customer = _create(consultant, phones=["13812341234"]).customer

    numbers = services.customer_phones_set(
        actor=consultant, customer=customer, numbers=["13912345678", "", "13812341234"]
    )

    assert numbers == ["+8613912345678", "+8613812341234"]
    assert customer.phones.get(is_primary=True).number == "+8613912345678"
    assert customer.version == 2


def test_tags_set_replaces_the_tags_and_creates_new_ones(consultant):
    customer = _create(consultant, tags=["VIP", "老客户"]).customer

    services.customer_tags_set(actor=consultant, customer=customer, names=["VIP", " 二胎家庭 "])

    assert sorted(t.name for t in customer.tags.all()) == ["VIP", "二胎家庭"]
    event = _events(customer, AuditEvent.Action.CHANGE).get()
    assert event.changes["tags"] == [["VIP", "老客户"], ["VIP", "二胎家庭"]]


def test_consent_set_records_channel_date_and_source(consultant):
    customer = _create(consultant).customer
    when = datetime.datetime(2025, 1, 2, 10, 0, tzinfo=datetime.UTC)

    consent = services.consent_set(
        actor=consultant,
        customer=customer,
        channel="wechat",
        granted=True,
        source="公众号关注",
        changed_at=when,
    )

    assert (consent.granted, consent.source, consent.changed_at) == (True, "公众号关注", when)
    with pytest.raises(ValidationError) as exc:
        services.consent_set(actor=consultant, customer=customer, channel="fax", granted=True)
    assert "channel" in exc.value.message_dict


def test_a_call_needs_an_outcome_and_a_note_needs_text(consultant):
    customer = _create(consultant).customer

    with pytest.raises(ValidationError) as exc:
        services.interaction_add(actor=consultant, customer=customer, kind="call")
    assert "outcome" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.interaction_add(actor=consultant, customer=customer, kind="note", body="  ")
    assert "body" in exc.value.message_dict

    call = services.interaction_add(
        actor=consultant, customer=customer, kind="call", outcome="reached", duration_seconds=95
    )
    assert (call.direction, call.author, call.duration_seconds) == ("out", consultant, 95)
    assert Interaction.objects.filter(customer=customer).count() == 1


def test_reveal_returns_full_contact_and_logs_an_unmask_event(consultant):
    customer = _create(consultant, phones=["13812341234"], id_number=ID).customer

    revealed = services.customer_contact_reveal(actor=consultant, customer=customer)

    assert revealed.phones == ["+8613812341234"]
    assert revealed.id_number == ID
    event = _events(customer, AuditEvent.Action.UNMASK).get()
    assert event.actor == consultant
    assert event.changes == {"fields": ["phones", "id_number"]}


@pytest.mark.parametrize("role", [Role.DEALER_ADMIN, Role.OEM_ANALYST])
def test_reveal_is_refused_without_the_permission_and_logs_nothing(consultant, make_user, role):
    customer = _create(consultant, phones=["13812341234"]).customer

    with pytest.raises(PermissionDenied):
        services.customer_contact_reveal(actor=make_user(role), customer=customer)
    assert not _events(customer, AuditEvent.Action.UNMASK).exists()


def test_factory_customer_with_id_number_is_a_real_stored_id():
    customer = CustomerFactory(id_number=ID)
    CustomerPhoneFactory(customer=customer)

    assert decrypt_id_number(customer.id_number_encrypted) == ID
    assert customer.phones.count() == 1


def test_the_database_keeps_one_living_customer_per_id_number_and_dealer(dealer, other_dealer):
    from django.db import IntegrityError, transaction

    number = valid_id_number(41)
    first = CustomerFactory(dealer=dealer, id_number=number)
    CustomerFactory(dealer=other_dealer, id_number=number)  # another dealer: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(dealer=dealer, id_number=number)
    Customer.objects.filter(pk=first.pk).update(is_deleted=True)
    CustomerFactory(dealer=dealer, id_number=number)  # the first is deleted: allowed


def test_a_save_that_loses_the_race_for_an_id_number_gets_the_field_error(consultant, monkeypatch):
    # given another customer saved with the number between our check and our write
    number = valid_id_number(42)
    existing = CustomerFactory(dealer=consultant.dealer, id_number=number)
    monkeypatch.setattr(services, "_refuse_duplicate_id", lambda **kwargs: None)
    # when / then: the unique index refuses, reported on the field; nothing is saved
    with pytest.raises(ValidationError) as caught:
        _create(consultant, name="王五", id_number=number)
    assert "id_number" in caught.value.message_dict
    assert Customer.objects.filter(dealer=consultant.dealer).count() == 1
    assert Customer.objects.get().pk == existing.pk
