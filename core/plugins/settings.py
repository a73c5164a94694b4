"""A plugin's typed settings: declared once as a pydantic model, used everywhere.

A plugin subclasses :class:`PluginSettings` and declares each setting with :func:`setting`
(label and help in zh-CN and English, whether it is a secret, which input draws it). From that
one model come the console's form (:func:`form_fields`), the parsing of what the form posts
(:func:`from_form`), the validation shared by the console and the CLI (:func:`validate`, whose
errors read in Chinese and English), the defaults a running plugin sees (:func:`effective`),
and the generated settings reference.

Secrets (API keys, certificates) are fields too, marked ``secret=True``: they are validated
with the rest but stored encrypted apart from the settings, and are never shown again.
"""

from __future__ import annotations

import copy
import enum
import functools
import json
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from guahao.core.errors import ValidationFailed

WIDGETS = ("text", "textarea", "integer", "number", "bool", "tristate", "choice", "list", "json", "secret")
"""How the console draws a setting; ``tristate`` is an optional yes/no (empty: inherited)."""


class PluginSettings(BaseModel):
    """Base of every plugin settings model: unknown names are refused, text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def setting(
    default: Any = PydanticUndefined,
    *,
    label: str,
    label_en: str = "",
    help: str = "",
    help_en: str = "",
    secret: bool = False,
    widget: str | None = None,
    example: Any = None,
    key: str | None = None,
    **constraints: Any,
) -> Any:
    """Declare one setting of a :class:`PluginSettings` model.

    Parameters:
        default: the value when the city sets none; leave it out for a required setting.
        label: the field's name as an operator reads it, zh-CN.
        label_en: the same in English.
        help: a sentence under the field: what it is and where to find the value, zh-CN.
        help_en: the same in English.
        secret: stored encrypted, write-only (never shown back, never in the audit log).
        widget: how the console draws it (one of :data:`WIDGETS`); guessed from the type
            when ``None``.
        example: a value shown as the input's placeholder and in the reference.
        key: the name it is stored under when that cannot be a Python name (``from``).
        constraints: pydantic ``Field`` constraints (``ge``, ``le``, ``max_length``,
            ``pattern``, ``default_factory`` …).
    """
    if widget is not None and widget not in WIDGETS:
        raise ValueError(f"unknown widget {widget!r}")
    extra = {"label_en": label_en, "help_en": help_en, "secret": secret, "widget": widget, "example": example}
    if key is not None:
        constraints["alias"] = key
    return Field(default, title=label, description=help, json_schema_extra=extra, **constraints)


def endpoint_setting(default: str) -> Any:
    """The provider's API address, rarely changed (a test or private deployment points it
    elsewhere)."""
    return setting(default, label="接口地址", label_en="Endpoint", pattern=r"^https?://\S+$",
                   help="一般不用改。", help_en="Rarely changed.")


def timeout_setting(default: float, far_end: str, far_end_en: str, *, most: float = 60) -> Any:
    """Seconds to wait for the far end (``far_end``: who answers, e.g. 短信网关 / the gateway)."""
    return setting(default, label="超时（秒）", label_en="Timeout (seconds)", gt=0, le=most,
                   help=f"等待{far_end}应答的最长时间。", help_en=f"How long to wait for {far_end_en}.")


# --- describing the fields ----------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One setting as a form or a reference shows it.

    Parameters:
        name: the key it is stored under.
        label, label_en, help, help_en: from :func:`setting`.
        widget: one of :data:`WIDGETS`.
        required: the plugin cannot work without a value.
        secret: write-only.
        default: the value used when none is set (JSON-friendly; ``None`` for none).
        choices: the allowed values of a ``choice`` widget.
        type_name: the value's type, as the reference prints it.
        example: a sample value.
    """

    name: str
    label: str
    label_en: str
    help: str
    help_en: str
    widget: str
    required: bool
    secret: bool
    default: Any
    choices: tuple[str, ...]
    type_name: str
    example: Any

    def text(self, lang: str) -> tuple[str, str]:
        """``(label, help)`` in ``lang`` (English falls back to Chinese where none is given)."""
        if lang.startswith("en"):
            return self.label_en or self.label, self.help_en or self.help
        return self.label, self.help


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``(inner type, optional)`` of ``X | None``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _choices(annotation: Any) -> tuple[str, ...]:
    if typing.get_origin(annotation) is Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(str(m.value) for m in annotation)
    return ()


