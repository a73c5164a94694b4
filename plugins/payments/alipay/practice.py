"""The local practice gateway of Alipay's open platform, for the demo and the tests: it signs
and verifies the way Alipay documents (RSA2), strictly enough for ``python-alipay-sdk`` and the
plugin's client, and its cashier page lets a visitor play the payer. Nothing here moves money.

``guahao demo`` serves it at ``/practice/alipay/`` of the demo's own site (the embedded demo
only, never a production server) and points the demo city's ``gateway`` at its
``/gateway.do``; tests serve it on a port of their own (``tests.fakes.alipay``).

- ``/gateway.do`` (GET query or POST form): the common parameters are checked (``app_id``
  known, ``charset`` utf-8, ``sign_type`` RSA2, ``timestamp`` in Beijing time within 15
  minutes, ``version`` 1.0) and the request's RSA2 signature (every parameter but ``sign``,
  sorted, ``k=v`` joined with ``&``) is verified with the app's public key. Answers are
  ``{"<method>_response": {...}, "sign": "…"}`` signed with the gateway's own key over the raw
  text of the response object; a bad request signature or an unknown APPID is answered
  unsigned (``40002``), as Alipay does. Business failures are ``40004`` with Alipay's
  ``sub_code`` (``ACQ.TRADE_NOT_EXIST``, ``ACQ.TRADE_STATUS_ERROR``, ``ACQ.REFUND_AMT_NOT_EQUAL_TOTAL`` …).
- Methods: ``alipay.trade.page.pay`` and ``alipay.trade.wap.pay`` (the browser lands on the
  cashier page), ``alipay.trade.precreate`` (a ``qr_code``), ``alipay.trade.query``,
  ``alipay.trade.close``, ``alipay.trade.refund`` (``out_request_no`` idempotent, partial
  refunds), ``alipay.trade.fastpay.refund.query``, ``alipay.data.dataservice.bill.downloadurl.query``
  (a zip of GBK CSV files in Alipay's trade statement format, served under ``/bills/``).
- The cashier page (``/cashier/{app_id}/{out_trade_no}``) plays the payer: 确认支付 marks the
  trade paid, signs a notify (form POST, signature over the sorted fields but ``sign`` and
  ``sign_type``) and redirects to the signed ``return_url``; 取消 leaves it unpaid (back to the
  wap pay's ``quit_url``). Notifies are always kept in ``Account.notifies`` (the fields as
  sent) for tests to deliver, duplicate or reorder; with ``Account.send_notifies`` the gateway
  POSTs them to the trade's ``notify_url`` by real HTTP (the payment's before the cashier
  answers, a refund's after the gateway answered the refund call).
- ``Account.fail`` makes the next calls of a method answer ``20000`` (service unavailable);
  ``Account.forge_answers`` signs answers with a stranger's key (a man in the middle).

Keys are generated when an account is added (:meth:`PracticeAlipay.account`); nothing secret
is stored in the repository.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import secrets
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

BEIJING = timezone(timedelta(hours=8))
PAY_METHODS = ("alipay.trade.page.pay", "alipay.trade.wap.pay")


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa2_sign(key: rsa.RSAPrivateKey, text: str) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(public_key, text: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError):
        return False


def signing_string(fields: dict, exclude: tuple[str, ...], *, skip_empty: bool = False) -> str:
    """Sorted ``k=v`` pairs joined with ``&``: a request leaves out empty values, a notify keeps them."""
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k not in exclude and not (skip_empty and v == ""))


def beijing_now() -> datetime:
    return datetime.now(BEIJING)


def stamp(at: datetime | None = None) -> str:
    return (at or beijing_now()).strftime("%Y-%m-%d %H:%M:%S")


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def to_fen(text: str) -> int:
    return int(Decimal(text) * 100)


class Failure(Exception):
    def __init__(self, code: str, msg: str, sub_code: str = "", sub_msg: str = "", *, signed: bool = True):
        super().__init__(sub_code or code)
        self.body = {"code": code, "msg": msg, **({"sub_code": sub_code, "sub_msg": sub_msg} if sub_code else {})}
        self.signed = signed


def business(sub_code: str, sub_msg: str) -> Failure:
    return Failure("40004", "Business Failed", sub_code, sub_msg)


@dataclass
class Account:
    """One Alipay app: its APPID, the app's key pair (the city holds the private key), the
    fake's own key pair (the city holds its public key) and what happened on it."""

    app_id: str
    app_key: rsa.RSAPrivateKey
    alipay_key: rsa.RSAPrivateKey
    trades: dict = field(default_factory=dict)  # out_trade_no → trade
    refunds: dict = field(default_factory=dict)  # (out_trade_no, out_request_no) → refund
    notifies: list = field(default_factory=list)  # signed notify fields, in the order sent
    deliveries: list = field(default_factory=list)  # (notify_id, status code or error) per POST
    requests: list = field(default_factory=list)  # (method, params) of every verified call
    fail: dict = field(default_factory=dict)  # method → number of calls to answer 20000
    send_notifies: bool = False
    missing_bills: set = field(default_factory=set)  # bill dates answered isp.bill_not_exist
    forge_answers: bool = False  # sign answers with a key that is not this app's Alipay key
    outgoing: list = field(default_factory=list)  # (fields, notify_url) waiting to be posted

    @property
    def app_private_key(self) -> str:
        return private_pem(self.app_key)

    @property
    def alipay_public_key(self) -> str:
        return public_pem(self.alipay_key)

    def secrets(self) -> dict:
        return {"app_private_key": self.app_private_key, "alipay_public_key": self.alipay_public_key}


