"""A city administrator's pages: staff accounts, rules, branding, districts, plugins, SSO
settings and the audit log; the vendor's city list and cross-city audit search."""

from __future__ import annotations

import json

from sqlalchemy import select

from guahao.core.models import AuditEntry, CityPlugin, District
from guahao.core.models.staff import StaffAccount
from guahao.tenants.context import use_city
from guahao.tenants.models import City
from guahao.tenants.service import configure_plugin

from .conftest import add_vendor


async def _entries(rt, city, action: str | None = None) -> list[AuditEntry]:
    with use_city(city):
        async with rt.db.transaction() as s:
            q = select(AuditEntry).order_by(AuditEntry.id)
            if action:
                q = q.where(AuditEntry.action == action)
            return list((await s.scalars(q)).all())


async def test_create_edit_and_reset_staff_with_audit(rt, city, browser, admin):
    await browser.login(admin)
    form = await browser.get(f"/console/c/{city.slug}/staff/new")
    assert form.status_code == 200 and 'id="f-role"' in form.text
    with use_city(city):
        async with rt.db.transaction() as s:
            district = await s.scalar(select(District).order_by(District.code))
    r = await browser.post(f"/console/c/{city.slug}/staff/new", [
        ("username", "Bureau.Li"), ("display_name", "卫生局 李"), ("role", "bureau_viewer"),
        ("district_ids", str(district.id)), ("password", "first-password-1"),
    ])
    assert r.status_code == 303
    with use_city(city):
        async with rt.db.transaction() as s:
            account = await s.scalar(select(StaffAccount).where(StaffAccount.username == "bureau.li"))
    assert account.district_ids == [district.id] and account.role == "bureau_viewer"
    [created] = [e for e in await _entries(rt, city, "staff.create") if e.actor == f"staff:{admin.id}"]
    assert created.after["district_ids"] == [district.id]
    assert "password" not in json.dumps(created.after) and "argon2" not in json.dumps(created.after)

    page = await browser.get(f"/console/c/{city.slug}/staff/{account.id}")
    assert "卫生局 李" in page.text
    r = await browser.post(f"/console/c/{city.slug}/staff/{account.id}", {"display_name": "卫生局 李明", "role": "agent"})
    assert r.status_code == 303
    [updated] = await _entries(rt, city, "staff.update")
    assert updated.before["display_name"] == "卫生局 李" and updated.after["display_name"] == "卫生局 李明"
    assert updated.before["role"] == "bureau_viewer" and updated.after["district_ids"] == []

    await browser.get(f"/console/c/{city.slug}/staff/{account.id}")
    r = await browser.post(f"/console/c/{city.slug}/staff/{account.id}/password", {"password": "short"})
    assert r.status_code == 422
    r = await browser.post(f"/console/c/{city.slug}/staff/{account.id}/password", {"password": "second-password-2"})
    assert r.status_code == 303
    [reset] = await _entries(rt, city, "staff.password")
    assert "second-password-2" not in json.dumps([reset.summary, reset.before, reset.after])

    dup = await browser.post(f"/console/c/{city.slug}/staff/new", {"username": "bureau.li", "display_name": "x",
                                                                    "role": "agent"})
    assert dup.status_code == 409 and 'id="error-username"' in dup.text