def _guess_widget(annotation: Any) -> str:
    if _choices(annotation):
        return "choice"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if annotation is str:
        return "text"
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset) and typing.get_args(annotation) in ((str,), (str, ...)):
        return "list"
    return "json"


def _type_name(annotation: Any) -> str:
    name = getattr(annotation, "__name__", None)
    return name if name and not typing.get_args(annotation) else str(annotation).replace("typing.", "")


def _default(info: FieldInfo) -> Any:
    if info.default is not PydanticUndefined:
        value = info.default
    elif info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    else:
        return None
    return value.value if isinstance(value, enum.Enum) else value


def form_fields(model: type[PluginSettings] | None) -> list[FieldSpec]:
    """The fields of a settings model, in declaration order."""
    if model is None:
        return []
    out = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        inner, optional = _unwrap(info.annotation)
        secret = bool(extra.get("secret"))
        guessed = "tristate" if optional and inner is bool else _guess_widget(inner)
        widget = "secret" if secret else (extra.get("widget") or guessed)
        out.append(FieldSpec(
            name=info.alias or name, label=info.title or name, label_en=str(extra.get("label_en") or ""),
            help=info.description or "", help_en=str(extra.get("help_en") or ""), widget=str(widget),
            required=info.is_required(), secret=secret, default=_default(info), choices=_choices(inner),
            type_name=_type_name(inner), example=extra.get("example"),
        ))
    return out


def secret_names(model: type[PluginSettings] | None) -> frozenset[str]:
    return frozenset(f.name for f in form_fields(model) if f.secret)


@functools.cache
def _defaults(model: type[PluginSettings] | None) -> tuple[tuple[str, Any], ...]:
    """A model's non-secret defaults, read once per model (plugin sets ask on every call)."""
    return tuple((f.name, f.default) for f in form_fields(model) if not f.secret and f.default is not None)


def effective(model: type[PluginSettings] | None, stored: Mapping[str, Any]) -> dict[str, Any]:
    """What a running plugin sees: the model's defaults, overlaid with the stored values."""
    values = {name: copy.deepcopy(default) for name, default in _defaults(model)}
    values.update(stored)
    return values


# --- validation ---------------------------------------------------------------------------

MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("必填。", "Required."),
    "extra_forbidden": ("没有这项设置。", "There is no such setting."),
    "int_parsing": ("请输入整数。", "Enter a whole number."),
    "int_from_float": ("请输入整数。", "Enter a whole number."),
    "int_type": ("请输入整数。", "Enter a whole number."),
    "float_parsing": ("请输入数字。", "Enter a number."),
    "float_type": ("请输入数字。", "Enter a number."),
    "bool_parsing": ("请选择是或否。", "Choose yes or no."),
    "bool_type": ("请选择是或否。", "Choose yes or no."),
    "string_type": ("请输入文字。", "Enter text."),
    "greater_than": ("应大于 {gt}。", "Must be more than {gt}."),
    "greater_than_equal": ("不能小于 {ge}。", "At least {ge}."),
    "less_than": ("应小于 {lt}。", "Must be less than {lt}."),
    "less_than_equal": ("不能大于 {le}。", "At most {le}."),
    "string_too_short": ("至少 {min_length} 个字符。", "At least {min_length} characters."),
    "string_too_long": ("最多 {max_length} 个字符。", "At most {max_length} characters."),
    "string_pattern_mismatch": ("格式不对。", "Not in the expected format."),
    "literal_error": ("请从以下选项中选择：{expected}。", "Choose one of: {expected}."),
    "enum": ("请从以下选项中选择：{expected}。", "Choose one of: {expected}."),
    "url_parsing": ("请输入以 https:// 开头的网址。", "Enter an address starting with https://."),
    "url_scheme": ("请输入以 https:// 开头的网址。", "Enter an address starting with https://."),
    "dict_type": ("应为键值对（JSON 对象）。", "Must be a JSON object of names and values."),
    "list_type": ("应为列表。", "Must be a list."),
    "json_invalid": ("不是有效的 JSON。", "Not valid JSON."),
    "value_error": ("{error}", "{error}"),
}