class PracticeAlipay:
    """The practice gateway: state per APPID (``add_account()``); ``app`` is its ASGI app, ``url``
    the address it is served at (``gateway`` = its ``/gateway.do``), set by whoever serves it.

    Parameters:
        url: the served address, when known before serving (the demo's own site).
    """

    def __init__(self, url: str = ""):
        self.url = url.rstrip("/")
        self.accounts: dict[str, Account] = {}
        self._lock = threading.Lock()
        self._bills: dict[str, bytes] = {}
        self.app = Starlette(routes=[
            Route("/gateway.do", self.gateway_endpoint, methods=["GET", "POST"]),
            Route("/cashier/{app_id}/{trade}", self.cashier, methods=["GET", "POST"]),
            Route("/bills/{token}", self.bill_file, methods=["GET"]),
            Route("/", self.index, methods=["GET"]),
        ])

    @property
    def gateway(self) -> str:
        return f"{self.url}/gateway.do"

    def account(self) -> dict:
        """A new app for the demo, whose notifies are posted: ``{"settings": …, "secrets": …}``
        as the plugin takes them."""
        account = self.add_account()
        account.send_notifies = True
        return {"settings": {"app_id": account.app_id, "gateway": self.gateway}, "secrets": account.secrets()}

    def add_account(self) -> Account:
        account = Account(str(2021000000000000 + secrets.randbelow(10**12)), new_key(), new_key())
        self.accounts[account.app_id] = account
        return account

    # --- the gateway ------------------------------------------------------------------------

    async def gateway_endpoint(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        method = params.get("method", "")
        key = method.replace(".", "_") + "_response" if method else "error_response"
        try:
            account = self._check(params)
            biz = json.loads(params.get("biz_content") or "{}")
            account.requests.append((method, biz))
            if method in PAY_METHODS:
                return self._open_cashier(account, method, biz, params)
            if account.fail.get(method):
                account.fail[method] -= 1
                raise Failure("20000", "Service Currently Unavailable", "isp.unknow-error", "系统繁忙")
            handler = {
                "alipay.trade.precreate": self._precreate, "alipay.trade.query": self._query,
                "alipay.trade.close": self._close, "alipay.trade.refund": self._refund,
                "alipay.trade.fastpay.refund.query": self._refund_query,
                "alipay.data.dataservice.bill.downloadurl.query": self._bill_url,
            }.get(method)
            if handler is None:
                raise Failure("40002", "Invalid Arguments", "isv.invalid-method", "不存在的方法名", signed=False)
            body = {"code": "10000", "msg": "Success", **handler(account, biz, params)}
            answer = self._respond(key, body, account)
            waiting = self._take_outgoing(account)
            if waiting:  # Alipay notifies after answering the call
                answer.background = BackgroundTask(self._post_all, account, waiting)
            return answer
        except Failure as failure:
            return self._respond(key, failure.body, self.accounts.get(params.get("app_id", "")) if failure.signed else None)

    def _check(self, params: dict) -> Account:
        account = self.accounts.get(params.get("app_id", ""))
        if account is None:
            raise Failure("40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数", signed=False)
        for name, value in (("charset", "utf-8"), ("sign_type", "RSA2"), ("version", "1.0")):
            if params.get(name) != value:
                raise Failure("40002", "Invalid Arguments", f"isv.invalid-{name.replace('_', '-')}", f"{name} 无效",
                              signed=False)
        try:
            at = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        except ValueError:
            raise Failure("40002", "Invalid Arguments", "isv.invalid-timestamp", "非法的时间戳参数", signed=False) from None
        if abs((beijing_now() - at).total_seconds()) > 15 * 60:
            raise Failure("40002", "Invalid Arguments", "isv.invalid-timestamp", "非法的时间戳参数", signed=False)
        signed = signing_string(params, ("sign",), skip_empty=True)
        if not rsa2_verify(account.app_key.public_key(), signed, params.get("sign", "")):
            raise Failure("40002", "Invalid Arguments", "isv.invalid-signature", "验签出错", signed=False)
        return account

    def _respond(self, key: str, body: dict, account: Account | None) -> Response:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        raw = f'{{"{key}":{text}'
        if account is not None:
            key = new_key() if account.forge_answers else account.alipay_key
            raw += f',"sign":"{rsa2_sign(key, text)}"'
        return Response(raw + "}", media_type="application/json;charset=utf-8")

    def _new_trade(self, account: Account, biz: dict, params: dict, method: str) -> dict:
        out_trade_no = str(biz.get("out_trade_no") or "")
        if not out_trade_no or len(out_trade_no) > 64 or not out_trade_no.replace("_", "").isalnum():
            raise business("ACQ.INVALID_PARAMETER", "out_trade_no 无效")
        amount = str(biz.get("total_amount") or "")
        try:
            fen = to_fen(amount)
        except ArithmeticError:
            raise business("ACQ.INVALID_PARAMETER", "total_amount 无效") from None
        if fen <= 0 or yuan(fen) != f"{Decimal(amount):.2f}":
            raise business("ACQ.INVALID_PARAMETER", "total_amount 无效")
        with self._lock:
            trade = account.trades.get(out_trade_no)
            if trade is not None:
                if trade["total_fen"] != fen or trade["subject"] != biz.get("subject"):
                    raise business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
                return trade
            trade = {
                "out_trade_no": out_trade_no, "trade_no": beijing_now().strftime("%Y%m%d") + "2200" + secrets.token_hex(8),
                "total_fen": fen, "subject": biz.get("subject", ""), "status": "WAIT_BUYER_PAY", "method": method,
                "time_expire": biz.get("time_expire", ""), "notify_url": params.get("notify_url", ""),
                "return_url": params.get("return_url", ""), "gmt_create": stamp(), "gmt_payment": "",
                "refunded_fen": 0, "product_code": biz.get("product_code", ""), "quit_url": biz.get("quit_url", ""),
            }
            account.trades[out_trade_no] = trade
        return trade

    def _precreate(self, account: Account, biz: dict, params: dict) -> dict:
        trade = self._new_trade(account, biz, params, "alipay.trade.precreate")
        return {"out_trade_no": trade["out_trade_no"],
                "qr_code": f"{self.url}/cashier/{account.app_id}/{trade['out_trade_no']}?qr=1"}

    def _trade(self, account: Account, biz: dict) -> dict:
        trade = account.trades.get(str(biz.get("out_trade_no") or ""))
        if trade is None:
            trade = next((t for t in account.trades.values() if t["trade_no"] == biz.get("trade_no")), None)
        if trade is None:
            raise business("ACQ.TRADE_NOT_EXIST", "交易不存在")
        self._expire(trade)
        return trade

    def _expire(self, trade: dict) -> None:
        if trade["status"] == "WAIT_BUYER_PAY" and trade["time_expire"] and trade["time_expire"] < stamp():
            trade["status"] = "TRADE_CLOSED"
            trade["gmt_close"] = stamp()

    def _query(self, account: Account, biz: dict, params: dict) -> dict:
        trade = self._trade(account, biz)
        return {"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"], "trade_status": trade["status"],
                "total_amount": yuan(trade["total_fen"]), "buyer_logon_id": "pat***@example.cn",
                **({"send_pay_date": trade["gmt_payment"]} if trade["gmt_payment"] else {})}

    def _close(self, account: Account, biz: dict, params: dict) -> dict:
        trade = self._trade(account, biz)
        if trade["status"] != "WAIT_BUYER_PAY":
            raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade["status"], trade["gmt_close"] = "TRADE_CLOSED", stamp()
        return {"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"]}

    def _refund(self, account: Account, biz: dict, params: dict) -> dict:
        trade = self._trade(account, biz)
        request_no = str(biz.get("out_request_no") or trade["out_trade_no"])
        fen = to_fen(str(biz.get("refund_amount") or "0"))
        with self._lock:
            done = account.refunds.get((trade["out_trade_no"], request_no))
            if done is not None:
                if done["fen"] != fen:
                    raise business("ACQ.DISCORDANT_REPEAT_REQUEST", "请求信息不一致")
                return {"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"], "fund_change": "N",
                        "refund_fee": yuan(trade["refunded_fen"])}
            if trade["status"] not in ("TRADE_SUCCESS",):
                raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            if fen <= 0 or trade["refunded_fen"] + fen > trade["total_fen"]:
                raise business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            trade["refunded_fen"] += fen
            refund = {"out_trade_no": trade["out_trade_no"], "out_request_no": request_no, "fen": fen,
                      "gmt_refund": stamp(), "trade_no": trade["trade_no"]}
            account.refunds[(trade["out_trade_no"], request_no)] = refund
            if trade["refunded_fen"] >= trade["total_fen"]:
                trade["status"], trade["gmt_close"] = "TRADE_CLOSED", stamp()
        self._notify(account, trade, refund=refund)
        return {"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"], "fund_change": "Y",
                "refund_fee": yuan(trade["refunded_fen"]), "gmt_refund_pay": refund["gmt_refund"]}

    def _refund_query(self, account: Account, biz: dict, params: dict) -> dict:
        trade = self._trade(account, biz)
        refund = account.refunds.get((trade["out_trade_no"], str(biz.get("out_request_no") or "")))
        if refund is None:
            return {"out_trade_no": trade["out_trade_no"], "trade_no": trade["trade_no"]}
        return {"out_trade_no": trade["out_trade_no"], "trade_no": trade["trade_no"], "out_request_no": refund["out_request_no"],
                "refund_amount": yuan(refund["fen"]), "total_amount": yuan(trade["total_fen"]), "refund_status": "REFUND_SUCCESS"}

    def _bill_url(self, account: Account, biz: dict, params: dict) -> dict:
        if biz.get("bill_type") != "trade":
            raise business("isv.invalid-bill-type", "账单类型不正确")
        day = str(biz.get("bill_date") or "")
        if day in account.missing_bills:
            raise business("isp.bill_not_exist", "账单不存在")
        token = secrets.token_hex(12)
        self._bills[token] = self.statement_zip(account, day)
        return {"bill_download_url": f"{self.url}/bills/{token}?downloadFileName=20880000_{day.replace('-', '')}.csv.zip"}

    async def bill_file(self, request: Request) -> Response:
        data = self._bills.pop(request.path_params["token"], None)  # a download address works once
        if data is None:
            return Response("expired", status_code=404)
        return Response(data, media_type="application/oct-stream")

    def statement_zip(self, account: Account, day: str) -> bytes:
        """The day's trade statement as Alipay ships it: a zip of two GBK CSV files."""
        header = ["支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称",
                  "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）",
                  "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）",
                  "卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注"]
        rows = []
        for t in account.trades.values():
            if t["gmt_payment"].startswith(day):
                rows.append([t["trade_no"], t["out_trade_no"], "交易", t["subject"], t["gmt_create"], t["gmt_payment"], "", "",
                             "", "", "pat***@example.cn", yuan(t["total_fen"]), yuan(t["total_fen"]), "0.00", "0.00", "0.00",
                             "0.00", "0.00", "", "0.00", "0.00", "", f"-{yuan(t['total_fen'] * 6 // 1000)}", "0.00", ""])
        for r in account.refunds.values():
            if r["gmt_refund"].startswith(day):
                t = account.trades[r["out_trade_no"]]
                rows.append([r["trade_no"], r["out_trade_no"], "退款", t["subject"], t["gmt_create"], r["gmt_refund"], "", "",
                             "", "", "pat***@example.cn", f"-{yuan(r['fen'])}", f"-{yuan(r['fen'])}", "0.00", "0.00", "0.00",
                             "0.00", "0.00", "", "0.00", "0.00", r["out_request_no"], "0.00", "0.00", ""])
        out = io.StringIO()
        out.write("#支付宝业务明细查询\n#账号：[20880000000000000156]\n")
        out.write(f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]\n")
        out.write("#-----------------------------------------业务明细列表----------------------------------------\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([f"{cell}\t" for cell in row])  # Alipay pads cells with a tab
        out.write("#-----------------------------------------业务明细列表结束------------------------------------\n")
        out.write(f"#交易合计：{sum(r[2] == '交易' for r in rows)}笔，退款合计：{sum(r[2] == '退款' for r in rows)}笔\n")
        out.write(f"#导出时间：[{stamp()}]\n")
        summary = "#支付宝业务汇总查询\n门店编号,门店名称,交易订单总笔数,退款订单总笔数\n合计,,%d,%d\n" % (
            sum(r[2] == "交易" for r in rows), sum(r[2] == "退款" for r in rows))
        buf = io.BytesIO()
        stem = f"20880000000000000156_{day.replace('-', '')}"
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in ((f"{stem}_业务明细.csv", out.getvalue()), (f"{stem}_业务明细(汇总).csv", summary)):
                info = zipfile.ZipInfo(name.encode("gbk").decode("cp437"), date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, text.encode("gbk"))
        return buf.getvalue()

    # --- the member's side ------------------------------------------------------------------

    def _open_cashier(self, account: Account, method: str, biz: dict, params: dict) -> Response:
        if biz.get("product_code") != {"alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY",
                                        "alipay.trade.wap.pay": "QUICK_WAP_PAY"}[method]:
            raise business("ACQ.INVALID_PARAMETER", "product_code 无效")
        trade = self._new_trade(account, biz, params, method)
        return RedirectResponse(f"{self.url}/cashier/{account.app_id}/{trade['out_trade_no']}", status_code=302)

    async def index(self, request: Request) -> Response:
        """The trades waiting to be paid, each linking to its cashier page: what scanning a
        QR code on the screen would open, for a visitor without a phone at hand."""
        with self._lock:
            waiting = [(account.app_id, t) for account in self.accounts.values() for t in account.trades.values()
                       if (self._expire(t) or t["status"]) == "WAIT_BUYER_PAY"]
        items = "".join(
            f"<li><a id='trade-{html.escape(t['out_trade_no'])}' href='{self.url}/cashier/{app_id}/{t['out_trade_no']}'>"
            f"{html.escape(t['subject'])} ¥{yuan(t['total_fen'])}</a></li>" for app_id, t in reversed(waiting))
        return HTMLResponse(_page("支付宝 · 练习网关", (
            "<h1>支付宝 · 练习网关</h1><p>本地练习网关，不会真实扣款。待支付的交易（打开即相当于用支付宝扫码）：</p>"
            f"<ul id='trades'>{items or '<li>暂无待支付交易</li>'}</ul>")))

    async def cashier(self, request: Request) -> Response:
        account = self.accounts.get(request.path_params["app_id"])
        trade = account.trades.get(request.path_params["trade"]) if account else None
        if trade is None:
            return HTMLResponse(_page("交易不存在", "<h1>交易不存在</h1>"), status_code=404)
        self._expire(trade)
        if trade["status"] != "WAIT_BUYER_PAY":
            return HTMLResponse(_page("交易已结束", f"<h1 id='state' data-state='{trade['status']}'>交易已结束 "
                                              f"{trade['status']}</h1>"), status_code=410)
        if request.method == "GET":
            kind = "手机网站支付" if trade["method"] == "alipay.trade.wap.pay" else (
                "扫码支付" if trade["method"] == "alipay.trade.precreate" else "电脑网站支付")
            return HTMLResponse(_page("支付宝收银台", (
                "<h1>支付宝 · 练习收银台</h1><p class='note'>本地练习网关，不会真实扣款。</p>"
                f"<p id='amount'>¥{yuan(trade['total_fen'])}</p>"
                f"<p id='kind'>{kind}</p><p id='subject'>{html.escape(trade['subject'])}</p>"
                "<form method='post'><button id='pay' name='action' value='pay'>确认支付</button> "
                "<button id='cancel' name='action' value='cancel'>取消</button></form>")))
        form = await request.form()
        if form.get("action") == "cancel":
            if trade["quit_url"]:
                return RedirectResponse(trade["quit_url"], status_code=303)
            return HTMLResponse(_page("已取消", "<h1 id='state' data-state='cancelled'>已取消支付</h1>"))
        back = self.pay(account.app_id, trade["out_trade_no"])
        await self._post_all(account, self._take_outgoing(account))
        return RedirectResponse(back, status_code=303) if back else HTMLResponse(
            _page("支付成功", "<h1 id='state' data-state='paid'>支付成功</h1>"))

    def pay(self, app_id: str, out_trade_no: str) -> str:
        """The member pays the trade (cashier page or QR scan): the trade succeeds, a notify is
        signed (and sent when asked); returns the signed return address ("" for a QR trade)."""
        account = self.accounts[app_id]
        trade = account.trades[out_trade_no]
        self._expire(trade)
        if trade["status"] != "WAIT_BUYER_PAY":
            raise ValueError(f"trade {out_trade_no} is {trade['status']}")
        trade.update(status="TRADE_SUCCESS", gmt_payment=stamp())
        self._notify(account, trade)
        if not trade["return_url"]:
            return ""
        fields = {"charset": "utf-8", "out_trade_no": trade["out_trade_no"], "method": trade["method"] + ".return",
                  "total_amount": yuan(trade["total_fen"]), "trade_no": trade["trade_no"], "auth_app_id": app_id,
                  "version": "1.0", "app_id": app_id, "seller_id": "2088000000000156", "timestamp": stamp()}
        fields["sign"] = rsa2_sign(account.alipay_key, signing_string(fields, ("sign", "sign_type")))
        fields["sign_type"] = "RSA2"
        sep = "&" if "?" in trade["return_url"] else "?"
        return trade["return_url"] + sep + urlencode(fields)

    def _notify(self, account: Account, trade: dict, refund: dict | None = None) -> dict:
        fields = {
            "notify_time": stamp(), "notify_type": "trade_status_sync", "notify_id": secrets.token_hex(16),
            "app_id": account.app_id, "charset": "utf-8", "version": "1.0", "trade_no": trade["trade_no"],
            "out_trade_no": trade["out_trade_no"], "buyer_id": "2088102177846880", "seller_id": "2088000000000156",
            "trade_status": trade["status"], "total_amount": yuan(trade["total_fen"]),
            "receipt_amount": yuan(trade["total_fen"]), "buyer_pay_amount": yuan(trade["total_fen"]),
            "subject": trade["subject"], "gmt_create": trade["gmt_create"], "gmt_payment": trade["gmt_payment"],
        }
        if refund is not None:
            fields.update(out_biz_no=refund["out_request_no"], refund_fee=yuan(trade["refunded_fen"]),
                          gmt_refund=refund["gmt_refund"] + ".000")
            if trade["status"] == "TRADE_CLOSED":
                fields["gmt_close"] = trade["gmt_close"]
        return self.send(account, fields, trade["notify_url"])

    def send(self, account: Account, fields: dict, url: str = "") -> dict:
        """Sign ``fields`` as a notify and keep them; with ``send_notifies`` they wait to be
        POSTed to ``url`` (by the endpoint that made them, once it can)."""
        fields = {k: v for k, v in fields.items() if k not in ("sign", "sign_type")}
        fields["sign"] = rsa2_sign(account.alipay_key, signing_string(fields, ()))
        fields["sign_type"] = "RSA2"
        with self._lock:
            account.notifies.append((fields, url))
            if account.send_notifies and url:
                account.outgoing.append((fields, url))
        return fields

    def _take_outgoing(self, account: Account) -> list:
        with self._lock:
            waiting = list(account.outgoing)
            account.outgoing.clear()
        return waiting

    async def _post_all(self, account: Account, waiting: list) -> None:
        """POST notifies as Alipay does (a form), noting each answer in ``account.deliveries``."""
        async with httpx.AsyncClient(timeout=10) as client:
            for fields, url in waiting:
                try:
                    r = await client.post(url, data=fields)
                    account.deliveries.append((fields["notify_id"], r.status_code, r.text))
                except httpx.HTTPError as exc:
                    account.deliveries.append((fields["notify_id"], str(exc), ""))


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><body>{body}</body></html>")
