"""Demo and seed data: the unit tree and the category taxonomy that seed_demo loads.

Modelled on Wuhan's 12345 citizen hotline. Unit codes are ASCII slugs (pinyin for
districts and streets); names are in Simplified Chinese.
"""

# (code, name) of the dispatch centre, the root of the unit tree.
CENTRE: tuple[str, str] = ("centre", "市民服务热线12345调度中心")

# (code, name, streets): the 13 districts, each with six streets as (code, name).
DISTRICTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "jiangan",
        "江岸区",
        [
            ("jiangan-dazhi", "大智街道"),
            ("jiangan-yiyuan", "一元街道"),
            ("jiangan-chezhan", "车站街道"),
            ("jiangan-siwei", "四唯街道"),
            ("jiangan-erqi", "二七街道"),
            ("jiangan-houhu", "后湖街道"),
        ],
    ),
    (
        "jianghan",
        "江汉区",
        [
            ("jianghan-minzu", "民族街道"),
            ("jianghan-hualou", "花楼街道"),
            ("jianghan-shuita", "水塔街道"),
            ("jianghan-xinhua", "新华街道"),
            ("jianghan-wansong", "万松街道"),
            ("jianghan-tangjiadun", "唐家墩街道"),
        ],
    ),
    (
        "qiaokou",
        "硚口区",
        [
            ("qiaokou-hanzheng", "汉正街道"),
            ("qiaokou-zongguan", "宗关街道"),
            ("qiaokou-gutian", "古田街道"),
            ("qiaokou-hanjiadun", "韩家墩街道"),
            ("qiaokou-baofeng", "宝丰街道"),
            ("qiaokou-changfeng", "长丰街道"),
        ],
    ),
    (
        "hanyang",
        "汉阳区",
        [
            ("hanyang-qingchuan", "晴川街道"),
            ("hanyang-yingwu", "鹦鹉街道"),
            ("hanyang-wulidun", "五里墩街道"),
            ("hanyang-qinduankou", "琴断口街道"),
            ("hanyang-sixin", "四新街道"),
            ("hanyang-longyang", "龙阳街道"),
        ],
    ),
    (
        "wuchang",
        "武昌区",
        [
            ("wuchang-zhonghua", "中华路街道"),
            ("wuchang-huanghelou", "黄鹤楼街道"),
            ("wuchang-shuiguohu", "水果湖街道"),
            ("wuchang-zhongnan", "中南路街道"),
            ("wuchang-xujiapeng", "徐家棚街道"),
            ("wuchang-nanhu", "南湖街道"),
        ],
    ),
    (
        "qingshan",
        "青山区",
        [
            ("qingshan-hongwei", "红卫路街道"),
            ("qingshan-yejin", "冶金街道"),
            ("qingshan-honggangcheng", "红钢城街道"),
            ("qingshan-gongrencun", "工人村街道"),
            ("qingshan-changqian", "厂前街道"),
            ("qingshan-baiyushan", "白玉山街道"),
        ],
    ),
    (
        "hongshan",
        "洪山区",
        [
            ("hongshan-luonan", "珞南街道"),
            ("hongshan-shizishan", "狮子山街道"),
            ("hongshan-zhangjiawan", "张家湾街道"),
            ("hongshan-liyuan", "梨园街道"),
            ("hongshan-zhuodaoquan", "卓刀泉街道"),
            ("hongshan-heping", "和平街道"),
        ],
    ),
    (
        "dongxihu",
        "东西湖区",
        [
            ("dongxihu-wujiashan", "吴家山街道"),
            ("dongxihu-jiangjun", "将军路街道"),
            ("dongxihu-cihui", "慈惠街道"),
            ("dongxihu-zoumaling", "走马岭街道"),
            ("dongxihu-jinghe", "径河街道"),
            ("dongxihu-jinyinhu", "金银湖街道"),
        ],
    ),
    (
        "caidian",
        "蔡甸区",
        [
            ("caidian-caidian", "蔡甸街道"),
            ("caidian-zhashan", "奓山街道"),
            ("caidian-yongan", "永安街道"),
            ("caidian-zhurushan", "侏儒山街道"),
            ("caidian-daji", "大集街道"),
            ("caidian-suohe", "索河街道"),
        ],
    ),
    (
        "jiangxia",
        "江夏区",
        [
            ("jiangxia-zhifang", "纸坊街道"),
            ("jiangxia-jinkou", "金口街道"),
            ("jiangxia-wulongquan", "乌龙泉街道"),
            ("jiangxia-zhengdian", "郑店街道"),
            ("jiangxia-wulijie", "五里界街道"),
            ("jiangxia-fasi", "法泗街道"),
        ],
    ),
    (
        "huangpi",
        "黄陂区",
        [
            ("huangpi-qianchuan", "前川街道"),
            ("huangpi-shekou", "滠口街道"),
            ("huangpi-hengdian", "横店街道"),
            ("huangpi-qijiawan", "祁家湾街道"),
            ("huangpi-tianhe", "天河街道"),
            ("huangpi-luohansi", "罗汉寺街道"),
        ],
    ),
    (
        "xinzhou",
        "新洲区",
        [
            ("xinzhou-zhucheng", "邾城街道"),
            ("xinzhou-yangluo", "阳逻街道"),
            ("xinzhou-cangbu", "仓埠街道"),
            ("xinzhou-wangji", "汪集街道"),
            ("xinzhou-shuangliu", "双柳街道"),
            ("xinzhou-xinchong", "辛冲街道"),
        ],
    ),
    (
        "hannan",
        "武汉经济技术开发区(汉南区)",
        [
            ("hannan-zhuankou", "沌口街道"),
            ("hannan-zhuanyang", "沌阳街道"),
            ("hannan-junshan", "军山街道"),
            ("hannan-shamao", "纱帽街道"),
            ("hannan-xiangkou", "湘口街道"),
            ("hannan-dengnan", "邓南街道"),
        ],
    ),
]