def _message(error: Mapping[str, Any]) -> tuple[str, str]:
    kind = str(error.get("type", ""))
    ctx = {k: v for k, v in (error.get("ctx") or {}).items()}
    zh, en = MESSAGES.get(kind, ("取值无效：{msg}", "Invalid value: {msg}"))
    ctx.setdefault("msg", error.get("msg", ""))
    if kind == "value_error":  # a model's own validator: its message is the sentence
        text = str(ctx.get("error") or error.get("msg", "")).removeprefix("Value error, ")
        return text, text
    try:
        return zh.format(**ctx), en.format(**ctx)
    except (KeyError, IndexError):
        return zh.split("{")[0] or "取值无效。", en.split("{")[0] or "Invalid value."


@dataclass(frozen=True)
class FieldError:
    """Why one setting was refused: a stable ``code`` and a sentence in each language."""

    code: str
    message: str
    message_en: str

    def text(self, lang: str) -> str:
        return self.message_en if lang.startswith("en") else self.message


class SettingsInvalid(ValidationFailed):
    """A plugin's settings were refused; ``errors`` maps each field to its :class:`FieldError`.

    Nothing was stored. ``message`` lists every problem in Chinese; ``details`` carries them
    per field for the API and the console.
    """

    def __init__(self, plugin: str, errors: dict[str, FieldError]):
        self.plugin = plugin
        self.errors = errors
        listed = "；".join(f"{name}：{e.message.rstrip('。')}" for name, e in errors.items())
        super().__init__(
            "invalid_plugin_settings",
            f"插件 {plugin} 的设置有误，未保存：{listed}。",
            details={name: {"code": e.code, "message": e.message, "message_en": e.message_en} for name, e in errors.items()},
        )

    def english(self) -> str:
        return f"settings of plugin {self.plugin} not saved: " + "; ".join(
            f"{name}: {e.message_en.rstrip('.')}" for name, e in self.errors.items())


def _errors(exc: ValidationError) -> dict[str, FieldError]:
    out: dict[str, FieldError] = {}
    for error in exc.errors():
        loc = error.get("loc") or ("__all__",)
        name = str(loc[0])
        if name not in out:
            zh, en = _message(error)
            out[name] = FieldError(str(error.get("type")), zh, en)
    return out


def _with_examples(model: type[PluginSettings], errors: dict[str, FieldError]) -> dict[str, FieldError]:
    """A value in the wrong format is told what a right one looks like (the field's example)."""
    examples = {f.name: f.example for f in form_fields(model) if isinstance(f.example, (str, int, float))}
    out = {}
    for name, e in errors.items():
        if e.code == "string_pattern_mismatch" and name in examples:
            e = FieldError(e.code, f"格式不对，例如 {examples[name]}。", f"Not in the expected format, e.g. {examples[name]}.")
        out[name] = e
    return out


