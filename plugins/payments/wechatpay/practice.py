"""The local practice gateway of WeChat Pay API v3, for the demo and the tests: it signs,
verifies and encrypts the way the real service documents, so the plugin's real client code runs
against it, and its cashier page lets a visitor play the payer. Nothing here moves money.

``guahao demo`` serves it at ``/practice/wechatpay/`` of the demo's own site (the embedded demo
only, never a production server) and points the demo city's ``api_base`` at it; tests serve it
on a port of their own (``tests.fakes.wechatpay``).

- Requests must carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,serial_no=…,
  timestamp=…,nonce_str=…,signature=…`` signed with the merchant's private key over
  ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n``; the gateway checks it with the merchant's
  public key (401 ``SIGN_ERROR``), refuses a timestamp more than 5 minutes off and a nonce seen
  before. ``PATH`` is the path under the gateway's root (what ``api.mch.weixin.qq.com`` would
  see), or the whole path of an absolute address it gave (a bill's ``download_url``).
- Every answer is signed with the gateway's platform private key (``Wechatpay-Signature`` over
  ``TIMESTAMP\\nNONCE\\nBODY\\n``, ``Wechatpay-Serial`` = the merchant's public key id).
- Orders: Native (``code_url``), H5 (``h5_url``), JSAPI (``prepay_id``), the same order number
  with the same parameters gives the same answer, with others ``INVALID_REQUEST``; query,
  close; refunds (``out_refund_no`` idempotent) that are ``PROCESSING`` until settled (or
  ``Merchant.refund_status``); trade bills (``/v3/bill/tradebill`` → ``download_url``).
- Notifications are built as WeChat Pay sends them: a signed JSON envelope whose ``resource`` is
  AES-256-GCM encrypted with the merchant's APIv3 key. They are kept in
  ``Merchant.notifications`` (tests deliver, forge, delay, duplicate or reorder them); the
  cashier posts the payment's notification to the order's ``notify_url`` by real HTTP, and a
  merchant with ``send_refund_notices`` has its refund notices posted too.
- ``/pay/{token}`` is the cashier page the ``code_url`` and ``h5_url`` point at: the visitor
  plays the payer, 确认支付 or 取消.

Keys are generated when a merchant is added (:meth:`PracticeWeChatPay.account`); nothing secret
is stored in the repository.
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import bill, signing

CHINA = timezone(timedelta(hours=8))


def new_key() -> tuple[str, str]:
    """A fresh RSA-2048 key pair as (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def _paths(request: Request) -> tuple[str, ...]:
    """The paths a request may have been signed for: under the gateway's root (an API call to
    ``api_base`` + ``/v3/…``), then the whole path (an absolute address the gateway gave)."""
    full, root = request.url.path, request.scope.get("root_path", "")
    if root and full.startswith(root + "/"):
        return full[len(root):], full
    return (full,)


def _now_text() -> str:
    return datetime.now(CHINA).replace(microsecond=0).isoformat()


@dataclass
class Merchant:
    """One merchant account: its ids and both key pairs (the merchant's and WeChat Pay's)."""

    mchid: str
    appid: str
    serial_no: str
    public_key_id: str
    apiv3_key: str
    private_key: str  # the merchant's: the platform signs with it
    public_key: str  # the merchant's: the fake verifies with it
    platform_private_key: str  # WeChat Pay's: the fake signs with it
    platform_public_key: str  # WeChat Pay's: the platform verifies with it
    orders: dict = field(default_factory=dict)
    refunds: dict = field(default_factory=dict)
    notifications: list = field(default_factory=list)  # (event_type, body, headers)
    requests: list = field(default_factory=list)  # (method, path, body)
    refund_status: str = "PROCESSING"
    corrupt_bills: bool = False  # serve bill files that do not match their SHA1
    fail_next: int = 0
    nonces: set = field(default_factory=set)
    send_refund_notices: bool = False  # post refund notices to the refund's notify_url
    outgoing: list = field(default_factory=list)  # (body, headers, notify_url) waiting to be posted

    def settings(self, api_base: str, **extra) -> dict:
        return {"mchid": self.mchid, "appid": self.appid, "cert_serial_no": self.serial_no,
                "platform_public_key_id": self.public_key_id, "api_base": api_base, **extra}

    def secrets(self) -> dict:
        return {"private_key": self.private_key, "apiv3_key": self.apiv3_key,
                "platform_public_key": self.platform_public_key}


class Failure(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class PracticeWeChatPay:
    """The practice gateway: ``app`` is its ASGI app; ``url`` the address it is served at (its
    root, where ``api_base`` points), set by whoever serves it.

    Parameters:
        url: the served address, when known before serving (the demo's own site).
    """

    def __init__(self, url: str = "") -> None:
        self.url = url.rstrip("/")
        self.merchants: dict[str, Merchant] = {}
        self.tokens: dict[str, tuple[str, str]] = {}  # cashier token → (mchid, out_trade_no)
        self.bill_files: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/v3/pay/transactions/{kind:str}", self.create_order, methods=["POST"]),
            Route("/v3/pay/transactions/out-trade-no/{no:str}", self.query_order, methods=["GET"]),
            Route("/v3/pay/transactions/out-trade-no/{no:str}/close", self.close_order, methods=["POST"]),
            Route("/v3/refund/domestic/refunds", self.create_refund, methods=["POST"]),
            Route("/v3/refund/domestic/refunds/{no:str}", self.query_refund, methods=["GET"]),
            Route("/v3/bill/tradebill", self.trade_bill, methods=["GET"]),
            Route("/v3/billdownload/file", self.download, methods=["GET"]),
            Route("/pay/{token:str}", self.cashier, methods=["GET", "POST"]),
            Route("/", self.index, methods=["GET"]),
        ])

    # --- accounts ----------------------------------------------------------------------------

    def account(self) -> dict:
        """A new merchant for the demo, whose refunds succeed at once and whose notices are
        posted: ``{"settings": …, "secrets": …}`` as the plugin takes them."""
        merchant = self.add_merchant()
        merchant.refund_status = "SUCCESS"
        merchant.send_refund_notices = True
        return {"settings": merchant.settings(self.url), "secrets": merchant.secrets()}

    def add_merchant(self) -> Merchant:
        private, public = new_key()
        platform_private, platform_public = new_key()
        n = len(self.merchants) + 1
        merchant = Merchant(
            mchid=str(1900000000 + n), appid=f"wx{secrets.token_hex(8)}", serial_no=secrets.token_hex(20).upper(),
            public_key_id=f"PUB_KEY_ID_{secrets.token_hex(12).upper()}", apiv3_key=secrets.token_hex(16),
            private_key=private, public_key=public, platform_private_key=platform_private,
            platform_public_key=platform_public,
        )
        self.merchants[merchant.mchid] = merchant
        return merchant

    # --- protocol ----------------------------------------------------------------------------

    def _answer(self, merchant: Merchant | None, status: int, payload: dict | None) -> Response:
        body = json.dumps(payload, ensure_ascii=False) if payload is not None else ""
        headers = {"Request-ID": uuid.uuid4().hex}
        if merchant is not None:
            headers.update(signing.sign_response(body, private_pem=merchant.platform_private_key,
                                                 serial=merchant.public_key_id))
        return Response(body.encode(), status_code=status, headers=headers,
                        media_type="application/json" if body else None)

    async def _call(self, request: Request, action) -> Response:
        raw = await request.body()
        merchant = None
        try:
            merchant = self._authenticate(request, raw)
            merchant.requests.append((request.method, request.url.path, raw.decode()))
            if merchant.fail_next > 0:
                merchant.fail_next -= 1
                raise Failure(500, "SYSTEM_ERROR", "系统错误")
            body = json.loads(raw) if raw else {}
            with self.lock:
                status, payload = action(merchant, body, request)
        except Failure as failure:
            return self._answer(merchant, failure.status, {"code": failure.code, "message": failure.message})
        return self._answer(merchant, status, payload)

    def _authenticate(self, request: Request, raw: bytes) -> Merchant:
        fields = signing.parse_authorization(request.headers.get("authorization", ""))
        merchant = self.merchants.get(fields.get("mchid", ""))
        if merchant is None:
            raise Failure(401, "SIGN_ERROR", "商户号不存在或签名错误")
        if fields.get("serial_no") != merchant.serial_no:
            raise Failure(401, "SIGN_ERROR", "证书序列号错误")
        try:
            fresh = abs(time.time() - int(fields.get("timestamp", "0"))) <= 300
        except ValueError:
            fresh = False
        if not fresh:
            raise Failure(401, "SIGN_ERROR", "时间戳过期")
        nonce = fields.get("nonce_str", "")
        if not nonce or nonce in merchant.nonces:
            raise Failure(401, "SIGN_ERROR", "随机串重复")
        query = f"?{request.url.query}" if request.url.query else ""
        signed = fields.get("signature", "")
        if not any(signing.rsa_verify(merchant.public_key, signing.request_message(
                request.method, path + query, fields["timestamp"], nonce, raw.decode("utf-8")), signed)
                for path in _paths(request)):
            raise Failure(401, "SIGN_ERROR", "签名错误")
        merchant.nonces.add(nonce)
        return merchant

    # --- orders ------------------------------------------------------------------------------

    async def create_order(self, request: Request) -> Response:
        kind = request.path_params["kind"].upper()

        def action(m: Merchant, p: dict, r: Request):
            if kind not in ("NATIVE", "H5", "JSAPI"):
                raise Failure(404, "RESOURCE_NOT_EXISTS", "不支持的交易类型")
            for name in ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount"):
                if not p.get(name):
                    raise Failure(400, "PARAM_ERROR", f"缺少参数 {name}")
            if p["mchid"] != m.mchid or p["appid"] != m.appid:
                raise Failure(400, "PARAM_ERROR", "appid 与 mchid 不匹配")
            total = p["amount"].get("total")
            if not isinstance(total, int) or total <= 0:
                raise Failure(400, "PARAM_ERROR", "amount.total 应为正整数（分）")
            if kind == "JSAPI" and not (p.get("payer") or {}).get("openid"):
                raise Failure(400, "PARAM_ERROR", "JSAPI 下单须传 payer.openid")
            if kind == "H5" and not (p.get("scene_info") or {}).get("payer_client_ip"):
                raise Failure(400, "PARAM_ERROR", "H5 下单须传 scene_info.payer_client_ip")
            no = p["out_trade_no"]
            known = m.orders.get(no)
            if known is not None:
                if known["trade_state"] == "SUCCESS":
                    raise Failure(400, "ORDERPAID", "该订单已支付")
                if known["request"] != p or known["trade_type"] != kind:
                    raise Failure(400, "INVALID_REQUEST", "商户订单号重复，参数不一致")
                return 200, known["answer"]
            token = secrets.token_urlsafe(12)
            self.tokens[token] = (m.mchid, no)
            prepay_id = f"wx{datetime.now(CHINA):%d%H%M%S}{secrets.token_hex(10)}"
            answer = ({"code_url": f"{self.url}/pay/{token}"} if kind == "NATIVE"
                      else {"h5_url": f"{self.url}/pay/{token}?prepay_id={prepay_id}&package=1"} if kind == "H5"
                      else {"prepay_id": prepay_id})
            m.orders[no] = {"request": p, "trade_type": kind, "answer": answer, "trade_state": "NOTPAY",
                            "transaction_id": "", "success_time": "", "prepay_id": prepay_id, "token": token}
            return 200, answer

        return await self._call(request, action)

    def _order(self, m: Merchant, no: str) -> dict:
        order = m.orders.get(no)
        if order is None:
            raise Failure(404, "ORDER_NOT_EXIST", "订单不存在")
        return order

    def _transaction(self, m: Merchant, no: str) -> dict:
        order = m.orders[no]
        p = order["request"]
        out = {"appid": m.appid, "mchid": m.mchid, "out_trade_no": no, "trade_type": order["trade_type"],
               "trade_state": order["trade_state"], "trade_state_desc": order["trade_state"], "attach": p.get("attach", ""),
               "amount": {"total": p["amount"]["total"], "currency": "CNY"}}
        if order["transaction_id"]:
            out.update({"transaction_id": order["transaction_id"], "bank_type": "OTHERS", "success_time": order["success_time"],
                        "payer": {"openid": (p.get("payer") or {}).get("openid", "o_fake_payer")},
                        "amount": {**out["amount"], "payer_total": p["amount"]["total"], "payer_currency": "CNY"}})
        return out

    async def query_order(self, request: Request) -> Response:
        no = request.path_params["no"]

        def action(m: Merchant, p: dict, r: Request):
            if r.query_params.get("mchid") != m.mchid:
                raise Failure(400, "PARAM_ERROR", "mchid 不正确")
            self._order(m, no)
            return 200, self._transaction(m, no)

        return await self._call(request, action)

    async def close_order(self, request: Request) -> Response:
        no = request.path_params["no"]

        def action(m: Merchant, p: dict, r: Request):
            order = self._order(m, no)
            if order["trade_state"] == "SUCCESS":
                raise Failure(400, "ORDERPAID", "订单已支付")
            order["trade_state"] = "CLOSED"
            return 204, None

        return await self._call(request, action)

    # --- paying (the member) -----------------------------------------------------------------

    def pay(self, mchid: str, out_trade_no: str) -> tuple[str, dict]:
        """The member pays the order: it is ``SUCCESS`` and a ``TRANSACTION.SUCCESS``
        notification is built (and kept); returns it as (body, headers)."""
        m = self.merchants[mchid]
        with self.lock:
            order = self._order(m, out_trade_no)
            if order["trade_state"] == "CLOSED":
                raise Failure(400, "ORDER_CLOSED", "订单已关闭")
            if order["trade_state"] != "SUCCESS":
                order.update(trade_state="SUCCESS", transaction_id=f"42000{secrets.randbelow(10**23):023d}",
                             success_time=_now_text())
            plain = self._transaction(m, out_trade_no)
        return self.notify(m, "TRANSACTION.SUCCESS", plain, original_type="transaction", summary="支付成功")

    def notify(self, m: Merchant, event_type: str, plain: dict, *, original_type: str, summary: str,
               timestamp: int | None = None, forge_with: str | None = None) -> tuple[str, dict]:
        """A notification as WeChat Pay sends it; ``forge_with`` signs it with another key."""
        envelope = {
            "id": str(uuid.uuid4()), "create_time": _now_text(), "event_type": event_type,
            "resource_type": "encrypt-resource", "summary": summary,
            "resource": signing.encrypt_resource(plain, m.apiv3_key, original_type=original_type,
                                                 associated_data=original_type),
        }
        body = json.dumps(envelope, ensure_ascii=False)
        headers = signing.sign_response(body, private_pem=forge_with or m.platform_private_key, serial=m.public_key_id,
                                        timestamp=timestamp)
        m.notifications.append((event_type, body, headers))
        return body, headers

    async def index(self, request: Request) -> Response:
        """The orders waiting to be paid, each linking to its cashier page: what scanning a
        QR code on the screen would open, for a visitor without a phone at hand."""
        with self.lock:
            waiting = [(token, self.merchants[mchid].orders[no]) for token, (mchid, no) in self.tokens.items()
                       if self.merchants[mchid].orders[no]["trade_state"] == "NOTPAY"]
        items = "".join(
            f"<li><a id='order-{html.escape(order['request']['out_trade_no'])}' href='{self.url}/pay/{token}'>"
            f"{html.escape(order['request']['description'])} ¥{order['request']['amount']['total'] / 100:.2f}</a></li>"
            for token, order in reversed(waiting))
        return HTMLResponse(_page("微信支付 · 练习网关", (
            "<h1>微信支付 · 练习网关</h1><p>本地练习网关，不会真实扣款。二维码所指的待支付订单（打开即相当于用微信扫码）：</p>"
            f"<ul id='orders'>{items or '<li>暂无待支付订单</li>'}</ul>")))

    async def cashier(self, request: Request) -> Response:
        """The payer's side: scan (or open) the order, then 确认支付 (the order is paid and its
        notification posted to the order's ``notify_url``) or 取消 (nothing is paid). An H5
        order goes back to its ``redirect_url`` either way."""
        found = self.tokens.get(request.path_params["token"])
        if found is None:
            return HTMLResponse(_page("二维码已失效", "<h1 id='gone'>二维码已失效</h1>"), status_code=404)
        mchid, no = found
        m = self.merchants[mchid]
        order = m.orders[no]
        p = order["request"]
        back = request.query_params.get("redirect_url", "")
        if request.method == "POST":
            form = await request.form()
            if form.get("action") == "cancel":
                if back:
                    return RedirectResponse(back, status_code=303)
                return HTMLResponse(_page("已取消", "<h1 id='cancelled'>已取消支付</h1><p>可以关闭本页。</p>"))
            try:
                body, headers = self.pay(mchid, no)
            except Failure as failure:
                return HTMLResponse(_page("支付失败", f"<h1 id='failed'>{html.escape(failure.message)}</h1>"),
                                    status_code=400)
            await self.deliver(body, headers, p["notify_url"])
            if back:
                return RedirectResponse(back, status_code=303)
            return HTMLResponse(_page("支付成功", "<h1 id='paid'>支付成功</h1><p>可以关闭本页，回到挂号页面。</p>"))
        amount = f"{p['amount']['total'] / 100:.2f}"
        return HTMLResponse(_page("微信支付", (
            "<h1>微信支付 · 练习收银台</h1><p class='note'>本地练习网关，不会真实扣款。</p>"
            f"<p id='merchant'>商户号 {html.escape(m.mchid)}</p><p id='what'>{html.escape(p['description'])}</p>"
            f"<p id='amount'>¥{amount}</p><form method='post'>"
            "<button id='confirm' name='action' value='pay' type='submit'>确认支付</button> "
            "<button id='cancel' name='action' value='cancel' type='submit'>取消</button></form>")))

    @staticmethod
    async def deliver(body: str, headers: dict, url: str) -> httpx.Response | None:
        """Post a notification to an address the fake can reach (``None`` when it cannot)."""
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                return await client.post(url, content=body.encode(), headers={**headers, "Content-Type": "application/json"})
        except httpx.HTTPError:
            return None

    # --- refunds -----------------------------------------------------------------------------

    def _refund_view(self, m: Merchant, refund: dict) -> dict:
        return {k: v for k, v in refund.items() if k != "request"}

    async def create_refund(self, request: Request) -> Response:
        def action(m: Merchant, p: dict, r: Request):
            no, refund_no = p.get("out_trade_no", ""), p.get("out_refund_no", "")
            if not refund_no or not (p.get("amount") or {}).get("refund"):
                raise Failure(400, "PARAM_ERROR", "缺少 out_refund_no 或 amount.refund")
            order = self._order(m, no)
            if refund_no in m.refunds:
                known = m.refunds[refund_no]
                if known["request"] != p:
                    raise Failure(400, "INVALID_REQUEST", "退款单号重复，参数不一致")
                return 200, self._refund_view(m, known)
            if order["trade_state"] not in ("SUCCESS", "REFUND"):
                raise Failure(400, "INVALID_REQUEST", "订单未支付，不能退款")
            total = order["request"]["amount"]["total"]
            if p["amount"].get("total") != total:
                raise Failure(400, "PARAM_ERROR", "订单金额与原订单不符")
            done = sum(x["amount"]["refund"] for x in m.refunds.values() if x["out_trade_no"] == no and x["status"] != "CLOSED")
            if done + p["amount"]["refund"] > total:
                raise Failure(403, "NOT_ENOUGH", "可退金额不足")
            refund = self._new_refund(m, no, refund_no, p["amount"]["refund"], total, request=p)
            return 200, self._refund_view(m, refund)

        answer = await self._call(request, action)
        with self.lock:
            notices = [n for m in self.merchants.values() for n in m.outgoing]
            for m in self.merchants.values():
                m.outgoing.clear()
        if notices:  # WeChat Pay tells the notify_url later, after answering the call
            answer.background = BackgroundTask(self._post_all, notices)
        return answer

    async def _post_all(self, notices: list[tuple[str, dict, str]]) -> None:
        for body, headers, url in notices:
            await self.deliver(body, headers, url)

    def _new_refund(self, m: Merchant, no: str, refund_no: str, amount: int, total: int, *, request: dict) -> dict:
        order = m.orders[no]
        refund = {"refund_id": f"50300{secrets.randbelow(10**24):024d}", "out_refund_no": refund_no,
                  "transaction_id": order["transaction_id"], "out_trade_no": no, "channel": "ORIGINAL",
                  "user_received_account": "支付用户零钱", "create_time": _now_text(), "status": m.refund_status,
                  "amount": {"total": total, "refund": amount, "payer_total": total, "payer_refund": amount,
                             "currency": "CNY"}, "request": request, "notify_url": request.get("notify_url", "")}
        if m.refund_status == "SUCCESS":
            refund["success_time"] = _now_text()
        m.refunds[refund_no] = refund
        order["trade_state"] = "REFUND"
        if m.refund_status != "PROCESSING":
            self._refund_notice(m, refund)
        return refund

    def _refund_notice(self, m: Merchant, refund: dict) -> tuple[str, dict]:
        plain = {"mchid": m.mchid, "out_trade_no": refund["out_trade_no"], "transaction_id": refund["transaction_id"],
                 "out_refund_no": refund["out_refund_no"], "refund_id": refund["refund_id"],
                 "refund_status": refund["status"], "success_time": refund.get("success_time", ""),
                 "user_received_account": refund["user_received_account"],
                 "amount": {k: refund["amount"][k] for k in ("total", "refund", "payer_total", "payer_refund")}}
        body, headers = self.notify(m, f"REFUND.{refund['status']}", plain, original_type="refund", summary="退款状态变更")
        if m.send_refund_notices and refund["notify_url"]:
            m.outgoing.append((body, headers, refund["notify_url"]))
        return body, headers

    def settle_refund(self, mchid: str, out_refund_no: str, status: str = "SUCCESS") -> tuple[str, dict]:
        """A processing refund ends (``SUCCESS``, ``ABNORMAL``, ``CLOSED``); returns its notice."""
        m = self.merchants[mchid]
        refund = m.refunds[out_refund_no]
        refund["status"] = status
        if status == "SUCCESS":
            refund["success_time"] = _now_text()
        return self._refund_notice(m, refund)

    def refund_in_merchant_platform(self, mchid: str, out_trade_no: str) -> tuple[str, dict]:
        """A person refunds the whole order in the merchant platform; returns its notice."""
        m = self.merchants[mchid]
        order = m.orders[out_trade_no]
        total = order["request"]["amount"]["total"]
        saved, m.refund_status = m.refund_status, "SUCCESS"
        try:
            self._new_refund(m, out_trade_no, f"MP{secrets.token_hex(8)}", total, total, request={})
        finally:
            m.refund_status = saved
        return m.notifications[-1][1], m.notifications[-1][2]

    async def query_refund(self, request: Request) -> Response:
        no = request.path_params["no"]

        def action(m: Merchant, p: dict, r: Request):
            refund = m.refunds.get(no)
            if refund is None:
                raise Failure(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return 200, self._refund_view(m, refund)

        return await self._call(request, action)

    # --- trade bills -------------------------------------------------------------------------

    def bill_rows(self, m: Merchant, day: str) -> list[dict]:
        rows = []
        for no, order in m.orders.items():
            if not order["success_time"].startswith(day):
                continue
            p = order["request"]
            base = {"trade_time": order["success_time"].replace("T", " ")[:19], "appid": m.appid, "mchid": m.mchid,
                    "sub_mchid": "0", "device_id": "", "transaction_id": order["transaction_id"], "out_trade_no": no,
                    "openid": "o_fake_payer", "trade_type": order["trade_type"], "bank_type": "OTHERS", "currency": "CNY",
                    "coupon_amount": 0, "coupon_refund_amount": 0, "description": p["description"], "attach": p.get("attach", ""),
                    "rate": "0.60%", "total": p["amount"]["total"], "rate_note": ""}
            rows.append({**base, "trade_state": "SUCCESS", "settlement_total": p["amount"]["total"], "refund_id": "0",
                         "out_refund_no": "0", "refund_amount": 0, "refund_type": "", "refund_status": "",
                         "fee": round(p["amount"]["total"] * 0.006), "refund_requested": 0})
            for refund in m.refunds.values():
                if refund["out_trade_no"] == no and refund["status"] == "SUCCESS":
                    rows.append({**base, "trade_state": "REFUND", "settlement_total": 0, "refund_id": refund["refund_id"],
                                 "out_refund_no": refund["out_refund_no"], "refund_amount": refund["amount"]["refund"],
                                 "refund_type": "ORIGINAL", "refund_status": "SUCCESS",
                                 "fee": -round(refund["amount"]["refund"] * 0.006),
                                 "refund_requested": refund["amount"]["refund"]})
        return rows

    async def trade_bill(self, request: Request) -> Response:
        def action(m: Merchant, p: dict, r: Request):
            day = r.query_params.get("bill_date", "")
            rows = self.bill_rows(m, day)
            if not rows:
                raise Failure(400, "NO_STATEMENT_EXIST", "账单不存在")
            content = bill.format_trade_bill(rows).encode("utf-8")
            token = secrets.token_urlsafe(12)
            self.bill_files[token] = content.replace(b"50.00", b"5.00") if m.corrupt_bills else content
            return 200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(content).hexdigest(),
                         "download_url": f"{self.url}/v3/billdownload/file?token={token}"}

        return await self._call(request, action)

    async def download(self, request: Request) -> Response:
        raw = await request.body()
        try:
            self._authenticate(request, raw)
        except Failure as failure:
            return JSONResponse({"code": failure.code, "message": failure.message}, status_code=failure.status)
        content = self.bill_files.get(request.query_params.get("token", ""))
        if content is None:
            return JSONResponse({"code": "RESOURCE_NOT_EXISTS", "message": "文件不存在"}, status_code=404)
        return Response(content, media_type="application/octet-stream")  # the file itself is not signed


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><body>{body}</body></html>")