# (code, name) of the municipal bureaus.
BUREAUS: list[tuple[str, str]] = [
    ("urban-management", "市城市管理执法委员会"),
    ("housing", "市住房和城乡建设局"),
    ("transport", "市交通运输局"),
    ("ecology", "市生态环境局"),
    ("market-regulation", "市市场监督管理局"),
    ("health", "市卫生健康委员会"),
    ("education", "市教育局"),
    ("human-resources", "市人力资源和社会保障局"),
    ("public-security", "市公安局"),
    ("water-affairs", "市水务局"),
    ("landscaping", "市园林和林业局"),
    ("natural-resources", "市自然资源和规划局"),
    ("civil-affairs", "市民政局"),
    ("emergency", "市应急管理局"),
    ("culture-tourism", "市文化和旅游局"),
    ("commerce", "市商务局"),
    ("housing-security", "市住房保障和房屋管理局"),
    ("medical-security", "市医疗保障局"),
    ("veterans", "市退役军人事务局"),
    ("agriculture", "市农业农村局"),
    ("fire-rescue", "市消防救援支队"),
    ("finance", "市财政局"),
]

# (code, name) of the public utilities.
UTILITIES: list[tuple[str, str]] = [
    ("water-group", "武汉市水务集团"),
    ("power-supply", "国网武汉供电公司"),
    ("gas-group", "武汉市燃气集团"),
    ("heating", "武汉市热力有限公司"),
    ("bus-group", "武汉公交集团"),
    ("metro-group", "武汉地铁集团"),
    ("telecom", "中国电信武汉分公司"),
    ("postal", "中国邮政武汉分公司"),
]

