"""What each kind of import takes: its fields, which are required, and the header names
DMS exports and spreadsheets use for them (Chinese and English), to guess the column mapping.

Field names are shared between kinds ("phone" is the customer's phone in every kind), so
`normalise.clean_row` cleans a field the same way whatever the kind. `value_type` says how:
text, phone, id_number, email, gender, date, past_date (not after today), province, city, vin,
plate, int (mileage), money, repair_kind, payer, consent (yes / no). `max_length` is the database column's, so a too-long value is an
error on its row rather than a failed batch.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ImportField:
    name: str
    label: str | Promise  # lazily translated
    required: bool = False
    aliases: tuple[str, ...] = ()
    value_type: str = "text"
    max_length: int = 0  # 0: no limit beyond the value type's own


# --- The fields, each defined once and reused by the kinds that take it -----------------------

_NAME = ImportField(
    "name",
    _("Name"),
    aliases=("姓名", "客户姓名", "客户名称", "客户名", "车主", "车主姓名", "购车人", "联系人",
             "name", "customer name", "customer", "full name", "owner name", "owner"),
    max_length=100,
)  # fmt: skip
_PHONE = ImportField(
    "phone",
    _("Phone"),
    aliases=("手机", "手机号", "手机号码", "移动电话", "联系电话", "联系方式", "电话", "电话号码",
             "客户手机", "车主手机", "车主电话", "客户电话",
             "mobile", "mobile phone", "phone", "phone number", "tel", "telephone", "cell"),
    value_type="phone",
)  # fmt: skip
_OTHER_PHONE = ImportField(
    "other_phone",
    _("Other phone"),
    aliases=("备用电话", "其他电话", "其它电话", "座机", "固定电话", "家庭电话", "办公电话",
             "other phone", "landline", "home phone", "work phone"),
    value_type="phone",
)  # fmt: skip
_ID_NUMBER = ImportField(
    "id_number",
    _("ID number"),
    aliases=("身份证", "身份证号", "身份证号码", "证件号", "证件号码", "车主身份证", "客户身份证",
             "id number", "id no", "id card", "id card number", "identity number"),
    value_type="id_number",
)  # fmt: skip
_GENDER = ImportField("gender", _("Gender"), aliases=("性别", "gender", "sex"), value_type="gender")
_BIRTHDAY = ImportField(
    "birthday",
    _("Birthday"),
    aliases=("生日", "出生日期", "出生年月日", "birthday", "date of birth", "birth date", "dob"),
    value_type="date",
)
_EMAIL = ImportField(
    "email",
    _("E-mail"),
    aliases=("邮箱", "电子邮箱", "电子邮件", "邮件", "email", "e-mail", "email address", "mail"),
    value_type="email",
    max_length=254,
)
_WECHAT = ImportField(
    "wechat_id",
    _("WeChat ID"),
    aliases=("微信", "微信号", "微信id", "wechat", "wechat id", "weixin"),
    max_length=64,
)
_PROVINCE = ImportField(
    "province",
    _("Province"),
    aliases=("省", "省份", "所在省", "所在省份", "province", "state"),
    value_type="province",
    max_length=20,
)
_CITY = ImportField(
    "city",
    _("City"),
    aliases=("市", "城市", "所在城市", "地市", "city"),
    value_type="city",
    max_length=40,
)
_DISTRICT = ImportField(
    "district",
    _("District"),
    aliases=("区", "区县", "县区", "区/县", "所在区县", "district", "county"),
    max_length=40,
)
_STREET = ImportField(
    "street",
    _("Address"),
    aliases=("地址", "详细地址", "联系地址", "家庭地址", "通讯地址", "住址", "街道地址",
             "address", "street", "street address"),
    max_length=200,
)  # fmt: skip
_VIN = ImportField(
    "vin",
    _("VIN"),
    aliases=("车架号", "vin", "vin码", "车辆识别代号", "车辆识别号", "车辆识别码", "底盘号",
             "vin number", "chassis number", "frame number"),
    value_type="vin",
)  # fmt: skip
_PLATE = ImportField(
    "plate",
    _("Licence plate"),
    aliases=("车牌", "车牌号", "车牌号码", "牌照", "牌照号", "号牌", "号牌号码",
             "plate", "plate number", "licence plate", "license plate", "registration"),
    value_type="plate",
)  # fmt: skip
_CAR_MODEL = ImportField(
    "car_model",
    _("Model"),
    aliases=("车型", "车型名称", "车辆型号", "品牌车型", "车系", "model", "car model",
             "vehicle model"),
    max_length=100,
)  # fmt: skip
_COLOUR = ImportField(
    "colour",
    _("Colour"),
    aliases=("颜色", "车身颜色", "外观颜色", "车色", "colour", "color", "exterior colour"),
    max_length=30,
)
_PURCHASE_DATE = ImportField(
    "purchase_date",
    _("Purchase date"),
    aliases=("购车日期", "购买日期", "购车时间", "销售日期", "开票日期", "purchase date",
             "date of purchase", "sold on", "sale date", "invoice date"),
    value_type="date",
)  # fmt: skip
_DELIVERY_DATE = ImportField(
    "delivery_date",
    _("Delivery date"),
    aliases=("交车日期", "交付日期", "交车时间", "提车日期", "delivery date", "delivered on",
             "handover date"),
    value_type="date",
)  # fmt: skip
_MILEAGE = ImportField(
    "mileage",
    _("Mileage (km)"),
    aliases=("里程", "行驶里程", "公里数", "当前里程", "表显里程", "进厂里程", "里程数",
             "mileage", "odometer", "km", "mileage (km)"),
    value_type="int",
)  # fmt: skip
_INSURANCE_EXPIRY = ImportField(
    "insurance_expiry",
    _("Insurance expiry"),
    aliases=("保险到期", "保险到期日", "保险到期日期", "保险截止日期", "商业险到期",
             "交强险到期", "insurance expiry", "insurance expires", "insurance end"),
    value_type="date",
)  # fmt: skip
_WARRANTY_END = ImportField(
    "warranty_end",
    _("Warranty end"),
    aliases=("保修到期", "保修截止", "质保到期", "保修到期日", "warranty end", "warranty expiry"),
    value_type="date",
)
_ORDER_NUMBER = ImportField(
    "order_number",
    _("Order number"),
    aliases=("订单号", "订单编号", "合同号", "合同编号", "销售单号", "order number", "order no",
             "order", "contract number"),
    max_length=32,
)  # fmt: skip
_ORDER_DATE = ImportField(
    "order_date",
    _("Order date"),
    required=True,
    aliases=("订单日期", "下单日期", "签约日期", "合同日期", "订车日期", "order date",
             "ordered on", "contract date"),
    value_type="date",
)  # fmt: skip
_PRICE = ImportField(
    "price",
    _("Price"),
    required=True,
    aliases=("价格", "成交价", "成交价格", "车价", "销售价格", "开票价", "开票价格", "合同金额",
             "price", "sale price", "amount", "invoice price"),
    value_type="money",
)  # fmt: skip
_DEPOSIT = ImportField(
    "deposit",
    _("Deposit"),
    aliases=("定金", "订金", "deposit"),
    value_type="money",
)
_CONSULTANT = ImportField(
    "consultant_name",
    _("Sales consultant"),
    aliases=("销售顾问", "顾问", "销售员", "销售", "sales consultant", "consultant",
             "salesperson", "sales rep"),
    max_length=50,
)  # fmt: skip
_RO_NUMBER = ImportField(
    "ro_number",
    _("Repair order number"),
    required=True,
    aliases=("工单号", "工单编号", "维修单号", "委托书号", "ro number", "ro no", "repair order",
             "repair order number", "work order"),
    max_length=40,
)  # fmt: skip
_OPENED = ImportField(
    "opened_date",
    _("Date in"),
    required=True,
    aliases=("进厂日期", "进厂时间", "开单日期", "开单时间", "接车日期", "维修日期", "opened",
             "date in", "opened on", "open date"),
    value_type="date",
)  # fmt: skip
_CLOSED = ImportField(
    "closed_date",
    _("Date closed"),
    aliases=("结算日期", "结算时间", "出厂日期", "完工日期", "closed", "closed on",
             "date out", "close date"),
    value_type="date",
)  # fmt: skip
_REPAIR_KIND = ImportField(
    "repair_kind",
    _("Repair type"),
    aliases=("维修类型", "工单类型", "维修类别", "业务类型", "repair type", "type", "ro type"),
    value_type="repair_kind",
)
_PAYER = ImportField(
    "payer",
    _("Paid by"),
    aliases=("付费方", "付款方", "结算方式", "付费类型", "paid by", "payer"),
    value_type="payer",
)
_LABOUR = ImportField(
    "labour_amount",
    _("Labour (¥)"),
    aliases=("工时费", "工时费用", "人工费", "labour", "labor", "labour amount"),
    value_type="money",
)
_PARTS = ImportField(
    "parts_amount",
    _("Parts (¥)"),
    aliases=("材料费", "配件费", "零件费", "parts", "parts amount", "materials"),
    value_type="money",
)
_TOTAL = ImportField(
    "total_amount",
    _("Total (¥)"),
    aliases=("合计", "总金额", "合计金额", "维修金额", "结算金额", "total", "total amount",
             "amount"),
    value_type="money",
)  # fmt: skip
_ADVISOR = ImportField(
    "advisor_name",
    _("Service advisor"),
    aliases=("服务顾问", "接待顾问", "接车员", "服务专员", "service advisor", "advisor"),
    max_length=50,
)
_CONCERN = ImportField(
    "concern",
    _("Customer's description"),
    aliases=("客户描述", "故障描述", "客户陈述", "维修内容", "concern", "customer concern",
             "description"),
)  # fmt: skip

# Marketing consent, one column per channel (yes / no; blank: the file says nothing), and the
# date the answers were given (default: the import's time).
_SMS_CONSENT = ImportField(
    "sms_consent",
    _("SMS consent"),
    aliases=("短信营销同意", "同意短信", "同意短信营销", "是否同意短信营销", "短信同意",
             "短信营销", "接受短信营销", "sms consent", "sms opt in", "sms marketing"),
    value_type="consent",
)  # fmt: skip
_PHONE_CONSENT = ImportField(
    "phone_consent",
    _("Phone call consent"),
    aliases=("电话营销同意", "同意电话营销", "是否同意电话营销", "电话同意", "电话营销",
             "接受电话营销", "phone consent", "call consent", "phone opt in", "phone marketing"),
    value_type="consent",
)  # fmt: skip
_EMAIL_CONSENT = ImportField(
    "email_consent",
    _("E-mail consent"),
    aliases=("邮件营销同意", "同意邮件营销", "是否同意邮件营销", "邮件同意", "邮件营销",
             "接受邮件营销", "e-mail consent", "email opt in", "email marketing"),
    value_type="consent",
)  # fmt: skip
_WECHAT_CONSENT = ImportField(
    "wechat_consent",
    _("WeChat consent"),
    aliases=("微信营销同意", "同意微信营销", "是否同意微信营销", "微信同意", "微信营销",
             "接受微信营销", "wechat consent", "wechat opt in", "wechat marketing"),
    value_type="consent",
)  # fmt: skip
_MAIL_CONSENT = ImportField(
    "mail_consent",
    _("Direct mail consent"),
    aliases=("邮寄同意", "邮寄营销同意", "同意邮寄", "是否同意邮寄", "直邮同意", "邮寄营销",
             "mail consent", "direct mail consent", "direct mail", "post consent"),
    value_type="consent",
)  # fmt: skip
_CONSENT_DATE = ImportField(
    "consent_date",
    _("Consent date"),
    aliases=("同意日期", "同意时间", "授权日期", "营销同意日期", "consent date",
             "date of consent", "consented on", "opt in date"),
    value_type="past_date",
)  # fmt: skip

# {consent field: its ConsentChannel value}, written as the values to keep this module free of
# model imports; tests check they are the model's.
CONSENT_CHANNELS: dict[str, str] = {
    "sms_consent": "sms",
    "phone_consent": "phone",
    "email_consent": "email",
    "wechat_consent": "wechat",
    "mail_consent": "mail",
}


def _required(f: ImportField) -> ImportField:
    """The same field, required in this kind."""
    return ImportField(f.name, f.label, True, f.aliases, f.value_type, f.max_length)


FIELDS: dict[str, tuple[ImportField, ...]] = {
    # A customer per row, with their car when the row has a VIN.
    "customers": (
        _required(_NAME), _PHONE, _OTHER_PHONE, _ID_NUMBER, _GENDER, _BIRTHDAY, _EMAIL, _WECHAT,
        _PROVINCE, _CITY, _DISTRICT, _STREET,
        _VIN, _PLATE, _CAR_MODEL, _COLOUR, _PURCHASE_DATE, _DELIVERY_DATE, _MILEAGE,
        _INSURANCE_EXPIRY,
        _SMS_CONSENT, _PHONE_CONSENT, _EMAIL_CONSENT, _WECHAT_CONSENT, _MAIL_CONSENT,
        _CONSENT_DATE,
    ),
    # A car per row; its owner is found (or created, with the name) by phone or ID number.
    "vehicles": (
        _required(_VIN), _PHONE, _ID_NUMBER, _NAME, _PLATE, _CAR_MODEL, _COLOUR,
        _PURCHASE_DATE, _DELIVERY_DATE, _MILEAGE, _INSURANCE_EXPIRY, _WARRANTY_END,
    ),
    # A signed order per row.
    "sales": (
        _ORDER_NUMBER, _PHONE, _ID_NUMBER, _NAME, _VIN, _required(_CAR_MODEL), _COLOUR,
        _ORDER_DATE, _DELIVERY_DATE, _PRICE, _DEPOSIT, _CONSULTANT,
    ),
    # A repair order per row; the car is found by VIN, or by plate when the VIN is missing.
    "repair_orders": (
        _RO_NUMBER, _VIN, _PLATE, _OPENED, _CLOSED, _MILEAGE, _REPAIR_KIND, _PAYER,
        _LABOUR, _PARTS, _TOTAL, _ADVISOR, _CONCERN,
    ),
}  # fmt: skip

# At least one field of each group must be mapped and, on each row, filled in.
REQUIRED_ONE_OF: dict[str, tuple[tuple[str, ...], ...]] = {
    "customers": (("phone", "id_number"),),
    "vehicles": (("phone", "id_number"),),
    "sales": (("phone", "id_number"),),
    "repair_orders": (("vin", "plate"),),
}


def fields_by_name(kind: str) -> dict[str, ImportField]:
    """{field name: field} of an import kind; KeyError for an unknown kind."""
    return _fields_by_name(kind)


@lru_cache(maxsize=8)
def _fields_by_name(kind: str) -> dict[str, ImportField]:
    return {f.name: f for f in FIELDS[kind]}


# Brackets, colons, asterisks (required marks), slashes, dashes, underscores, dots and spaces.
_HEADER_NOISE = re.compile(r"[\s()\[\]{}<>:：*＊/\\\-_.·,，、'\"“”‘’#№]+")


def normalise_header(text: str) -> str:
    """The comparable form of a header: NFKC, lower case, without spaces and punctuation."""
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", text or "").lower())


def guess_mapping(kind: str, headers: list[str]) -> dict[str, str]:
    """{field name: header} guessed from the headers: exact alias first, then containment
    ("手机号码(必填)" is a phone). Each header is used once; the result is in field order."""
    normalised = [normalise_header(h) for h in headers]
    used: set[int] = set()
    mapping: dict[str, str] = {}
    fields = FIELDS[kind]
    for f in fields:
        aliases = {normalise_header(a) for a in f.aliases}
        for i, text in enumerate(normalised):
            if i not in used and text and text in aliases:
                mapping[f.name] = headers[i]
                used.add(i)
                break
    # Containment, most specific first: the longest alias, then the one covering most of its
    # header, then field and column order. So "车主身份证号码" goes to the ID number (alias
    # 车主身份证) and not to the name (alias 车主). Single-character aliases (省, 市, 区) would
    # match too much this way and count only when exact.
    pairs = []
    for order, f in enumerate(fields):
        if f.name in mapping:
            continue
        aliases = [a for a in dict.fromkeys(normalise_header(a) for a in f.aliases) if len(a) > 1]
        for i, text in enumerate(normalised):
            if i in used:
                continue
            length = max((len(a) for a in aliases if a in text), default=0)
            if length:
                pairs.append((-length, -length / len(text), order, i, f.name))
    for *_rank, i, name in sorted(pairs):
        if name not in mapping and i not in used:
            mapping[name] = headers[i]
            used.add(i)
    return {f.name: mapping[f.name] for f in fields if f.name in mapping}


def missing_required(kind: str, mapping: dict[str, str]) -> list[str]:
    """Labels of the required fields that `mapping` leaves unmapped; an either-or group
    (phone or ID number) that has none of its fields mapped is named "Phone or ID number"."""
    mapped = {name for name, header in mapping.items() if header}
    by_name = fields_by_name(kind)
    missing = [str(f.label) for f in FIELDS[kind] if f.required and f.name not in mapped]
    for group in REQUIRED_ONE_OF.get(kind, ()):
        if not mapped.intersection(group):
            missing.append(one_of_label(kind, group, by_name))
    return missing


def one_of_label(
    kind: str, group: tuple[str, ...], by_name: dict[str, ImportField] | None = None
) -> str:
    """ "Phone or ID number": the labels of an either-or group, translated."""
    by_name = by_name or fields_by_name(kind)
    labels = [str(by_name[name].label) for name in group]
    return gettext("%(first)s or %(second)s") % {"first": labels[0], "second": labels[-1]}
