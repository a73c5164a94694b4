"""Names typed on a phone keypad: the 拼音 initials of hospital names (``第一人民医院`` →
``DYRMYY``) and the keys that spell them (2=ABC … 9=WXYZ, ``DYRMYY`` → ``397699``).

The initials come from a small table of the characters hospital names are made of; a city
names the initials of other hospitals in the plugin's ``initials`` setting (code → letters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

KEYS = {"2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL", "6": "MNO", "7": "PQRS", "8": "TUV", "9": "WXYZ"}
LETTER_KEY = {letter: key for key, letters in KEYS.items() for letter in letters}

# The first letter of the 拼音 of characters common in hospital and place names.
_TABLE = {
    "A": "安爱鞍",
    "B": "北八保病部白滨宝本百包蚌亳",
    "C": "城产传长川春朝昌成崇常承楚滁",
    "D": "第大东德都丹道岛电德达",
    "E": "二儿鄂",
    "F": "附妇肤服福佛复奉丰防方阜抚",
    "G": "广骨贵光港高国工公冠桂赣",
    "H": "华和湖河海合杭哈红护黄花汉衡惠淮鹤邯呼",
    "J": "九济精江京吉金军交建疾健急检嘉锦晋荆景佳焦",
    "K": "科口康克昆开",
    "L": "例六瘤辽兰临龙洛丽连柳林老泸隆联廊聊乐",
    "M": "民明眉茂绵梅牡马",
    "N": "南宁内诺农女脑",
    "P": "平皮盘萍莆浦坪",
    "Q": "区七腔青庆泉秦齐黔清桥衢",
    "R": "人仁瑞日荣",
    "S": "示市社生山三四属省十沈深苏石汕绍神上肾首顺寿松宿",
    "T": "桃童同天台泰太唐通铁糖",
    "W": "卫五务武温潍芜梧皖外望文威",
    "X": "心西新协湘胸血厦徐襄孝仙咸香兴小县学信",
    "Y": "一医院源眼雅阳宜扬烟盐玉榆岳营益义永育友药延",
    "Z": "中肿专珠郑株漳肇遵镇淄枣自州震卓诊",
}
INITIAL = {char: letter for letter, chars in _TABLE.items() for char in chars}


def initials(name: str) -> str:
    """The 拼音 initials of ``name`` (letters and digits kept, characters outside the table left out)."""
    out = []
    for char in name or "":
        if char.isascii() and char.isalnum():
            out.append(char.upper())
        elif char in INITIAL:
            out.append(INITIAL[char])
    return "".join(out)


def keys_of(letters: str) -> str:
    """The keys that spell ``letters`` (digits stand for themselves)."""
    return "".join(LETTER_KEY.get(c, c if c.isdigit() else "") for c in letters.upper())


def spellings(name: str, short_name: str = "", extra: Iterable[str] = ()) -> list[str]:
    """Every key sequence a caller may type for a hospital: its name's and short name's
    initials, and the initials a city configured."""
    found = [keys_of(initials(n)) for n in (name, short_name) if n]
    found += [keys_of(e) for e in extra if e]
    return [k for k in found if k]


def matching(typed: str, candidates: Iterable[tuple[object, list[str]]]) -> list:
    """The candidates ``typed`` spells best: those with a spelling equal to it, else those with
    one starting with it, else those with one containing it."""
    tiers: tuple[list, list, list] = ([], [], [])
    for item, keys in candidates:
        if typed in keys:
            tiers[0].append(item)
        elif any(k.startswith(typed) for k in keys):
            tiers[1].append(item)
        elif any(typed in k for k in keys):
            tiers[2].append(item)
    return next((tier for tier in tiers if tier), [])


def configured(initials_setting: Mapping[str, str] | None, code: str) -> list[str]:
    """The initials a city configured for the hospital ``code`` (``"DYRMYY"`` or ``"DYRMYY,SYY"``)."""
    value = (initials_setting or {}).get(code, "")
    return [v.strip() for v in str(value).split(",") if v.strip()]
