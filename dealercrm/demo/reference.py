"""Fixed facts the demo network is built from: dealers, districts, the catalogue, word lists.

Data, not user interface: the Chinese here is what a real dealer's records would contain, so it
is not translated. Lists are tuples and are only ever indexed, never iterated from a set, so the
same seed always draws the same values.
"""

from __future__ import annotations

from typing import NamedTuple

BRAND_CODE = "aurora"
BRAND_NAME = "极光汽车"
BRAND_NAME_EN = "Aurora Motors"
# Unassigned world manufacturer identifier (vininfo knows no maker for it), China ('L').
BRAND_WMI = "LA9"
# Printed by `dealercrm demo_logins`: demo data only, never a real account.
DEMO_PASSWORD = "demo-2026!"  # noqa: S105


class DealerSpec(NamedTuple):
    code: str
    name: str
    region: str  # region code
    group: str  # group key, or ""
    province: str
    city: str
    plate_prefix: str
    address: str
    phone: str
    weight: int  # share of the customers
    districts: tuple[tuple[str, str], ...]  # (district, GB/T 2260 code for ID numbers)


REGIONS: tuple[tuple[str, str], ...] = (
    ("east", "华东大区"),
    ("north", "华北大区"),
    ("south", "华南大区"),
)

GROUPS: tuple[tuple[str, str], ...] = (
    ("huadong", "华东汽车集团"),
    ("yuehai", "粤海汽车集团"),
)

_SH = (
    ("浦东新区", "310115"),
    ("闵行区", "310112"),
    ("徐汇区", "310104"),
    ("黄浦区", "310101"),
    ("静安区", "310106"),
    ("长宁区", "310105"),
    ("普陀区", "310107"),
    ("宝山区", "310113"),
)
_BJ = (
    ("朝阳区", "110105"),
    ("海淀区", "110108"),
    ("东城区", "110101"),
    ("西城区", "110102"),
    ("丰台区", "110106"),
    ("昌平区", "110114"),
)

DEALERS: tuple[DealerSpec, ...] = (
    DealerSpec(
        "SH01",
        "上海浦东极光4S店",
        "east",
        "huadong",
        "上海市",
        "上海市",
        "沪A",
        "浦东新区张杨路1888号",
        "021-58881234",
        12,
        _SH,
    ),
    DealerSpec(
        "SH02",
        "上海闵行极光4S店",
        "east",
        "huadong",
        "上海市",
        "上海市",
        "沪B",
        "闵行区七莘路3000号",
        "021-64121234",
        9,
        _SH[1:] + _SH[:1],
    ),
    DealerSpec(
        "HZ01",
        "杭州西湖极光4S店",
        "east",
        "huadong",
        "浙江省",
        "杭州市",
        "浙A",
        "西湖区文三路398号",
        "0571-88231234",
        9,
        (
            ("西湖区", "330106"),
            ("上城区", "330102"),
            ("拱墅区", "330105"),
            ("滨江区", "330108"),
            ("萧山区", "330109"),
            ("余杭区", "330110"),
        ),
    ),
    DealerSpec(
        "SU01",
        "苏州工业园区极光4S店",
        "east",
        "",
        "江苏省",
        "苏州市",
        "苏E",
        "吴中区东吴北路88号",
        "0512-65281234",
        7,
        (
            ("吴中区", "320506"),
            ("姑苏区", "320508"),
            ("相城区", "320507"),
            ("虎丘区", "320505"),
            ("吴江区", "320509"),
        ),
    ),
    DealerSpec(
        "NJ01",
        "南京江宁极光4S店",
        "east",
        "",
        "江苏省",
        "南京市",
        "苏A",
        "江宁区双龙大道1222号",
        "025-52101234",
        7,
        (
            ("江宁区", "320115"),
            ("玄武区", "320102"),
            ("秦淮区", "320104"),
            ("建邺区", "320105"),
            ("鼓楼区", "320106"),
        ),
    ),
    DealerSpec(
        "BJ01",
        "北京朝阳极光4S店",
        "north",
        "",
        "北京市",
        "北京市",
        "京A",
        "朝阳区北四环东路108号",
        "010-84561234",
        11,
        _BJ,
    ),
    DealerSpec(
        "BJ02",
        "北京海淀极光4S店",
        "north",
        "",
        "北京市",
        "北京市",
        "京N",
        "海淀区西三环北路72号",
        "010-68881234",
        8,
        _BJ[1:] + _BJ[:1],
    ),
    DealerSpec(
        "TJ01",
        "天津河西极光4S店",
        "north",
        "",
        "天津市",
        "天津市",
        "津A",
        "河西区友谊路35号",
        "022-23281234",
        6,
        (("河西区", "120103"), ("和平区", "120101"), ("南开区", "120104"), ("滨海新区", "120116")),
    ),
    DealerSpec(
        "QD01",
        "青岛崂山极光4S店",
        "north",
        "",
        "山东省",
        "青岛市",
        "鲁B",
        "崂山区香港东路195号",
        "0532-88961234",
        6,
        (
            ("崂山区", "370212"),
            ("市南区", "370202"),
            ("市北区", "370203"),
            ("黄岛区", "370211"),
            ("城阳区", "370214"),
        ),
    ),
    DealerSpec(
        "GZ01",
        "广州天河极光4S店",
        "south",
        "yuehai",
        "广东省",
        "广州市",
        "粤A",
        "天河区黄埔大道西668号",
        "020-38881234",
        10,
        (
            ("天河区", "440106"),
            ("越秀区", "440104"),
            ("海珠区", "440105"),
            ("白云区", "440111"),
            ("番禺区", "440113"),
        ),
    ),
    DealerSpec(
        "SZ01",
        "深圳南山极光4S店",
        "south",
        "yuehai",
        "广东省",
        "深圳市",
        "粤B",
        "南山区深南大道9678号",
        "0755-86001234",
        10,
        (
            ("南山区", "440305"),
            ("福田区", "440304"),
            ("罗湖区", "440303"),
            ("宝安区", "440306"),
            ("龙岗区", "440307"),
        ),
    ),
    DealerSpec(
        "XM01",
        "厦门思明极光4S店",
        "south",
        "",
        "福建省",
        "厦门市",
        "闽D",
        "思明区环岛东路1699号",
        "0592-50881234",
        5,
        (("思明区", "350203"), ("湖里区", "350206"), ("集美区", "350211"), ("海沧区", "350205")),
    ),
)

