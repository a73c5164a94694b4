"""The fixed facts of the demo city 示例市: districts, hospitals, departments, names.

Department codes are those of 《医疗机构诊疗科目名录》(卫医发〔1994〕第27号); the display name
is what a hospital's signboard says. Everything random about the demo (doctor names, titles,
rosters) is drawn from these lists with a fixed seed in :mod:`core.demo.seed`.
"""

from __future__ import annotations

from dataclasses import dataclass

CITY_SLUG = "demo"
CITY_NAME = "示例市"
TIMEZONE = "Asia/Shanghai"
DISTRICTS = [("01", "东城区"), ("02", "西城区"), ("03", "南山区")]
# The seed documents' rules: 14 days ahead at 07:30, at most 2 active bookings.
RULES = {"booking_window_days": 14, "release_time": "07:30", "max_active_bookings": 2}
# The demo city's plugins with their settings (checked against each plugin's declaration by
# the demo tests) and credentials (stored encrypted like any city's).
PLUGINS = {
    "pay_at_hospital": {},
    "demo_his": {},
    "message_log": {"public_log": True},  # the demo shows its message log at /c/demo/messages
    "web": {},  # the patient site at /c/demo/
    "ivr": {"simulator": True, "agent_number": "+861012320"},  # a phone in the browser at /c/demo/ivr/simulator
    # SMS booking, tried on a mobile phone in the browser at /c/demo/sms/simulator (the demo members' numbers)
    "sms_inbound": {"simulator": True, "simulator_phones": ["13800000001", "13800000002", "13800000003"]},
    # HL7 v2 over MLLP: the hospitals of HL7V2_HOSPITALS are answered by a practice HIS that the served
    # demo runs itself; the messages both ways are in the console's Hospital systems → HL7 message log
    "hl7v2": {"simulator": True},
}
HL7V2_HOSPITALS = ("SY04",)  # 市二院: its HIS speaks HL7 v2 (the others use the in-process demo HIS)
PLUGIN_SECRETS = {"demo_his": {"token": "demo-his-token"}, "ivr": {"auth_token": "demo-ivr-auth-token-0123456789"},
                  "sms_inbound": {"generic_secret": "demo-sms-uplink-secret-0123456789"}}
# Online payment in the served demo (core.demo.practice): these hospitals take the fee online,
# each on a merchant account of its own at the plugin's practice gateway, which the demo serves
# itself with keys made when it starts. The others keep paying at the hospital.
PRACTICE_PAYMENTS = {"wechatpay": ("SY06", "SY09"), "alipay": ("SY07", "SY10")}
# The demo's self-service terminal (kiosk identification works only on a registered one):
# opening /c/demo/kiosk/?terminal=demo-k1 once makes a browser that terminal of the first hospital.
KIOSK_TERMINAL = "demo-k1"
KIOSK_HOSPITAL = "SY01"
KIOSK_NAME = "门诊大厅 1 号机"


@dataclass(frozen=True)
class DemoMember:
    name: str
    id_first17: str  # area code + birth date + sequence; the check digit is computed
    phone: str
    password: str


MEMBERS = [
    DemoMember("张伟", "11010119850412001", "13800000001", "Demo-Pass-1234"),
    DemoMember("李娜", "11010219921103002", "13800000002", "Demo-Pass-1234"),
    DemoMember("王芳", "11010519600721004", "13800000003", "Demo-Pass-1234"),
]