async def test_rules_are_validated_per_field(rt, city, browser, admin):
    await browser.login(admin)
    page = await browser.get(f"/console/c/{city.slug}/settings")
    assert 'id="rule-booking_window_days"' in page.text and 'value="07:30"' in page.text
    r = await browser.post(f"/console/c/{city.slug}/settings", {
        "booking_window_days": "200", "release_time": "25:00", "max_active_bookings": "3",
        "credit_ladder_days": "30, -1", "credit_window_days": "",
    })
    assert r.status_code == 422
    for field in ("booking_window_days", "release_time", "credit_ladder_days"):
        assert f'id="error-{field}"' in r.text
    assert "不能大于 90" in r.text
    assert await _entries(rt, city, "city.rules") == []
    r = await browser.post(f"/console/c/{city.slug}/settings", {
        "booking_window_days": "7", "release_time": "08:00", "max_active_bookings": "3",
        "credit_ladder_days": "30，60", "credit_window_days": "365",
    })
    assert r.status_code == 303
    async with rt.db.transaction() as s:
        row = await s.get(City, city.id)
    assert row.rules["booking_window_days"] == 7 and row.rules["credit_ladder_days"] == [30, 60]
    assert row.rules["release_time"] == "08:00:00" and row.config_version > city.config_version
    [entry] = await _entries(rt, city, "city.rules")
    assert entry.before.get("booking_window_days", 14) == 14 and entry.after["booking_window_days"] == 7
    assert (await rt.resolver.by_slug(city.slug)).rules.booking_window_days == 7


async def test_branding_and_districts(rt, city, browser, admin):
    await browser.login(admin)
    await browser.get(f"/console/c/{city.slug}/settings/branding")
    r = await browser.post(f"/console/c/{city.slug}/settings/branding", {
        "display_name": "健康杭州", "logo_url": "javascript:alert(1)", "primary_colour": "red", "accent_colour": "#f2a900"})
    assert r.status_code == 422 and 'id="error-logo_url"' in r.text and 'id="error-primary_colour"' in r.text
    r = await browser.post(f"/console/c/{city.slug}/settings/branding", {
        "display_name": "健康杭州", "logo_url": "", "primary_colour": "#f2a900", "accent_colour": "#ffffff"})
    assert r.status_code == 422  # too light to read on white, for text and for lines
    assert 'id="error-primary_colour"' in r.text and 'id="error-accent_colour"' in r.text
    r = await browser.post(f"/console/c/{city.slug}/settings/branding", {
        "display_name": "健康杭州", "logo_url": "https://cdn.example.cn/logo.png", "primary_colour": "#0b6e4f",
        "accent_colour": "#b35c00"})
    assert r.status_code == 303
    async with rt.db.transaction() as s:
        assert (await s.get(City, city.id)).branding["primary_colour"] == "#0b6e4f"
    await configure_plugin(rt.db, city, "web")
    site = (await browser.get(f"/c/{city.slug}/")).text  # the patient site wears it at once
    assert "健康杭州" in site and "--accent: #0b6e4f;" in site and "--brand-line: #b35c00;" in site
    assert 'src="https://cdn.example.cn/logo.png"' in site

    await browser.get(f"/console/c/{city.slug}/settings/districts")
    r = await browser.post(f"/console/c/{city.slug}/settings/districts", {"code": "03", "name": "南区"})
    assert r.status_code == 303
    r = await browser.post(f"/console/c/{city.slug}/settings/districts", {"code": "03", "name": "重复"})
    assert r.status_code == 422
    with use_city(city):
        async with rt.db.transaction() as s:
            added = await s.scalar(select(District).where(District.code == "03"))
    r = await browser.post(f"/console/c/{city.slug}/settings/districts",
                           {"district_id": str(added.id), "code": "03", "name": "南山区"})
    assert r.status_code == 303
    actions = [e.action for e in await _entries(rt, city)]
    assert {"city.branding", "district.create", "district.update"} <= set(actions)