# Staff per dealer, by role.
DEALER_STAFF: tuple[tuple[str, int, str], ...] = (
    ("sales_consultant", 6, "sales"),
    ("service_advisor", 4, "service"),
    ("care_specialist", 3, "care"),
    ("dealer_manager", 1, "sales"),
    ("dealer_admin", 1, ""),
)
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("sales", "销售部"),
    ("service", "售后服务部"),
    ("care", "客户服务部"),
)
NETWORK_STAFF: tuple[tuple[str, str], ...] = (
    ("oem_analyst", "oem_analyst"),
    ("oem_admin", "oem_admin"),
    ("system_admin", "sysadmin"),
)


class SeriesSpec(NamedTuple):
    series: str
    code: str  # VIN position 4: the series
    body_type: str
    seats: int
    variants: tuple[tuple[str, str, int], ...]  # (model name, powertrain, list price ¥)


BRAND_SERIES: tuple[SeriesSpec, ...] = (
    SeriesSpec(
        "极光A3",
        "A",
        "hatchback",
        5,
        (("1.5L 自动舒适版", "ice", 89800), ("1.5L 自动豪华版", "ice", 102800)),
    ),
    SeriesSpec(
        "极光E3", "E", "hatchback", 5, (("标准续航版", "bev", 119800), ("长续航版", "bev", 139800))
    ),
    SeriesSpec(
        "极光S5",
        "S",
        "sedan",
        5,
        (("1.5T 精英版", "ice", 139800), ("2.0L 双擎混动版", "hev", 169800)),
    ),
    SeriesSpec(
        "极光S7",
        "T",
        "sedan",
        5,
        (("DM-i 插混旗舰版", "phev", 199800), ("纯电长续航版", "bev", 229800)),
    ),
    SeriesSpec(
        "极光X5",
        "X",
        "suv",
        5,
        (
            ("1.5T 两驱版", "ice", 149800),
            ("2.0L 混动四驱版", "hev", 189800),
            ("DM-i 插混版", "phev", 179800),
        ),
    ),
    SeriesSpec(
        "极光X7", "Y", "suv", 7, (("插混七座版", "phev", 259800), ("纯电四驱七座版", "bev", 299800))
    ),
    SeriesSpec(
        "极光M8",
        "M",
        "mpv",
        7,
        (("2.0L 混动商务版", "hev", 279800), ("插混尊享版", "phev", 329800)),
    ),
    SeriesSpec("极光P3", "P", "pickup", 5, (("2.0T 柴油四驱版", "ice", 129800),)),
)
BRAND_MODEL_YEARS = (2021, 2022, 2023, 2024, 2025, 2026)