# code → (signboard name, short description)
DEPARTMENTS: dict[str, tuple[str, str]] = {
    "02": ("全科医疗科", "常见病、多发病的首诊与慢病管理，双向转诊。"),
    "03": ("内科", "内科常见病、多发病的诊治。"),
    "03.01": ("呼吸内科", "慢性咳嗽、哮喘、慢阻肺、肺部感染等。"),
    "03.02": ("消化内科", "胃炎、消化性溃疡、肝病、炎症性肠病等。"),
    "03.03": ("神经内科", "头痛、眩晕、脑血管病、癫痫、帕金森病等。"),
    "03.04": ("心血管内科", "高血压、冠心病、心律失常、心力衰竭等。"),
    "03.06": ("肾内科", "慢性肾病、肾炎、透析前管理等。"),
    "03.07": ("内分泌科", "糖尿病、甲状腺疾病、骨质疏松等。"),
    "04": ("外科", "外科常见病的诊治与术前评估。"),
    "04.01": ("普通外科", "甲状腺、乳腺、疝、胆囊及胃肠外科。"),
    "04.02": ("神经外科", "颅脑外伤、脑肿瘤、脊髓疾病。"),
    "04.03": ("骨科", "骨折、关节病、脊柱疾病、运动损伤。"),
    "04.04": ("泌尿外科", "泌尿系结石、前列腺疾病、泌尿系肿瘤。"),
    "04.05": ("胸外科", "肺部结节、食管与纵隔疾病。"),
    "05": ("妇产科", "妇科疾病与孕产期保健。"),
    "05.01": ("妇科", "月经失调、妇科炎症、子宫肌瘤等。"),
    "05.02": ("产科", "产前检查、高危妊娠管理。"),
    "06": ("妇女保健科", "孕前保健、更年期保健、妇女病筛查。"),
    "07": ("儿科", "儿童常见病、多发病。"),
    "07.01": ("新生儿科", "新生儿黄疸、早产儿随访。"),
    "07.03": ("小儿消化科", "小儿腹泻、便秘、营养不良。"),
    "07.04": ("小儿呼吸科", "小儿肺炎、哮喘、慢性咳嗽。"),
    "07.05": ("小儿心脏科", "先天性心脏病、心肌炎随访。"),
    "07.06": ("小儿肾脏科", "小儿肾炎、肾病综合征。"),
    "07.08": ("小儿神经科", "热性惊厥、癫痫、发育迟缓。"),
    "08": ("小儿外科", "小儿疝气、包皮、先天畸形。"),
    "09": ("儿童保健科", "生长发育评估、营养与心理行为指导。"),
    "10": ("眼科", "近视、白内障、青光眼、眼底病。"),
    "11": ("耳鼻咽喉科", "鼻炎、鼻窦炎、中耳炎、咽喉疾病。"),
    "12": ("口腔科", "龋病、牙周病、拔牙与修复。"),
    "12.01": ("牙体牙髓科", "龋齿充填、根管治疗。"),
    "12.02": ("牙周科", "牙龈出血、牙周炎系统治疗。"),
    "12.04": ("儿童口腔科", "儿童龋病防治、窝沟封闭。"),
    "12.05": ("口腔颌面外科", "阻生齿拔除、颌面部肿物。"),
    "12.06": ("口腔修复科", "烤瓷冠、活动义齿、种植修复。"),
    "12.07": ("口腔正畸科", "牙列不齐、错颌畸形矫治。"),
    "12.08": ("口腔种植科", "牙列缺损与缺失的种植治疗。"),
    "13": ("皮肤科", "湿疹、痤疮、银屑病、荨麻疹等。"),
    "13.01": ("皮肤病科", "过敏性皮肤病、感染性皮肤病。"),
    "13.02": ("性病科", "性传播疾病的诊治与随访。"),
    "14": ("医疗美容科", "瘢痕、色素性疾病的激光治疗。"),
    "19": ("肿瘤科", "肿瘤化疗、靶向与免疫治疗。"),
    "21": ("康复医学科", "脑卒中后康复、骨关节术后康复。"),
    "50": ("中医科", "中医内科常见病、体质调理。"),
    "50.01": ("中医内科", "失眠、脾胃病、咳嗽的中医诊治。"),
    "50.02": ("中医外科", "疮疡、乳腺病、周围血管病。"),
    "50.03": ("中医妇科", "月经病、不孕症、更年期综合征。"),
    "50.04": ("中医儿科", "小儿厌食、反复呼吸道感染。"),
    "50.05": ("中医皮肤科", "湿疹、痤疮的中医治疗。"),
    "50.06": ("中医眼科", "干眼症、视疲劳的中医治疗。"),
    "50.10": ("中医骨伤科", "颈肩腰腿痛、骨折的中医治疗。"),
    "50.11": ("肛肠科", "痔、肛瘘、肛裂。"),
    "50.13": ("针灸科", "面瘫、中风后遗症、颈腰椎病针灸治疗。"),
    "50.14": ("推拿科", "颈椎病、腰肌劳损、小儿推拿。"),
}

