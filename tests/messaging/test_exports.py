"""Direct mail: the queued letters grouped by campaign, exported as XLSX or CSV; exporting marks
them sent and is audited."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from python_calamine import CalamineWorkbook

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.messaging.exports import mail_list_export
from dealercrm.messaging.models import Campaign, Message, MessageStatus
from tests.customers.factories import CustomerFactory
from tests.messaging.factories import MessageFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def care(make_user):
    return make_user(Role.CARE_SPECIALIST)


@pytest.fixture
def campaign(dealer):
    template = MessageTemplateFactory(dealer=dealer, channel="mail", purpose="campaign")
    return Campaign.objects.create(dealer=dealer, name="新春贺卡", template=template)


def _letter(customer, **fields):
    values = {
        "channel": "mail",
        "to_address": "上海市浦东新区世纪大道100号",
        "body": f"尊敬的{customer.name}，新春快乐！",
        "purpose": "holiday_greeting",
        "is_marketing": True,
    }
    values.update(fields)
    return MessageFactory(customer=customer, **values)


@pytest.fixture
def letters(dealer, campaign):
    return [
        _letter(
            CustomerFactory(dealer=dealer, name="周杰"),
            campaign=campaign,
            params={"postcode": "200120"},
        ),
        _letter(CustomerFactory(dealer=dealer, name="吴敏"), campaign=campaign),
        _letter(CustomerFactory(dealer=dealer, name="郑强")),  # not from a campaign
    ]


def _xlsx_rows(content: bytes) -> list[list[str]]:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return workbook.get_sheet_by_index(0).to_python()


def test_the_page_groups_the_queued_letters_by_campaign(client_for, care, letters, dealer):
    _letter(CustomerFactory(dealer=dealer), status=MessageStatus.SENT)  # already exported
    MessageFactory(customer=CustomerFactory(dealer=dealer), channel="sms")  # not a letter

    response = client_for(care).get(reverse("messaging:mail"))

    groups = {g.campaign_name or None: g.count for g in response.context["groups"]}
    assert groups == {"新春贺卡": 2, None: 1}
    assert response.context["total"] == 3


def test_exporting_a_campaign_as_xlsx_lists_its_letters_and_marks_them_sent(
    client_for, care, letters, campaign
):
    response = client_for(care).post(
        reverse("messaging:mail_export"), {"campaign": campaign.pk, "format": "xlsx"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'attachment; filename="direct-mail-' in response["Content-Disposition"]
    rows = _xlsx_rows(response.content)
    assert len(rows) == 3  # header and two letters
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["周杰"][1] == "上海市浦东新区世纪大道100号"
    assert by_name["周杰"][2] == "200120"
    assert by_name["周杰"][3] == "尊敬的周杰，新春快乐！"
    assert by_name["吴敏"][4] == "新春贺卡"
    statuses = dict(Message.objects.values_list("customer__name", "status"))
    assert statuses == {"周杰": "sent", "吴敏": "sent", "郑强": "queued"}
    assert Message.objects.get(customer__name="周杰").sent_at is not None


def test_an_export_is_audited(client_for, care, letters, dealer):
    client_for(care).post(reverse("messaging:mail_export"), {"format": "csv"})

    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == care
    assert event.dealer_id == dealer.pk
    assert event.changes["count"] == 3 and event.changes["format"] == "csv"


def test_the_csv_opens_in_excel_and_keeps_formulas_as_text(client_for, care, dealer):
    _letter(CustomerFactory(dealer=dealer, name='=HYPERLINK("x")'), body="=1+1 恭喜发财")

    response = client_for(care).post(reverse("messaging:mail_export"), {"format": "csv"})

    content = response.content.decode("utf-8")
    assert content.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff"))))
    assert rows[1][0] == '\'=HYPERLINK("x")'
    assert rows[1][3] == "'=1+1 恭喜发财"


def test_the_xlsx_keeps_formulas_as_text(care, dealer):
    _letter(CustomerFactory(dealer=dealer, name="陈静"), body="=SUM(A1:A9)")

    export = mail_list_export(actor=care, dealer_id=dealer.pk, fmt="xlsx")

    assert _xlsx_rows(export.content)[1][3] == "=SUM(A1:A9)"


def test_exporting_again_finds_nothing_left(client_for, care, letters):
    client = client_for(care)
    client.post(reverse("messaging:mail_export"), {"format": "csv"})

    response = client.post(reverse("messaging:mail_export"), {"format": "csv"})

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert len(rows) == 1  # the header only
    assert response["X-Exported-Count"] == "0"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == 1


def test_letters_of_no_campaign_are_exported_on_their_own(client_for, care, letters):
    response = client_for(care).post(
        reverse("messaging:mail_export"), {"campaign": "none", "format": "csv"}
    )

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert [row[0] for row in rows[1:]] == ["郑强"]


def test_another_dealers_letters_and_campaigns_stay_out(client_for, care, letters, other_dealer):
    theirs = _letter(CustomerFactory(dealer=other_dealer, name="外店客户"))
    their_campaign = Campaign.objects.create(
        dealer=other_dealer, name="别家活动", template=MessageTemplateFactory(dealer=other_dealer)
    )
    client = client_for(care)

    assert (
        client.post(reverse("messaging:mail_export"), {"campaign": their_campaign.pk}).status_code
        == 404
    )
    response = client.post(reverse("messaging:mail_export"), {"format": "csv"})

    assert "外店客户" not in response.content.decode("utf-8")
    theirs.refresh_from_db()
    assert theirs.status == MessageStatus.QUEUED


def test_the_export_is_set_based(care, dealer, django_assert_max_num_queries):
    for n in range(40):
        _letter(CustomerFactory(dealer=dealer, name=f"客户{n}"))

    # Savepoint, the read, one update, the audit event, release.
    with django_assert_max_num_queries(6):
        export = mail_list_export(actor=care, dealer_id=dealer.pk, fmt="csv")

    assert export.count == 40


def test_a_consultant_may_not_export(client_for, consultant, letters):
    client = client_for(consultant)

    assert client.get(reverse("messaging:mail")).status_code == 403
    assert client.post(reverse("messaging:mail_export")).status_code == 403
    assert not Message.objects.filter(status=MessageStatus.SENT).exists()


def test_export_is_a_post(client_for, care):
    assert client_for(care).get(reverse("messaging:mail_export")).status_code == 405