class OtherMakeSpec(NamedTuple):
    make: str
    wmi: str
    series: str
    name: str
    body_type: str
    powertrain: str
    seats: int
    price: int


OTHER_MAKES: tuple[OtherMakeSpec, ...] = (
    OtherMakeSpec("大众", "LSV", "朗逸", "1.5L 自动舒适版", "sedan", "ice", 5, 119900),
    OtherMakeSpec("丰田", "LVG", "凯美瑞", "2.0E 精英版", "sedan", "ice", 5, 179800),
    OtherMakeSpec("本田", "LHG", "雅阁", "260TURBO 精英版", "sedan", "ice", 5, 169800),
    OtherMakeSpec("比亚迪", "LGX", "秦PLUS", "DM-i 55km 领先型", "sedan", "phev", 5, 99800),
    OtherMakeSpec("特斯拉", "LRW", "Model 3", "后轮驱动版", "sedan", "bev", 5, 231900),
    OtherMakeSpec("日产", "LGB", "轩逸", "1.6L XL 悦享版", "sedan", "ice", 5, 109900),
    OtherMakeSpec("别克", "LSG", "GL8", "ES陆尊 653T", "mpv", "ice", 7, 329900),
    OtherMakeSpec("长城", "LGW", "炮", "2.0T 柴油四驱", "pickup", "ice", 5, 129800),
)
OTHER_MODEL_YEARS = (2016, 2018, 2020)

# ISO 3779 model-year codes, position 10.
YEAR_CODES = {
    2010: "A",
    2011: "B",
    2012: "C",
    2013: "D",
    2014: "E",
    2015: "F",
    2016: "G",
    2017: "H",
    2018: "J",
    2019: "K",
    2020: "L",
    2021: "M",
    2022: "N",
    2023: "P",
    2024: "R",
    2025: "S",
    2026: "T",
    2027: "V",
    2028: "W",
    2029: "X",
    2030: "Y",
}
VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"

COLOURS = ("极地白", "曜石黑", "星河银", "深空灰", "赤焰红", "海湾蓝", "森林绿", "香槟金")

# Mobile prefixes of the three carriers that phonenumbers accepts with any 8 following digits.
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "199",
)
EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "outlook.com", "gmail.com")
ENGLISH_NAMES_MALE = ("David", "Kevin", "Jason", "Eric", "Tony", "Jack", "Leo", "Frank", "Peter")
ENGLISH_NAMES_FEMALE = ("Lily", "Grace", "Cindy", "Amy", "Vivian", "Helen", "Sophie", "Nancy")

INTERESTS = (
    "自驾游",
    "摄影",
    "钓鱼",
    "健身",
    "高尔夫",
    "露营",
    "美食",
    "读书",
    "音乐",
    "亲子活动",
    "户外运动",
    "科技数码",
    "茶艺",
    "跑步",
    "骑行",
    "登山",
    "改装",
    "电影",
)
LIFESTYLES = (
    "城市通勤",
    "商务出行频繁",
    "周末郊游",
    "家庭出行",
    "长途自驾",
    "宠物主人",
    "环保出行",
    "网约车兼职",
)
TAGS: tuple[tuple[str, str], ...] = (
    ("VIP", "red"),
    ("车友会", "green"),
    ("二胎家庭", "purple"),
    ("网约车", "orange"),
    ("首购", "blue"),
    ("增购", "cyan"),
    ("换购意向", "yellow"),
    ("企业客户", "dark"),
    ("高意向", "red"),
    ("价格敏感", "gray"),
    ("新能源意向", "green"),
    ("转介绍达人", "pink"),
)
CONSENT_SOURCES = ("展厅登记表", "官网注册", "电话确认", "微信公众号", "交车确认书")