# Departments whose name alone does not suggest what a doctor is good at.
SPECIALTIES: dict[str, list[str]] = {
    "02": ["高血压、糖尿病慢病管理", "老年人健康管理", "家庭医生签约服务"],
    "03": ["高血压", "糖尿病", "慢性胃炎"],
    "03.01": ["支气管哮喘", "慢性阻塞性肺疾病", "肺结节随访", "睡眠呼吸暂停"],
    "03.02": ["胃食管反流病", "幽门螺杆菌感染", "脂肪肝", "消化内镜诊疗"],
    "03.03": ["脑血管病", "头痛与眩晕", "帕金森病", "癫痫"],
    "03.04": ["高血压", "冠心病介入治疗", "心律失常", "心力衰竭"],
    "03.06": ["慢性肾脏病", "IgA 肾病", "血液透析管理"],
    "03.07": ["糖尿病", "甲状腺结节", "骨质疏松", "肥胖症"],
    "04": ["外科常见病", "体表肿物", "创伤处理"],
    "04.01": ["甲状腺外科", "乳腺疾病", "胆囊结石", "疝修补"],
    "04.02": ["脑肿瘤", "脑血管病外科治疗", "颅脑外伤"],
    "04.03": ["关节置换", "脊柱外科", "运动医学", "创伤骨科"],
    "04.04": ["泌尿系结石", "前列腺增生", "泌尿系肿瘤"],
    "04.05": ["肺结节微创手术", "食管疾病", "纵隔肿瘤"],
    "05": ["妇科炎症", "产前检查"],
    "05.01": ["子宫肌瘤", "宫颈疾病", "月经失调", "妇科内镜"],
    "05.02": ["高危妊娠", "妊娠期糖尿病", "产前筛查"],
    "06": ["孕前保健", "更年期保健", "两癌筛查"],
    "07": ["小儿呼吸道感染", "小儿腹泻", "儿童过敏性疾病"],
    "07.01": ["新生儿黄疸", "早产儿随访"],
    "07.03": ["小儿腹泻", "小儿便秘", "儿童营养"],
    "07.04": ["小儿哮喘", "小儿肺炎", "慢性咳嗽"],
    "07.05": ["先天性心脏病", "川崎病随访"],
    "07.06": ["肾病综合征", "小儿遗尿"],
    "07.08": ["热性惊厥", "儿童癫痫", "抽动障碍"],
    "08": ["小儿疝气", "小儿泌尿外科", "先天畸形"],
    "09": ["生长发育评估", "儿童营养", "儿童心理行为"],
    "10": ["白内障", "青光眼", "眼底病", "屈光不正与近视防控", "斜弱视"],
    "11": ["慢性鼻窦炎", "过敏性鼻炎", "中耳炎", "嗓音疾病"],
    "12": ["龋病", "牙周病", "拔牙"],
    "12.01": ["根管治疗", "显微根管"],
    "12.02": ["牙周炎", "牙周手术"],
    "12.04": ["儿童龋病", "窝沟封闭", "早期矫治"],
    "12.05": ["阻生智齿拔除", "颌面部肿物", "颞下颌关节病"],
    "12.06": ["固定义齿", "全口义齿", "美学修复"],
    "12.07": ["隐形矫治", "青少年正畸", "成人正畸"],
    "12.08": ["种植牙", "骨增量手术"],
    "13": ["湿疹", "痤疮", "银屑病", "荨麻疹"],
    "13.01": ["特应性皮炎", "白癜风", "真菌感染"],
    "13.02": ["性传播疾病", "尖锐湿疣"],
    "14": ["激光美容", "瘢痕治疗"],
    "19": ["肺癌综合治疗", "消化道肿瘤", "乳腺癌"],
    "21": ["脑卒中康复", "骨关节术后康复", "颈腰椎病康复"],
    "50": ["体质调理", "脾胃病", "失眠"],
    "50.01": ["失眠", "脾胃病", "慢性咳嗽"],
    "50.02": ["乳腺增生", "疮疡"],
    "50.03": ["月经不调", "不孕症", "更年期综合征"],
    "50.04": ["小儿厌食", "反复呼吸道感染"],
    "50.05": ["湿疹", "痤疮"],
    "50.06": ["干眼症", "视疲劳"],
    "50.10": ["颈椎病", "腰椎间盘突出症", "骨折保守治疗"],
    "50.11": ["痔", "肛瘘"],
    "50.13": ["面瘫", "中风后遗症", "针灸减重"],
    "50.14": ["颈椎病", "小儿推拿"],
}


