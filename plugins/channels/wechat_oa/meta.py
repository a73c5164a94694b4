"""The declaration of the WeChat official account channel (微信公众号): metadata and settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from guahao.plugin_api import PluginMeta, PluginSettings, endpoint_setting, setting, timeout_setting

MENU_KEYS = ("BOOK", "MY_BOOKINGS", "CANCEL", "GUIDE")
"""What a ``click`` button of the menu may ask for (its ``key``): book, my bookings, how to
cancel, the guide."""

DEFAULT_MENU = [
    {"type": "view", "name": "预约挂号", "url": "{site}"},
    {"name": "我的预约", "sub_button": [
        {"type": "click", "name": "我的预约", "key": "MY_BOOKINGS"},
        {"type": "click", "name": "取消预约", "key": "CANCEL"},
    ]},
    {"type": "click", "name": "就医指南", "key": "GUIDE"},
]

DEFAULT_WELCOME = ("感谢关注{city}预约挂号平台！回复“预约”预约挂号，“我的预约”查看您的预约，“取消”了解如何取消，"
                   "“帮助”查看就医指南；也可以点下方菜单。")
DEFAULT_GUIDE = ("就医指南：1. 在平台网站实名注册并登录（只需一次，之后本微信即可收到预约通知）；"
                 "2. 选择医院、科室、医生和时段预约；3. 就诊当天带上身份证，按预约时段提前到院取号；"
                 "4. 不能就诊请提前取消，爽约会影响信用。")


def _check_button(button, top: bool) -> None:
    if not isinstance(button, dict) or not str(button.get("name") or "").strip():
        raise ValueError("每个按钮都要有 name / every button needs a name")
    limit = 16 if top else 60  # bytes, as WeChat counts them
    if len(str(button["name"]).encode()) > limit:
        raise ValueError(f"按钮名称“{button['name']}”过长 / button name too long")
    subs = button.get("sub_button")
    if subs is not None:
        if not top or not isinstance(subs, list) or not 1 <= len(subs) <= 5:
            raise ValueError("一级菜单最多 5 个子按钮，子按钮不能再有子按钮 / at most 5 sub-buttons, one level deep")
        for sub in subs:
            _check_button(sub, top=False)
        return
    kind = button.get("type")
    if kind == "click":
        if button.get("key") not in MENU_KEYS:
            raise ValueError(f"click 按钮的 key 须为 {', '.join(MENU_KEYS)} 之一 / key must be one of {', '.join(MENU_KEYS)}")
    elif kind == "view":
        url = str(button.get("url") or "")
        if not (url.startswith("{site}") or url.startswith("https://") or url.startswith("http://")):
            raise ValueError("view 按钮的 url 须以 {site} 或 http(s):// 开头 / a view url starts with {site} or http(s)://")
    else:
        raise ValueError("按钮 type 须为 click 或 view / a button's type is click or view")


class Settings(PluginSettings):
    app_id: str = setting(label="公众号 AppID", label_en="Official Account AppID", pattern=r"^wx[0-9a-f]{16}$",
                          example="wx0123456789abcdef", help="公众号后台“设置与开发 → 基本配置”中的开发者 ID。",
                          help_en="The developer ID under Settings & Development → Basic configuration.")
    site_url: str = setting(
        "", label="患者网站地址", label_en="Patient site address", pattern=r"^(https?://\S+)?$",
        example="https://guahao.example.cn/c/sz/",
        help="回复和菜单中的预约链接；留空时用微信访问本平台的地址加 /c/城市代码/。须在公众号“网页授权域名”之下。",
        help_en="Where booking links point; empty: this platform's address as WeChat reached it, plus /c/<city>/. "
                "Must be under the account's OAuth domain.")
    oauth: bool = setting(True, label="微信内网页授权", label_en="WeChat sign-in inside WeChat",
                          help="在微信中打开患者网站时，先经微信网页授权（snsapi_base，静默）取得 openid，登录后绑定到会员。",
                          help_en="A patient site opened inside WeChat first goes through WeChat's silent OAuth "
                                  "(snsapi_base) for the openid, which is bound to the member after log-in.")
    menu: list[dict] = setting(
        default_factory=lambda: [dict(b) for b in DEFAULT_MENU], label="自定义菜单", label_en="Menu", widget="json",
        help="微信 menu/create 格式的 button 列表（最多 3 个一级菜单，每个最多 5 个子菜单）；click 按钮的 key 为 "
             "BOOK、MY_BOOKINGS、CANCEL、GUIDE 之一，view 按钮的 url 中 {site} 换成患者网站地址。"
             "改后运行 guahao wechat menu push 城市代码。",
        help_en="The button list of WeChat's menu/create (at most 3 top-level buttons of at most 5 sub-buttons); a "
                "click button's key is BOOK, MY_BOOKINGS, CANCEL or GUIDE; {site} in a view url becomes the patient "
                "site's address. Push it with `guahao wechat menu push <city>`.")
    welcome: str = setting(DEFAULT_WELCOME, label="关注欢迎语", label_en="Welcome text", widget="textarea",
                           max_length=600, help="用户关注时的回复；{city} 换成城市名。",
                           help_en="The answer to a new follower; {city} becomes the city's name.")
    guide: str = setting(DEFAULT_GUIDE, label="就医指南", label_en="Visit guide", widget="textarea", max_length=600,
                         help="回复“帮助”“就医指南”和菜单“就医指南”的内容。",
                         help_en="The answer to 帮助, 就医指南 and the menu's guide button.")
    keywords: dict[str, str] = setting(
        default_factory=dict, label="关键词回复", label_en="Keyword replies", example={"停诊": "停诊信息请查看平台首页公告。"},
        help="本市自定义的关键词 → 回复内容，优先于内置关键词（预约、挂号、我的预约、取消、帮助、就医指南）；"
             "消息包含关键词即回复，{site} 换成患者网站地址。",
        help_en="The city's own keyword → reply, before the built-in ones (预约, 挂号, 我的预约, 取消, 帮助, 就医指南); "
                "a message containing the keyword gets the reply; {site} becomes the patient site's address.")
    tolerance_seconds: int = setting(
        300, label="消息时间窗（秒）", label_en="Message time window (seconds)", ge=30, le=900,
        help="微信推送的 timestamp 与本机时间相差超过此值即拒绝（防重放）。",
        help_en="A push whose timestamp is further from now than this is refused (replay protection).")
    endpoint: str = endpoint_setting("https://api.weixin.qq.com")
    oauth_endpoint: str = setting("https://open.weixin.qq.com", label="网页授权地址", label_en="OAuth address",
                                  pattern=r"^https?://\S+$", help="一般不用改。", help_en="Rarely changed.")
    timeout: float = timeout_setting(4.0, "微信接口", "WeChat", most=30)
    token: str = setting(secret=True, label="令牌 Token", label_en="Token", pattern=r"^[A-Za-z0-9]{3,32}$",
                         help="与公众号后台“服务器配置”中填写的 Token 相同（3–32 位字母数字）。",
                         help_en="The Token entered in the account's server configuration (3–32 letters or digits).")
    app_secret: str = setting(secret=True, label="AppSecret", label_en="AppSecret", min_length=16,
                              help="公众号的开发者密码。", help_en="The Official Account's developer secret.")
    encoding_aes_key: str = setting(
        "", secret=True, label="消息加解密密钥 EncodingAESKey", label_en="EncodingAESKey",
        pattern=r"^([A-Za-z0-9]{43})?$",
        help="“服务器配置”中的 43 位 EncodingAESKey；安全模式和兼容模式必填，明文模式可留空。",
        help_en="The 43-character EncodingAESKey of the server configuration; needed for safe and compatible mode.")

    @field_validator("menu")
    @classmethod
    def _menu(cls, value: list[dict]) -> list[dict]:
        if not 1 <= len(value) <= 3:
            raise ValueError("菜单须有 1 到 3 个一级按钮 / a menu has 1 to 3 top-level buttons")
        for button in value:
            _check_button(button, top=True)
        return value


META = PluginMeta(
    name="wechat_oa", verbose_name="微信公众号", verbose_name_en="WeChat Official Account", category="channel",
    version="1.0.0",
    description="公众号的服务器地址：菜单、关键词回复、关注欢迎语；在微信中打开患者网站时网页授权，登录后绑定 openid，"
                "预约通知改由模板消息送达。",
    description_en="The Official Account's server: menu, keyword replies, welcome text; the patient site opened in "
                   "WeChat signs in through WeChat OAuth and binds the openid after log-in, so notices arrive as "
                   "template messages.",
    settings=Settings, migrations=Path(__file__).parent / "migrations", author="guahao",
)