async def test_plugin_secret_is_never_shown_again(rt, city, browser, admin):
    secret = "s3cr3t-value-never-shown"
    await browser.login(admin)
    page = await browser.get(f"/console/c/{city.slug}/settings/plugins")
    assert 'id="plugin-sms_aliyun"' in page.text and "阿里云短信" in page.text
    await browser.get(f"/console/c/{city.slug}/settings/plugins/sms_aliyun")
    r = await browser.post(f"/console/c/{city.slug}/settings/plugins/sms_aliyun", {
        "enabled": "on", "setting:sign_name": "示例市预约", "secret:access_key_id": "LTAI-key-id-1",
        "secret:access_key_secret": secret})
    assert r.status_code == 303
    seen = []
    for path in ("settings/plugins/sms_aliyun", "settings/plugins", "audit", "audit?text=sms"):
        seen.append((await browser.get(f"/console/c/{city.slug}/{path}")).text)
    page = seen[0]
    assert 'id="secret-state-access_key_secret"' in page and "已设置" in page
    assert all(secret not in text for text in seen)
    entries = await _entries(rt, city, "city.plugin")
    assert entries and secret not in json.dumps([e.before for e in entries] + [e.after for e in entries])
    assert entries[-1].after["credentials_stored"] == ["access_key_id", "access_key_secret"]

    # saving again without typing the secrets keeps them
    r = await browser.post(f"/console/c/{city.slug}/settings/plugins/sms_aliyun", {
        "enabled": "on", "setting:sign_name": "新签名", "setting:timeout": "5"})
    assert r.status_code == 303
    from guahao.tenants.service import enabled_plugins

    config = await enabled_plugins(rt.db, city)
    assert config["sms_aliyun"] == {"settings": {"sign_name": "新签名", "timeout": 5.0},
                                    "secrets": {"access_key_id": "LTAI-key-id-1", "access_key_secret": secret}}
    with use_city(city):
        async with rt.db.transaction() as s:
            row = await s.scalar(select(CityPlugin).where(CityPlugin.plugin == "sms_aliyun"))
    assert secret not in row.secrets_encrypted


async def test_plugin_form_is_drawn_from_its_settings_model(rt, city, browser, admin):
    await browser.login(admin)
    page = (await browser.get(f"/console/c/{city.slug}/settings/plugins/sms_tencent")).text
    # every declared setting has its labelled input; secrets are password inputs
    assert 'name="setting:sdk_app_id"' in page and "短信应用 SdkAppId" in page
    assert 'name="setting:timeout"' in page and 'name="setting:region"' in page
    assert '<input type="password" name="secret:secret_key"' in page
    page = (await browser.get(f"/console/c/{city.slug}/settings/plugins/stripe")).text
    assert '<select name="setting:currency"' in page and '<option value="cny" selected>' in page
    page = (await browser.get(f"/console/c/{city.slug}/settings/plugins/web")).text
    assert '<input type="checkbox" name="setting:moderate_reviews"' in page


async def test_bad_plugin_settings_are_refused_in_chinese_and_change_nothing(rt, city, browser, admin):
    from guahao.tenants.service import plugin_config

    await browser.login(admin)
    await browser.get(f"/console/c/{city.slug}/settings/plugins/sms_tencent")
    before = await plugin_config(rt.db, city, "sms_tencent")
    r = await browser.post(f"/console/c/{city.slug}/settings/plugins/sms_tencent", {
        "enabled": "on", "setting:sdk_app_id": "not-digits", "setting:sign_name": "示例市",
        "setting:timeout": "soon", "setting:templates": "{broken", "secret:secret_id": "AKID-long-enough"})
    assert r.status_code == 422
    assert 'id="form-error"' in r.text
    assert 'id="error-sdk_app_id"' in r.text and "格式不对" in r.text
    assert 'id="error-timeout"' in r.text and "请输入数字" in r.text
    assert 'id="error-templates"' in r.text and "不是有效的 JSON" in r.text
    assert "AKID-long-enough" not in r.text  # a typed secret is never echoed
    # the typed values stay in the form so nothing has to be typed again
    assert 'value="not-digits"' in r.text
    assert await plugin_config(rt.db, city, "sms_tencent") == before
    assert not await _entries(rt, city, "city.plugin")

    # enabling without the required credentials is refused; disabling with them missing is fine
    r = await browser.post(f"/console/c/{city.slug}/settings/plugins/sms_tencent", {
        "enabled": "on", "setting:sdk_app_id": "1400000000", "setting:sign_name": "示例市"})
    assert r.status_code == 422 and 'id="error-secret_id"' in r.text and "必填" in r.text
    r = await browser.post(f"/console/c/{city.slug}/settings/plugins/sms_tencent", {
        "setting:sdk_app_id": "1400000000", "setting:sign_name": "示例市"})
    assert r.status_code == 303
    stored = await plugin_config(rt.db, city, "sms_tencent")
    assert stored["enabled"] is False and stored["settings"]["sdk_app_id"] == "1400000000"