@dataclass(frozen=True)
class HospitalSpec:
    """One demo hospital; ``doctors`` is the range of doctors per department."""

    code: str
    name: str
    short_name: str
    kind: str  # general | specialty | community
    level: int
    grade: str
    district: str  # district code
    address: str
    phone: str
    departments: tuple[str, ...]
    doctors: tuple[int, int]
    fees: dict[str, int]  # registration type code → fee in fen
    campuses: tuple[tuple[str, str], ...] = ()  # (name, address); default: 本部 at ``address``
    evening: bool = False  # 夜间门诊
    description: str = ""


_TOP = {"expert": 5000, "specialist": 2500, "general": 1000}
_SECOND = {"expert": 3000, "specialist": 2000, "general": 800}
_COMMUNITY = {"specialist": 1500, "general": 500}

HOSPITALS = [
    HospitalSpec(
        "SY01", "示例市第一人民医院", "市一院", "general", 3, "甲", "01", "东城区和平路 1 号", "010-12320001",
        ("03.01", "03.02", "03.03", "03.04", "03.06", "03.07", "04.01", "04.03", "04.04", "05.01", "05.02",
         "07", "10", "11", "12", "13", "19", "21"),
        (3, 5), _TOP, campuses=(("本部", "东城区和平路 1 号"), ("南院区", "南山区滨河大道 210 号")), evening=True,
        description="始建于 1952 年的三级甲等综合医院，设本部和南院区两个院区。",
    ),
    HospitalSpec(
        "SY02", "示例市中心医院", "中心医院", "general", 3, "甲", "02", "西城区人民大街 88 号", "010-12320002",
        ("03.01", "03.02", "03.03", "03.04", "03.07", "04.01", "04.03", "05", "07", "10", "11", "13"),
        (3, 5), _TOP, evening=True,
        description="区域医疗中心，心血管、神经专科实力较强。",
    ),
    HospitalSpec(
        "SY03", "示例医科大学附属医院", "医大附院", "general", 3, "甲", "03", "南山区学府路 9 号", "010-12320003",
        ("03.01", "03.02", "03.03", "03.04", "03.06", "04.01", "04.02", "04.03", "04.05", "05.01", "07", "10",
         "12", "13", "19"),
        (3, 5), _TOP, campuses=(("本部", "南山区学府路 9 号"), ("东院区", "东城区朝阳门外大街 66 号")),
        description="集医疗、教学、科研于一体的大学附属医院。",
    ),
    HospitalSpec(
        "SY04", "示例市第二人民医院", "市二院", "general", 2, "甲", "02", "西城区新华街 12 号", "010-12320004",
        ("03", "04", "05", "07", "10", "11", "12", "13", "50"),
        (2, 4), _SECOND,
        description="二级甲等综合医院，服务西城区居民的常见病诊疗。",
    ),
    HospitalSpec(
        "SY05", "示例市儿童医院", "儿童医院", "specialty", 3, "甲", "01", "东城区育英路 5 号", "010-12320005",
        ("07.01", "07.03", "07.04", "07.05", "07.06", "07.08", "08", "09"),
        (3, 5), _TOP, evening=True,
        description="全市儿童疑难重症诊疗中心，开设夜间门诊。",
    ),
    HospitalSpec(
        "SY06", "示例市眼科医院", "眼科医院", "specialty", 3, "甲", "02", "西城区光明路 20 号", "010-12320006",
        ("10", "50.06"), (3, 16), _TOP,
        description="眼科专科医院：白内障、青光眼、眼底病、近视防控。",
    ),
    HospitalSpec(
        "SY07", "示例市口腔医院", "口腔医院", "specialty", 3, "甲", "03", "南山区健康路 7 号", "010-12320007",
        ("12.01", "12.02", "12.04", "12.05", "12.06", "12.07", "12.08"), (2, 4), _TOP,
        description="口腔专科医院，设牙体牙髓、正畸、种植等专业。",
    ),
    HospitalSpec(
        "SY08", "示例市中医医院", "市中医院", "specialty", 3, "甲", "01", "东城区杏林路 3 号", "010-12320008",
        ("50.01", "50.02", "50.03", "50.04", "50.05", "50.10", "50.11", "50.13", "50.14"), (2, 4), _TOP,
        description="三级甲等中医医院，针灸、骨伤为特色专科。",
    ),
    HospitalSpec(
        "SY09", "示例市妇产医院", "妇产医院", "specialty", 3, "甲", "03", "南山区安康路 16 号", "010-12320009",
        ("05.01", "05.02", "06", "07.01"), (3, 5), _TOP,
        description="妇产专科医院，高危妊娠管理与产前诊断中心。",
    ),
    HospitalSpec(
        "SY10", "示例市皮肤病医院", "皮肤病医院", "specialty", 2, "甲", "02", "西城区和顺街 30 号", "010-12320010",
        ("13.01", "13.02", "14", "50.05"), (2, 4), _SECOND,
        description="皮肤病专科医院。",
    ),
    HospitalSpec(
        "SQ01", "东城区和平社区卫生服务中心", "和平社区", "community", 1, "甲", "01", "东城区和平里 40 号",
        "010-12320011", ("02", "50", "12"), (2, 3), _COMMUNITY,
        description="社区首诊、慢病管理和双向转诊。",
    ),
    HospitalSpec(
        "SQ02", "西城区新华社区卫生服务中心", "新华社区", "community", 1, "甲", "02", "西城区新华里 2 号",
        "010-12320012", ("02", "50", "21"), (2, 3), _COMMUNITY,
        description="社区首诊、康复和家庭医生签约服务。",
    ),
    HospitalSpec(
        "SQ03", "南山区桃源社区卫生服务中心", "桃源社区", "community", 1, "甲", "03", "南山区桃源路 66 号",
        "010-12320013", ("02", "50", "12"), (2, 3), _COMMUNITY,
        description="社区首诊、慢病管理和双向转诊。",
    ),
]

