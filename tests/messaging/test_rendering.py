"""Templates: {{ variables }} from the customer, car, dealer and caller; unknown names refused;
a text renders fully or raises naming the variable; contexts read set-based."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from dealercrm.messaging.rendering import (
    TEMPLATE_VARIABLES,
    VariableMissing,
    customer_contexts,
    render,
    salutation,
    validate_template,
    variables_in,
)
from dealercrm.messaging.selectors import CustomerFacts
from tests.core.factories import UserFactory
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.vehicles.factories import CarModelFactory, VehicleFactory


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def facts(**kwargs) -> CustomerFacts:
    values = {
        "customer_id": 1,
        "kind": "person",
        "name": "张伟",
        "latin_name": "",
        "contact_person": "",
        "gender": "male",
        "phone": "",
        "email": "",
        "wechat_id": "",
        "postal_address": "",
        "consultant_name": "",
        "consultant_id": None,
        "vehicle": None,
    }
    values.update(kwargs)
    return CustomerFacts(**values)


# --- salutation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "gender", "expected"),
    [
        ("张伟", "male", "张先生"),
        ("李娜", "female", "李女士"),
        ("欧阳娜娜", "female", "欧阳女士"),  # a two-character surname
        ("王小明", "unknown", "王小明"),  # no guessing: the full name
    ],
)
def test_salutation_in_chinese_is_surname_and_form_of_address(name, gender, expected):
    assert salutation(facts(name=name, gender=gender), "zh-hans") == expected


@pytest.mark.parametrize(
    ("name", "gender", "latin", "expected"),
    [
        ("张伟", "male", "", "Mr Zhang"),
        ("李娜", "female", "Nina Li", "Ms Li"),
        ("欧阳娜娜", "female", "", "Ms Ouyang"),
        ("王小明", "unknown", "Tom Wang", "Tom Wang"),
        ("Anna Schmidt", "female", "", "Ms Schmidt"),
    ],
)
def test_salutation_in_english(name, gender, latin, expected):
    assert salutation(facts(name=name, gender=gender, latin_name=latin), "en") == expected


def test_a_company_is_addressed_by_its_contact_person_or_its_name():
    company = facts(kind="company", name="上海顺达物流有限公司", gender="unknown")

    assert salutation(company, "zh-hans") == "上海顺达物流有限公司"
    assert salutation(facts(kind="company", name="顺达物流", contact_person="陈经理"), "en") == (
        "陈经理"
    )


# --- validating and rendering --------------------------------------------------------------


def test_validate_template_names_the_unknown_variables_by_field():
    with pytest.raises(ValidationError) as caught:
        validate_template("{{ salutation }}，{{ nickname }}，{{ colour }}", "{{ coupon }}")

    errors = caught.value.message_dict
    assert "{{ nickname }}" in errors["body"][0]
    assert "{{ colour }}" in errors["body"][0]
    assert "{{ coupon }}" in errors["subject"][0]


def test_validate_template_refuses_what_looks_like_a_variable_but_is_not_one():
    with pytest.raises(ValidationError) as caught:
        validate_template("{{ customer.__class__ }} {{ 姓名 }}")

    assert "Not a variable" in caught.value.message_dict["body"][0]


def test_every_catalogue_variable_is_accepted():
    validate_template(" ".join(f"{{{{ {name} }}}}" for name in TEMPLATE_VARIABLES))


def test_render_fills_every_variable_spacing_or_not():
    text = "{{salutation}}，您的{{ vehicle }}（{{  plate  }}）该保养了。"

    assert render(text, {"salutation": "张先生", "vehicle": "星辰", "plate": "沪A12345"}) == (
        "张先生，您的星辰（沪A12345）该保养了。"
    )
    assert variables_in(text, "{{ plate }} {{ date }}") == [
        "salutation",
        "vehicle",
        "plate",
        "date",
    ]


@pytest.mark.parametrize("value", [None, "", "  "])
def test_render_raises_naming_the_variable_without_a_value_rather_than_fill_half(value):
    context = {"salutation": "张先生", "plate": value}

    with pytest.raises(VariableMissing) as caught:
        render("{{ salutation }}，您的车{{ plate }}", context)

    assert caught.value.variable == "plate"


def test_values_are_inserted_as_they_are_never_rendered_again():
    assert render("{{ customer_name }}", {"customer_name": "{{ dealer_phone }}"}) == (
        "{{ dealer_phone }}"
    )


# --- contexts from the database ------------------------------------------------------------


@pytest.mark.django_db
def test_customer_contexts_fill_customer_car_dealer_and_consultant(dealer):
    dealer.phone = "021-68881234"
    dealer.address = "浦东新区张杨路100号"
    dealer.save()
    consultant = UserFactory(dealer=dealer, display_name="刘强")
    customer = CustomerFactory(
        dealer=dealer, name="张伟", gender="male", assigned_consultant=consultant
    )
    VehicleFactory(
        dealer=dealer,
        owner=customer,
        car_model=CarModelFactory(series="星辰", name="2.0T 豪华版"),
        vin="LSVAB2BM0MN123456",
        plate="沪A88888",
        current_mileage_km=12000,
        insurance_expiry=datetime.date(2025, 3, 7),
    )

    context = customer_contexts(dealer.id, [customer.pk], "zh-hans")[customer.pk]

    assert context["salutation"] == "张先生"
    assert context["customer_name"] == "张伟"
    assert context["vehicle"] == "星辰 2.0T 豪华版"
    assert context["plate"] == "沪A88888"
    assert context["vin_tail"] == "123456"
    assert context["mileage"] == "12000"
    assert context["insurance_expiry"] == "2025年3月7日"
    assert context["dealer_name"] == dealer.name
    assert context["dealer_phone"] == "021-68881234"
    assert context["dealer_address"] == "上海市浦东新区张杨路100号"
    assert context["consultant_name"] == "刘强"


@pytest.mark.django_db
def test_a_customer_without_a_car_has_no_car_variables_so_a_car_template_reports_them(dealer):
    customer = CustomerFactory(dealer=dealer, name="李娜", gender="female")

    context = customer_contexts(dealer.id, [customer.pk], "zh-hans")[customer.pk]

    assert "plate" not in context
    with pytest.raises(VariableMissing) as caught:
        render("{{ salutation }}，您的{{ plate }}", context)
    assert caught.value.variable == "plate"


@pytest.mark.django_db
def test_caller_extras_are_formatted_in_the_language_and_the_dealers_time_zone(dealer):
    customer = CustomerFactory(dealer=dealer)
    at = datetime.datetime(2025, 3, 10, 6, 30, tzinfo=datetime.UTC)  # 14:30 in Shanghai

    zh = customer_contexts(
        dealer.id,
        [customer.pk],
        "zh-hans",
        extra_by_customer={customer.pk: {"test_drive_time": at}},
    )[customer.pk]
    en = customer_contexts(
        dealer.id, [customer.pk], "en", extra_by_customer={customer.pk: {"due_date": at.date()}}
    )[customer.pk]

    assert zh["test_drive_time"] == "2025年3月10日 14:30"
    assert en["due_date"] == "10 March 2025"


@pytest.mark.django_db
def test_contexts_leave_out_other_dealers_and_deleted_customers(dealer, other_dealer):
    mine = CustomerFactory(dealer=dealer)
    deleted = CustomerFactory(dealer=dealer, is_deleted=True)
    theirs = CustomerFactory(dealer=other_dealer)

    contexts = customer_contexts(dealer.id, [mine.pk, deleted.pk, theirs.pk], "zh-hans")

    assert set(contexts) == {mine.pk}


@pytest.mark.django_db
@pytest.mark.parametrize("how_many", [3, 30])
def test_contexts_cost_four_queries_however_many_customers(
    dealer, how_many, django_assert_num_queries
):
    consultant = UserFactory(dealer=dealer)
    ids = []
    for _ in range(how_many):
        customer = CustomerFactory(dealer=dealer, assigned_consultant=consultant, gender="female")
        CustomerPhoneFactory(customer=customer)
        VehicleFactory(dealer=dealer, owner=customer)
        ids.append(customer.pk)

    with django_assert_num_queries(4):
        contexts = customer_contexts(dealer.id, ids, "zh-hans")

    assert len(contexts) == how_many
    assert all(c["consultant_name"] and c["plate"] for c in contexts.values())


def test_a_time_zone_of_another_dealer_is_used_for_extras():
    from dealercrm.messaging.rendering import format_value

    at = datetime.datetime(2025, 3, 10, 6, 30, tzinfo=datetime.UTC)

    assert format_value(at, "zh-hans", zoneinfo.ZoneInfo("Asia/Urumqi")) == "2025年3月10日 12:30"
