"""Marketing consents in a customers import: one yes/no column per channel and a consent date.
A new customer gets a consent per answered channel (the file as its source); a matched customer's
differing answer replaces theirs (a withdrawal always wins) and makes the row UPDATED; the same
file again changes nothing."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Consent, ConsentChannel, Customer
from dealercrm.dataquality.models import ImportOutcome, ImportRowIssue
from dealercrm.dataquality.services import import_engine
from dealercrm.dataquality.services.import_fields import (
    CONSENT_CHANNELS,
    fields_by_name,
    guess_mapping,
)
from dealercrm.dataquality.services.import_runs import (
    import_run_create,
    import_run_map,
    import_run_start,
)
from dealercrm.dataquality.services.normalise import clean_consent, clean_row
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.dataquality.test_import_engine import assert_accounted, csv_bytes, run_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

HEADERS = ["姓名", "手机", "短信营销同意", "电话营销同意", "邮件营销同意", "微信营销同意",
           "邮寄同意", "同意日期"]  # fmt: skip


@pytest.fixture
def import_dir(tmp_path, settings):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


def consents_of(dealer, phone: str) -> dict[str, Consent]:
    with dealer_scope(dealer.pk):
        customer = Customer.objects.get(phones__number=phone)
        return {c.channel: c for c in Consent.objects.filter(customer=customer)}


def local_midnight(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(day), dt.time.min))


# --- the value type and the columns -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("是", True), ("同意", True), ("Y", True), ("y", True), ("yes", True), ("YES", True),
        ("1", True), ("true", True), ("True", True), ("√", True), ("Ｙ", True), ("１", True),
        ("ｙｅｓ", True), (" 同 意 ", True),
        ("否", False), ("不同意", False), ("N", False), ("no", False), ("0", False),
        ("false", False), ("×", False), ("Ｎ", False), ("０", False), ("ＮＯ", False),
        ("", None), ("   ", None),
    ],
)  # fmt: skip
def test_consent_answers_in_every_usual_spelling(text, expected):
    assert clean_consent(text) is expected


@pytest.mark.parametrize("text", ["maybe", "x", "2", "是的吧", "yes please"])
def test_any_other_answer_is_an_error_on_its_field_naming_the_answers(text):
    clean, errors = clean_row(
        "customers", {"name": "张三", "phone": "13800138000", "wechat_consent": text}
    )
    assert "wechat_consent" not in clean
    [(field, message)] = errors
    assert field == "wechat_consent"
    assert "is not a consent answer" in message
    assert "是" in message and "否" in message and "Y" in message and "N" in message


def test_a_blank_answer_says_nothing_and_is_no_error():
    clean, errors = clean_row(
        "customers", {"name": "张三", "phone": "13800138000", "sms_consent": "", "consent_date": ""}
    )
    assert errors == []
    assert clean["sms_consent"] is None and clean["consent_date"] is None


def test_a_consent_date_in_the_future_is_an_error_on_its_field():
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    _clean, errors = clean_row(
        "customers", {"name": "张三", "phone": "13800138000", "consent_date": tomorrow}
    )
    assert [field for field, _message in errors] == ["consent_date"]
    assert "future" in errors[0][1]


def test_the_consent_fields_name_the_models_channels():
    assert set(CONSENT_CHANNELS.values()) == set(ConsentChannel.values)
    fields = fields_by_name("customers")
    assert all(fields[name].value_type == "consent" for name in CONSENT_CHANNELS)
    assert "sms_consent" not in fields_by_name("vehicles")


def test_chinese_and_english_consent_headers_map_themselves():
    assert guess_mapping("customers", HEADERS) == {
        "name": "姓名",
        "phone": "手机",
        "sms_consent": "短信营销同意",
        "phone_consent": "电话营销同意",
        "email_consent": "邮件营销同意",
        "wechat_consent": "微信营销同意",
        "mail_consent": "邮寄同意",
        "consent_date": "同意日期",
    }
    english = ["Name", "Mobile", "E-mail", "SMS consent", "E-mail consent", "Mail consent",
               "WeChat consent", "Phone consent", "Consent date"]  # fmt: skip
    assert guess_mapping("customers", english) == {
        "name": "Name",
        "phone": "Mobile",
        "email": "E-mail",
        "sms_consent": "SMS consent",
        "phone_consent": "Phone consent",
        "email_consent": "E-mail consent",
        "wechat_consent": "WeChat consent",
        "mail_consent": "Mail consent",
        "consent_date": "Consent date",
    }


def test_a_consent_header_with_a_mark_still_goes_to_the_consent_not_the_contact_field():
    mapping = guess_mapping(
        "customers", ["姓名", "电话营销同意（是/否）", "微信营销同意*", "证件号"]
    )
    assert mapping["phone_consent"] == "电话营销同意（是/否）"
    assert mapping["wechat_consent"] == "微信营销同意*"
    assert "phone" not in mapping and "wechat_id" not in mapping


# --- the import ---------------------------------------------------------------------------------


def test_a_new_customer_gets_a_consent_per_answered_channel_with_the_file_and_the_date(
    dealer, import_dir
):
    rows = [["张三", "13800138000", "是", "否", "", "√", "N", "2024-03-05"]]

    run = run_file(dealer, csv_bytes(rows, headers=HEADERS), filename="客户同意.csv")

    assert_accounted(run, 1)
    assert run.created_count == 1
    consents = consents_of(dealer, "+8613800138000")
    assert {ch: c.granted for ch, c in consents.items()} == {
        "sms": True,
        "phone": False,
        "wechat": True,
        "mail": False,
    }  # e-mail was blank: nothing said, nothing recorded
    assert {c.source for c in consents.values()} == {"import 客户同意.csv"}
    assert {c.changed_at for c in consents.values()} == {local_midnight("2024-03-05")}


def test_without_a_consent_date_the_consent_is_dated_at_the_import(dealer, import_dir):
    headers = ["姓名", "手机", "短信营销同意"]
    before = timezone.now()

    run_file(dealer, csv_bytes([["张三", "13800138000", "同意"]], headers=headers))

    [consent] = consents_of(dealer, "+8613800138000").values()
    assert consent.granted
    assert before <= consent.changed_at <= timezone.now()


def test_the_source_is_cut_to_the_columns_length(dealer, import_dir):
    headers = ["姓名", "手机", "短信营销同意"]
    filename = "客" * 150 + ".csv"

    run_file(dealer, csv_bytes([["张三", "13800138000", "是"]], headers=headers), filename=filename)

    [consent] = consents_of(dealer, "+8613800138000").values()
    assert consent.source == f"import {filename}"[:100]


def test_a_withdrawal_in_a_later_file_updates_the_consent_and_counts_updated(dealer, import_dir):
    first = [["张三", "13800138000", "是", "是", "", "", "", "2024-03-05"]]
    run_file(dealer, csv_bytes(first, headers=HEADERS), filename="一月.csv")
    with dealer_scope(dealer.pk):
        version = Customer.objects.get().version
    later = [["张三", "13800138000", "否", "是", "", "", "", "2025-01-10"]]

    run = run_file(dealer, csv_bytes(later, headers=HEADERS), filename="二月.csv")

    assert_accounted(run, 1)
    assert (run.created_count, run.updated_count, run.unchanged_count) == (0, 1, 0)
    consents = consents_of(dealer, "+8613800138000")
    sms, phone = consents["sms"], consents["phone"]
    assert (sms.granted, sms.changed_at, sms.source) == (
        False,
        local_midnight("2025-01-10"),
        "import 二月.csv",
    )
    # The phone answer did not change: its date and source stay the first file's.
    assert (phone.granted, phone.changed_at, phone.source) == (
        True,
        local_midnight("2024-03-05"),
        "import 一月.csv",
    )
    with dealer_scope(dealer.pk):
        assert Customer.objects.get().version == version + 1  # as a consent change on its page
        issue = ImportRowIssue.objects.get(run=run)
    assert (issue.outcome, issue.customer_id) == (ImportOutcome.UPDATED, sms.customer_id)


def test_the_same_file_again_is_unchanged_and_keeps_the_consents_dates(dealer, import_dir):
    headers = ["姓名", "手机", "短信营销同意", "微信营销同意"]
    data = csv_bytes(
        [["张三", "13800138000", "是", "否"], ["李四", "13800138001", "", "是"]], headers
    )
    run_file(dealer, data)
    first = {ch: c.changed_at for ch, c in consents_of(dealer, "+8613800138000").items()}

    again = run_file(dealer, data)

    assert_accounted(again, 2)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    assert {ch: c.changed_at for ch, c in consents_of(dealer, "+8613800138000").items()} == first
    with dealer_scope(dealer.pk):
        assert Consent.objects.count() == 3


def test_a_matched_customer_gets_the_channels_it_lacked(dealer, import_dir):
    with dealer_scope(dealer.pk):
        customer = CustomerFactory(dealer=dealer, name="张三")
        CustomerPhoneFactory(customer=customer, number="+8613800138000")
        Consent.objects.create(
            dealer=dealer, customer=customer, channel="sms", granted=True, source="门店登记"
        )
    headers = ["姓名", "手机", "短信营销同意", "邮件营销同意"]

    run = run_file(dealer, csv_bytes([["张三", "13800138000", "是", "否"]], headers))

    assert (run.updated_count, run.unchanged_count) == (1, 0)
    consents = consents_of(dealer, "+8613800138000")
    assert consents["sms"].source == "门店登记"  # same answer: left as recorded
    assert (consents["email"].granted, consents["email"].source) == (False, "import customers.csv")


def test_an_older_grant_does_not_undo_a_newer_withdrawal_and_says_so(dealer, import_dir):
    with dealer_scope(dealer.pk):
        customer = CustomerFactory(dealer=dealer, name="张三")
        CustomerPhoneFactory(customer=customer, number="+8613800138000")
        Consent.objects.create(
            dealer=dealer,
            customer=customer,
            channel="sms",
            granted=False,
            changed_at=local_midnight("2025-01-10"),
            source="客户来电退订",
        )
    headers = ["姓名", "手机", "短信营销同意", "同意日期"]

    run = run_file(dealer, csv_bytes([["张三", "13800138000", "是", "2024-03-05"]], headers))

    assert_accounted(run, 1)
    assert run.unchanged_count == 1
    sms = consents_of(dealer, "+8613800138000")["sms"]
    assert (sms.granted, sms.source) == (False, "客户来电退订")
    with dealer_scope(dealer.pk):
        note = ImportRowIssue.objects.get(run=run)
    assert (note.outcome, note.field) == (ImportOutcome.UNCHANGED, "sms_consent")
    assert "2024-03-05" in note.reason and "2025-01-10" in note.reason
    assert note.values["短信营销同意"] == "是"


def test_two_rows_of_one_new_customer_in_a_batch_give_one_consent_with_the_last_answer(
    dealer, import_dir
):
    headers = ["姓名", "手机", "短信营销同意"]
    rows = [["张三", "13800138000", "是"], ["张三", "13800138000", "否"]]

    run = run_file(dealer, csv_bytes(rows, headers))

    assert (run.created_count, run.updated_count) == (1, 1)
    [consent] = consents_of(dealer, "+8613800138000").values()
    assert consent.granted is False


def test_a_bad_answer_refuses_only_its_row(dealer, import_dir):
    headers = ["姓名", "手机", "短信营销同意"]
    rows = [["张三", "13800138000", "也许"], ["李四", "13800138001", "是"]]

    run = run_file(dealer, csv_bytes(rows, headers))

    assert_accounted(run, 2)
    assert (run.created_count, run.error_count) == (1, 1)
    with dealer_scope(dealer.pk):
        error = ImportRowIssue.objects.get(run=run, outcome=ImportOutcome.ERROR)
        assert not Consent.objects.filter(customer__name="张三").exists()
    assert (error.row_number, error.field) == (2, "sms_consent")
    assert "“也许” is not a consent answer" in error.reason


def test_the_consents_of_a_batch_are_read_in_one_query(
    dealer, import_dir, django_assert_max_num_queries
):
    headers = ["姓名", "手机", "短信营销同意", "微信营销同意"]
    rows = [[f"客户{n}", f"1380013{n:04d}", "是", "否"] for n in range(20)]
    run_file(dealer, csv_bytes(rows, headers))
    withdrawn = [[f"客户{n}", f"1380013{n:04d}", "否", "否"] for n in range(20)]
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(csv_bytes(withdrawn, headers)),
            filename="c.csv",
        )
        run = import_run_map(actor=None, run=run, mapping=run.mapping)
        import_run_start(actor=None, run=run, enqueue=False)

    # The engine's fixed queries and the first batch's as for a file without consents, plus
    # the consents' read and their UPDATE: the same for 5 rows a batch as for 20.
    with django_assert_max_num_queries(40) as small:
        run = import_engine.execute(run.pk, batch_size=20, worker=False)
    assert run.updated_count == 20
    consent_reads = [q for q in small.captured_queries if "customers_consent" in q["sql"]]
    assert len(consent_reads) == 2  # one SELECT, one executemany UPDATE
    with dealer_scope(dealer.pk):
        assert not Consent.objects.filter(channel="sms", granted=True).exists()