REGISTRATION_TYPE_NAMES = {"expert": "专家门诊", "specialist": "专科门诊", "general": "普通门诊"}

# The most common Chinese surnames, then characters often found in given names.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文玉兰志红晓东海燕鹏辉宁凤春雪梅亮林云峰"
    "鑫婷慧颖琳晨宇浩然子涵欣怡思远嘉瑞博文雅琪晶莉楠蕾阳琦瑶斌彬凯毅昊天佳立新永安德庆福泽"
)

TITLES = [("chief", 0.15), ("associate_chief", 0.25), ("attending", 0.40), ("resident", 0.20)]
TITLE_NAMES = {"chief": "主任医师", "associate_chief": "副主任医师", "attending": "主治医师", "resident": "住院医师"}
# Half-days a week a doctor of each title sees outpatients, and the registration type.
WEEKLY_SESSIONS = {"chief": 2, "associate_chief": 3, "attending": 4, "resident": 5}
TITLE_TYPE = {"chief": "expert", "associate_chief": "expert", "attending": "specialist", "resident": "general"}

# --- History (core.demo.history): what patients and hospitals wrote over the past months ---

# Region codes of the ID numbers of generated members: mostly the city's own districts, some
# from elsewhere (people who moved to the city).
LOCAL_REGIONS = ("110101", "110102", "110105", "110106", "110108", "110111")
OTHER_REGIONS = ("130102", "370102", "410105", "320102", "510104", "420102", "230102", "340102")
PHONE_PREFIXES = ("135", "136", "137", "139", "150", "151", "152", "158", "159", "177", "186", "187", "188", "199")

