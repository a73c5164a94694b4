"""The person's own account: two-factor enrolment (TOTP) and a new password.

Enrolment shows the ``otpauth://`` URI, the secret for typing in, and a QR code (segno, SVG);
the second factor is switched on only after a code from the app is confirmed.
"""

from __future__ import annotations

import io

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.members.passwords import verify_password
from guahao.core.models.staff import StaffAccount, VendorAccount
from guahao.core.staff import accounts
from guahao.core.staff.auth import begin_totp, confirm_totp, provisioning_uri, totp_secret

from ..kit.pages import Console, console_page


def qr_svg(data: str) -> str:
    """An inline SVG QR code of ``data`` (no external service sees the secret)."""
    import segno

    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="svg", scale=4, xmldecl=False, svgns=True, nl=False)
    return out.getvalue().decode()


async def _account(c: Console, s):
    model = VendorAccount if c.principal.is_vendor else StaffAccount
    return await s.get(model, c.principal.id)


@console_page()
async def totp(c: Console) -> Response:
    """GET: a new secret to scan (or the status when already on); POST: confirm a code."""
    async with c.transaction() as s:
        account = await _account(c, s)
        if c.request.method == "POST":
            await confirm_totp(s, c.actor(), account, c.form.get("code", ""))
            return c.redirect("/console/account/totp", flash=c._("Two-factor log-in is on."))
        if account.totp_enabled:
            return c.render("account_totp.html", enabled=True)
        secret = totp_secret(account) or await begin_totp(s, c.actor(), account)
        uri = provisioning_uri(account, secret, c.city.name if c.city else "")
    return c.render("account_totp.html", enabled=False, secret=secret, uri=uri, qr=qr_svg(uri))


@console_page()
async def password(c: Console) -> Response:
    """Change one's own password (the current one is asked again); the account's other sessions end."""
    if c.request.method == "GET":
        return c.render("account_password.html")
    async with c.transaction() as s:
        account = await _account(c, s)
        ok, _ = await verify_password(account.password_hash, c.form.get("current", ""))
        if not ok:
            return c.render("account_password.html", status=422, error=c._("The current password is wrong."))
        if c.form.get("new", "") != c.form.get("repeat", ""):
            return c.render("account_password.html", status=422, error=c._("The two new passwords differ."))
        if c.principal.is_vendor:
            from guahao.core.members.passwords import hash_password
            from guahao.core.staff.sessions import end_sessions

            accounts.check_password_strength(c.form.get("new", ""))
            account.password_hash = await hash_password(c.form["new"])
            end_sessions(account)
        else:
            account = await accounts.set_password(s, c.actor(), account.id, c.form.get("new", ""))
    # Every other session of the account has ended; this one goes on under the new generation.
    c.session.generation = account.session_generation
    c.session.changed = True
    return c.redirect("/console/", flash=c._("Your password has been changed."))


def routes() -> list:
    return [
        Route("/account/totp", totp, methods=["GET", "POST"]),
        Route("/account/password", password, methods=["GET", "POST"]),
    ]