# (code, name, leaves): the category groups. Each leaf is
# (code, name, routing, default_unit_code, deadlines). Territorial leaves go to the
# district of the address, so they have no default unit; functional leaves name the
# bureau or utility that handles them. Deadlines map each stage to (amount, unit).
CATEGORIES: list[tuple[str, str, list[tuple]]] = [
    (
        "city-management",
        "城市管理",
        [
            (
                "street-vending",
                "占道经营",
                "territorial",
                None,
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "illegal-construction",
                "违章搭建",
                "territorial",
                None,
                {
                    "accept": (2, "hours"),
                    "claim": (1, "working_days"),
                    "resolve": (15, "working_days"),
                    "feedback": (3, "working_days"),
                },
            ),
            (
                "garbage-collection",
                "垃圾清运",
                "territorial",
                None,
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (3, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "noise-nuisance",
                "噪音扰民",
                "territorial",
                None,
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (3, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "road-damage",
                "道路破损",
                "territorial",
                None,
                {
                    "accept": (2, "hours"),
                    "claim": (1, "working_days"),
                    "resolve": (10, "working_days"),
                    "feedback": (3, "working_days"),
                },
            ),
            (
                "street-light",
                "路灯故障",
                "functional",
                "urban-management",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "water",
        "供水",
        [
            (
                "water-outage",
                "停水",
                "functional",
                "water-group",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (24, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "pipe-burst",
                "爆管漏水",
                "functional",
                "water-group",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (12, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "water-quality",
                "水质问题",
                "functional",
                "water-group",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "electricity",
        "供电",
        [
            (
                "power-outage",
                "停电",
                "functional",
                "power-supply",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (24, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "electricity-billing",
                "电费电表",
                "functional",
                "power-supply",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (3, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "gas-heating",
        "燃气供热",
        [
            (
                "gas-leak",
                "燃气泄漏",
                "functional",
                "gas-group",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (12, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "gas-outage",
                "停气",
                "functional",
                "gas-group",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (24, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "heating-service",
                "供暖",
                "functional",
                "heating",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "traffic",
        "交通出行",
        [
            (
                "bus-service",
                "公交服务",
                "functional",
                "bus-group",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "metro-service",
                "地铁服务",
                "functional",
                "metro-group",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "taxi-complaint",
                "出租车投诉",
                "functional",
                "transport",
                {
                    "accept": (2, "hours"),
                    "claim": (1, "working_days"),
                    "resolve": (10, "working_days"),
                    "feedback": (3, "working_days"),
                },
            ),
            (
                "illegal-parking",
                "交通违停",
                "functional",
                "public-security",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (1, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "property",
        "住房物业",
        [
            (
                "property-dispute",
                "物业纠纷",
                "territorial",
                None,
                {
                    "accept": (2, "hours"),
                    "claim": (1, "working_days"),
                    "resolve": (15, "working_days"),
                    "feedback": (3, "working_days"),
                },
            ),
            (
                "house-repair",
                "房屋维修",
                "functional",
                "housing-security",
                {
                    "accept": (2, "hours"),
                    "claim": (1, "working_days"),
                    "resolve": (10, "working_days"),
                    "feedback": (3, "working_days"),
                },
            ),
            (
                "elevator-fault",
                "电梯故障",
                "functional",
                "market-regulation",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (24, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "affordable-housing",
                "保障性住房咨询",
                "functional",
                "housing-security",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (3, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "labour",
        "劳动社保",
        [
            (
                "wage-arrears",
                "拖欠工资",
                "functional",
                "human-resources",
                {
                    "accept": (2, "hours"),
                    "claim": (1, "working_days"),
                    "resolve": (15, "working_days"),
                    "feedback": (3, "working_days"),
                },
            ),
            (
                "social-insurance",
                "社保咨询",
                "functional",
                "human-resources",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (1, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "medical-insurance",
                "医保报销",
                "functional",
                "medical-security",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (3, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "market",
        "市场监管",
        [
            (
                "food-safety",
                "食品安全",
                "functional",
                "market-regulation",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "price-complaint",
                "价格投诉",
                "functional",
                "market-regulation",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "consumer-rights",
                "消费维权",
                "functional",
                "market-regulation",
                {
                    "accept": (2, "hours"),
                    "claim": (1, "working_days"),
                    "resolve": (10, "working_days"),
                    "feedback": (3, "working_days"),
                },
            ),
        ],
    ),
    (
        "environment",
        "生态环境",
        [
            (
                "air-pollution",
                "废气污染",
                "functional",
                "ecology",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "sewage-discharge",
                "污水排放",
                "functional",
                "ecology",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "greening-maintenance",
                "绿化养护",
                "functional",
                "landscaping",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "fallen-tree",
                "树木倒伏",
                "functional",
                "landscaping",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (24, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "waterlogging",
                "排水内涝",
                "functional",
                "water-affairs",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (24, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "education-health",
        "教育卫生",
        [
            (
                "medical-complaint",
                "医疗投诉",
                "functional",
                "health",
                {
                    "accept": (2, "hours"),
                    "claim": (1, "working_days"),
                    "resolve": (10, "working_days"),
                    "feedback": (3, "working_days"),
                },
            ),
            (
                "epidemic-help",
                "疫情防控求助",
                "functional",
                "health",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (12, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "education-fees",
                "教育收费",
                "functional",
                "education",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "school-enrolment",
                "入学咨询",
                "functional",
                "education",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (1, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "social-assistance",
        "社会救助",
        [
            (
                "hardship-relief",
                "困难救助",
                "territorial",
                None,
                {
                    "accept": (2, "hours"),
                    "claim": (1, "working_days"),
                    "resolve": (10, "working_days"),
                    "feedback": (3, "working_days"),
                },
            ),
            (
                "elderly-care",
                "养老服务",
                "functional",
                "civil-affairs",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "veterans-service",
                "退役军人服务",
                "functional",
                "veterans",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (5, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
    (
        "public-safety",
        "公共安全",
        [
            (
                "fire-hazard",
                "消防隐患",
                "functional",
                "fire-rescue",
                {
                    "accept": (1, "hours"),
                    "claim": (1, "hours"),
                    "resolve": (24, "hours"),
                    "feedback": (2, "working_days"),
                },
            ),
            (
                "production-safety",
                "安全生产隐患",
                "functional",
                "emergency",
                {
                    "accept": (2, "hours"),
                    "claim": (4, "hours"),
                    "resolve": (3, "working_days"),
                    "feedback": (2, "working_days"),
                },
            ),
        ],
    ),
]

# (username, unit_code, role) of the demo staff accounts.
STAFF: list[tuple[str, str, str]] = [
    ("operator", "centre", "operator"),
    ("dispatcher", "centre", "dispatcher"),
    ("handler", "water-group", "handler"),
    ("handler2", "wuchang-zhongnan", "handler"),
    ("unitadmin", "water-group", "unit_admin"),
    ("supervisor", "wuchang", "supervisor"),
]

# The questions some categories ask Open311 clients (their service definitions):
# category code -> [(code, datatype, required, question, datatype description, choices)].
CATEGORY_ATTRIBUTES: dict[str, list[tuple[str, str, bool, str, str, list[tuple[str, str]]]]] = {
    "street-light": [
        ("fault_kind", "singlevaluelist", True, "故障类型", "", [
            ("dark", "不亮"), ("flickering", "闪烁"), ("on_by_day", "白天常亮"), ("pole_damaged", "灯杆损坏"),
        ]),
        ("pole_number", "string", False, "灯杆编号", "灯杆上喷涂的编号", []),
    ],
    "road-damage": [
        ("area_m2", "number", True, "破损面积", "平方米（m²）", []),
    ],
}

# Words that sort an SMS or Weibo post into a category (routing rules), and the
# categories dispatched directly (直派) when the words are sure: emergencies whose unit
# never changes.
ROUTING_WORDS: dict[str, str] = {
    "water-outage": "停水, 没水, 不来水, 水压低",
    "pipe-burst": "爆管, 水管爆, 漏水, 冒水",
    "power-outage": "停电, 没电, 跳闸",
    "gas-leak": "燃气泄漏, 煤气味, 漏气, 燃气味",
    "street-light": "路灯, 灯不亮, 照明",
    "noise-nuisance": "噪音, 扰民, 吵, 广场舞",
    "garbage-collection": "垃圾, 清运, 臭味",
    "illegal-parking": "违停, 乱停, 堵车位, 占道停车",
    "elevator-fault": "电梯, 困人, 电梯故障",
    "wage-arrears": "拖欠工资, 欠薪, 讨薪",
}
AUTO_DISPATCH = {"pipe-burst", "gas-leak"}
