"""What each import kind takes, and the column mapping guessed from the headers."""

from __future__ import annotations

import pytest
from django.utils import translation

from dealercrm.dataquality.models import ImportKind
from dealercrm.dataquality.services.import_fields import (
    FIELDS,
    REQUIRED_ONE_OF,
    guess_mapping,
    missing_required,
    normalise_header,
)
from tests.dataquality.messy_files import HEADERS, MAPPING


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def test_every_import_kind_has_its_fields():
    assert set(FIELDS) == set(ImportKind.values) == set(REQUIRED_ONE_OF)


@pytest.mark.parametrize("kind", ImportKind.values)
def test_no_header_name_belongs_to_two_fields_of_a_kind(kind):
    owners: dict[str, str] = {}
    for field in FIELDS[kind]:
        for alias in field.aliases:
            key = normalise_header(alias)
            assert owners.setdefault(key, field.name) == field.name, (kind, alias)


def test_normalise_header_drops_case_spaces_and_punctuation():
    assert normalise_header("手机号码（必填）*") == "手机号码必填"
    assert normalise_header(" Customer  Name: ") == "customername"
    assert normalise_header("ＶＩＮ") == "vin"


def test_chinese_dms_headers_map_themselves():
    assert guess_mapping("customers", HEADERS) == MAPPING


def test_english_headers_with_marks_and_odd_case():
    headers = ["Customer Name*", "Mobile Phone", "ID No.", "E-mail", "VIN", "Plate No.", "Remark"]
    assert guess_mapping("customers", headers) == {
        "name": "Customer Name*",
        "phone": "Mobile Phone",
        "id_number": "ID No.",
        "email": "E-mail",
        "vin": "VIN",
        "plate": "Plate No.",
    }


def test_containment_prefers_the_longest_alias_and_uses_each_header_once():
    headers = ["车主身份证号码", "车主姓名", "车主手机（必填）", "客户手机备用"]
    mapping = guess_mapping("customers", headers)
    assert mapping["id_number"] == "车主身份证号码"
    assert mapping["name"] == "车主姓名"
    assert mapping["phone"] == "车主手机（必填）"
    assert len(set(mapping.values())) == len(mapping)


def test_an_exact_alias_wins_over_containment():
    # 手机 is exact for the phone; 手机号码备注 only contains it and stays unmapped.
    mapping = guess_mapping("customers", ["手机号码备注", "手机", "姓名"])
    assert mapping == {"name": "姓名", "phone": "手机"}


def test_single_character_headers_count_only_when_exact():
    assert guess_mapping("customers", ["省", "市", "区", "区域经理"]) == {
        "province": "省",
        "city": "市",
        "district": "区",
    }


def test_repair_order_headers_as_a_dms_exports_them():
    headers = ["工单号", "车架号", "车牌号", "进厂日期", "结算日期", "进厂里程", "维修类型",
               "服务顾问", "付费方", "工时费", "材料费", "合计", "客户描述"]  # fmt: skip
    assert guess_mapping("repair_orders", headers) == {
        "ro_number": "工单号",
        "vin": "车架号",
        "plate": "车牌号",
        "opened_date": "进厂日期",
        "closed_date": "结算日期",
        "mileage": "进厂里程",
        "repair_kind": "维修类型",
        "payer": "付费方",
        "labour_amount": "工时费",
        "parts_amount": "材料费",
        "total_amount": "合计",
        "advisor_name": "服务顾问",
        "concern": "客户描述",
    }


def test_sales_headers():
    headers = ["订单号", "客户手机", "车架号", "车型", "订单日期", "交车日期", "成交价", "销售顾问"]
    assert guess_mapping("sales", headers) == {
        "order_number": "订单号",
        "phone": "客户手机",
        "vin": "车架号",
        "car_model": "车型",
        "order_date": "订单日期",
        "delivery_date": "交车日期",
        "price": "成交价",
        "consultant_name": "销售顾问",
    }


def test_missing_required_names_the_fields_and_the_either_or_group():
    assert missing_required("customers", MAPPING) == []
    assert missing_required("customers", {"phone": "手机"}) == ["Name"]
    assert missing_required("customers", {"name": "姓名", "email": "邮箱"}) == [
        "Phone or ID number"
    ]
    assert missing_required("customers", {"name": "姓名", "phone": ""}) == ["Phone or ID number"]
    assert missing_required("repair_orders", {"ro_number": "工单号"}) == [
        "Date in",
        "VIN or Licence plate",
    ]
    assert missing_required("vehicles", {"phone": "手机"}) == ["VIN"]


def test_missing_required_is_translated_when_asked():
    with translation.override("zh-hans"):
        missing = missing_required("vehicles", {})
    assert missing[0].startswith("车架号")


@pytest.mark.parametrize("kind", ImportKind.values)
def test_each_alias_alone_maps_to_its_field(kind):
    for field in FIELDS[kind]:
        for alias in field.aliases:
            assert guess_mapping(kind, [alias]) == {field.name: alias}, (kind, alias)