async def test_sso_client_secret_is_write_only(rt, city, browser, admin):
    await browser.login(admin)
    await browser.get(f"/console/c/{city.slug}/settings/sso")
    r = await browser.post(f"/console/c/{city.slug}/settings/sso", {
        "enabled": "on", "discovery_url": "https://id.example.cn", "client_id": "guahao", "client_secret": "oidc-secret-xyz"})
    assert r.status_code == 303
    page = await browser.get(f"/console/c/{city.slug}/settings/sso")
    assert "oidc-secret-xyz" not in page.text and 'id="sso-secret-state"' in page.text
    assert "https://id.example.cn/.well-known/openid-configuration" in page.text
    [entry] = await _entries(rt, city, "city.sso")
    assert "oidc-secret-xyz" not in json.dumps([entry.before, entry.after])
    login = await browser.client.get(f"/console/c/{city.slug}/login")  # the SSO button appears
    assert 'id="sso-login"' in login.text or login.status_code == 303


async def test_audit_search_and_keyset_paging(rt, city, browser, admin):
    await browser.login(admin)
    await browser.get(f"/console/c/{city.slug}/settings/districts")
    for i in range(55):
        await browser.post(f"/console/c/{city.slug}/settings/districts", {"code": f"9{i:02d}", "name": f"区{i}"})
    first = await browser.get(f"/console/c/{city.slug}/audit?action=district.")
    assert first.text.count('id="audit-') - first.text.count('id="audit-filters"') - first.text.count(
        'id="audit-table"') - first.text.count('id="audit-search"') - first.text.count('id="audit-older"') == 50
    assert 'id="audit-older"' in first.text
    older = first.text.split('id="audit-older" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = await browser.get(f"/console/c/{city.slug}/audit{older}")
    assert "区0" in second.text and "区54" not in second.text and 'id="audit-older"' not in second.text
    assert "区54" in (await browser.get(f"/console/c/{city.slug}/audit?text=区54")).text
    none = await browser.get(f"/console/c/{city.slug}/audit?since=2000-01-01&until=2000-01-02")
    assert "没有找到记录" in none.text


async def test_vendor_creates_a_city_and_searches_every_citys_log(rt, city, browser, admin):
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    slug = f"{city.slug}-new"
    r = await browser.post("/console/vendor/", {"slug": slug, "name": "新城市", "timezone": "Asia/Shanghai",
                                                "districts": "01, 一区\n02，二区"})
    assert r.status_code == 303 and r.headers["location"] == f"/console/c/{slug}/"
    r = await browser.post("/console/vendor/", {"slug": slug, "name": "again"})
    assert r.status_code == 409
    r = await browser.post("/console/vendor/", {"slug": "Bad Slug", "name": ""})
    assert r.status_code == 422
    listing = await browser.get("/console/vendor/")
    assert f'id="enter-{slug}"' in listing.text
    new_city = await rt.resolver.by_slug(slug)
    [entry] = await _entries(rt, new_city, "city.create")
    assert entry.actor == f"vendor:{vendor.id}" and entry.after["districts"] == [["01", "一区"], ["02", "二区"]]

    await browser.get(f"/console/c/{city.slug}/settings/districts")
    await browser.post(f"/console/c/{city.slug}/settings/districts", {"code": "77", "name": "厂商加的区"})
    everywhere = await browser.get("/console/vendor/audit?action=city.create")
    assert f"{slug} 新城市" in everywhere.text
    one = await browser.get(f"/console/vendor/audit?city={city.slug}")
    assert "厂商加的区" in one.text and f"{slug} 新城市" not in one.text