def validate(
    plugin: str,
    model: type[PluginSettings] | None,
    settings: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    *,
    stored_secrets: Mapping[str, str] | None = None,
    enabled: bool = True,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a plugin's settings and new secrets against its model.

    ``settings`` holds the values to store (unset ones fall back to defaults); ``secrets`` the
    credentials typed now (empty values are ignored); ``stored_secrets`` those already stored,
    which count for required fields. A disabled plugin may be saved with required values still
    missing, but never with wrong ones. Returns ``(settings, secrets)`` as they should be
    stored — JSON values, secrets apart. Raises :class:`SettingsInvalid`, listing every field.
    """
    given_secrets = {k: v for k, v in (secrets or {}).items() if v not in (None, "")}
    if model is None:
        extra = {**{k: None for k in settings}, **{k: None for k in given_secrets}}
        if extra:
            raise SettingsInvalid(plugin, {k: FieldError("extra_forbidden", *MESSAGES["extra_forbidden"]) for k in extra})
        return {}, {}
    secret_fields = secret_names(model)
    errors: dict[str, FieldError] = {}
    for name in settings:
        if name in secret_fields:
            errors[name] = FieldError("secret_in_settings", "这是凭据，请作为密钥保存（不会再显示）。",
                                      "This is a credential: save it as a secret (never shown again).")
    for name in given_secrets:
        if name not in secret_fields:
            errors[name] = FieldError("not_a_secret", "没有这项凭据。", "There is no such credential.")
    values = {k: v for k, v in settings.items() if v is not None and k not in secret_fields}
    values.update({k: v for k, v in (stored_secrets or {}).items() if k in secret_fields})
    values.update({k: v for k, v in given_secrets.items() if k in secret_fields})
    try:
        parsed = model.model_validate(values)
    except ValidationError as exc:
        found = _with_examples(model, _errors(exc))
        if not enabled:
            found = {k: e for k, e in found.items() if e.code != "missing"}
        errors.update({k: e for k, e in found.items() if k not in errors})
        parsed = None
    if errors:
        raise SettingsInvalid(plugin, errors)
    if parsed is None:  # disabled with required values missing: store what was given
        return {k: v for k, v in values.items() if k not in secret_fields}, {
            k: str(v) for k, v in given_secrets.items() if k in secret_fields}
    dumped = parsed.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return ({k: v for k, v in dumped.items() if k not in secret_fields},
            {k: str(dumped[k]) for k in given_secrets if k in dumped})


# --- reading a posted form ----------------------------------------------------------------


def from_form(model: type[PluginSettings] | None, form: Mapping[str, str], prefix: str = "setting:") -> tuple[
        dict[str, Any], dict[str, FieldError]]:
    """Settings from a posted form (``setting:<name>`` inputs), each converted as its widget
    says; empty inputs are left unset. Returns ``(settings, errors)``; secrets are not read
    here (they are posted apart and never echoed)."""
    settings: dict[str, Any] = {}
    errors: dict[str, FieldError] = {}
    for field in form_fields(model):
        if field.secret:
            continue
        raw = form.get(prefix + field.name)
        if field.widget == "bool":
            settings[field.name] = raw in ("on", "true", "1", "yes")
            continue
        if raw is None or not raw.strip():
            continue
        if field.widget == "tristate":
            if raw.strip() not in ("true", "false"):
                errors[field.name] = FieldError("bool_parsing", *MESSAGES["bool_parsing"])
                continue
            settings[field.name] = raw.strip() == "true"
        elif field.widget == "list":
            settings[field.name] = [p.strip() for p in raw.replace("，", ",").replace("\n", ",").split(",") if p.strip()]
        elif field.widget == "json":
            try:
                settings[field.name] = json.loads(raw)
            except ValueError:
                errors[field.name] = FieldError("json_invalid", *MESSAGES["json_invalid"])
        else:
            settings[field.name] = raw.strip()
    return settings, errors


def as_form_value(field: FieldSpec, value: Any) -> str:
    """A stored value as its input shows it again."""
    if value is None:
        return ""
    if field.widget == "tristate":
        return "true" if value is True else "false" if value is False else ""
    if field.widget == "list" and isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if field.widget == "json":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)


def unknown(model: type[PluginSettings] | None, names: Collection[str]) -> list[str]:
    """Names among ``names`` that the model does not declare."""
    known = {f.name for f in form_fields(model)}
    return sorted(n for n in names if n not in known)