# Reasons patients give when they cancel through an app or WeChat (the web site records the code
# ``member``, the call centre ``phone_cancel``).
CANCEL_REASONS = (
    "临时有事，无法前往", "病情好转，暂不需要就诊", "已在其他医院就诊", "时间冲突，改天再约", "挂错科室",
    "行程变更", "家人代为就诊，重新预约", "工作安排调整",
)
# Why a hospital suspended (停诊) a session; the console records them as the scheduler typed them.
SUSPENSION_REASONS = ("医生外出会诊", "医生参加学术会议", "医生临时公务安排", "医生身体不适", "科室临时调整出诊安排")

SURVEY_COMMENTS = {
    "good": ("医生很耐心，讲解得很清楚。", "预约很方便，按时段到院基本不用等。", "护士指引清楚，流程顺畅。",
             "医生专业，态度好。", "网上预约省了很多排队时间。"),
    "fair": ("候诊时间有点长。", "医生比较忙，问诊时间短。", "取号的自助机有点少。", "院区停车不太方便。"),
    "poor": ("预约了时段还是等了一个多小时。", "医生态度比较生硬。", "现场指引不清楚，找诊室花了很久。"),
}

# category → (complaint texts, reply texts); ``{h}`` is the hospital's short name.
COMPLAINTS = {
    "waiting": (
        ("预约的是上午9点的号，到院取号后等了一个半小时才就诊。", "按预约时段到达，候诊区人很多，叫号很慢。",
         "复诊患者和初诊患者排在一起，等候时间过长。"),
        ("您好，经核实当日该科室门诊量较大，医生诊治时间延长导致候诊时间较长。{h}已调整叫号规则并增加分诊护士，给您带来不便深表歉意。",
         "感谢您的反馈。{h}已要求门诊部按预约时段分段候诊，并在候诊区显示预计等候时间。"),
    ),
    "service": (
        ("挂号窗口工作人员态度不好，询问问题不耐烦。", "分诊台护士说话很冲，没有解释清楚流程。",
         "电话咨询时一直无人接听。"),
        ("您好，{h}已对相关工作人员进行批评教育并加强服务培训，感谢您的监督。",
         "经核实情况属实，{h}已约谈当事人并纳入科室考核，欢迎您继续监督。"),
    ),
    "medical": (
        ("医生问诊时间很短，没有仔细检查就开了药。", "复诊时医生没有看之前的检查结果。"),
        ("您好，{h}医务部已调阅病历并与接诊医生沟通，如您仍有疑问，可携带病历到医务部当面沟通。",
         "感谢反馈，{h}已组织科室复核诊疗过程，并安排专家为您复诊。"),
    ),
    "fees": (
        ("挂号费和预约时显示的金额不一致。", "退号后挂号费迟迟没有退回。"),
        ("您好，经核实是收费窗口误操作，差额已原路退回，请注意查收。", "{h}财务科已核实并处理退费，预计3个工作日内到账。"),
    ),
    "environment": (
        ("候诊区座位太少，很多人站着等。", "卫生间卫生状况较差。", "院区停车位太少，排队进停车场等了半小时。"),
        ("感谢您的建议，{h}已增加候诊区座椅并加强保洁巡查频次。", "{h}已协调周边停车资源，并在官网公布停车指引。"),
    ),
    "booking": (
        ("早上7点半放号，一分钟就约满了，根本约不上专家号。", "预约成功后没有收到短信通知。",
         "同一个医生的号在不同渠道显示的余号不一样。"),
        ("您好，专家号源有限，平台按放号时间先到先得；{h}已增加该专家的出诊单元，建议您也可关注候补功能。",
         "经核实短信已发送，可能被手机拦截，请在“我的预约”中查看预约详情。"),
    ),
    "other": (
        ("希望能增加夜间门诊。", "医院的指示牌不清楚，找不到检验科。"),
        ("感谢您的建议，{h}将综合评估后予以考虑。", "{h}已更新院内导视标识，感谢您的反馈。"),
    ),
}
