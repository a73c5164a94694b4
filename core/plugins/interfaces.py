"""The three adapter kinds plugins provide: payment providers, HIS adapters, notification senders.

Each is a small abstract class: core calls only what is written here, so a provider for a new
bank or a new HIS needs nothing else. Objects are stateless; the city's settings and decrypted
secrets for the plugin that registered the object are passed in on every call, so one object
serves every city. Errors a person can act on are ``core.errors.DomainError`` subclasses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

from guahao.core.errors import DeliveryRefused, DomainError

if TYPE_CHECKING:
    from guahao.core.models import Booking
    from guahao.core.plugins.http import TransportError
    from guahao.tenants.context import CityContext


class PaymentError(DomainError):
    """The provider declined or could not take the payment (answered 402)."""

    status = 402


# --- payments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentIntent:
    """What ``prepare`` hands back: how the member pays; no money has moved yet.

    Parameters:
        provider: provider name.
        booking_id: the booking being paid.
        amount_fen: amount due, integer fen.
        online: ``False`` when the fee is collected outside the platform (at the hospital).
        instructions: what to tell the member (zh-CN).
        redirect_url: where to send the member to pay, when the provider has a page.
        reference: the provider's id of the intent (matched on callback and reconciliation).
        data: provider-specific values for the client (never secrets).
    """

    provider: str
    booking_id: str
    amount_fen: int
    online: bool
    instructions: str = ""
    redirect_url: str | None = None
    reference: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentResult:
    """Outcome of ``execute``: ``paid`` means the money is ours; ``pending`` means not yet."""

    provider: str
    booking_id: str
    status: str  # paid | pending
    payment_ref: str = ""
    amount_fen: int = 0


@dataclass(frozen=True)
class RefundResult:
    """Outcome of ``refund``: ``refunded``, ``pending`` (asynchronous) or ``nothing_to_refund``."""

    status: str
    amount_fen: int = 0
    reference: str = ""


STATEMENT_KINDS: tuple[str, ...] = ("payment", "refund")


@dataclass(frozen=True)
class StatementLine:
    """One line of a provider's daily statement (R6.4), as reconciliation reads it.

    Parameters:
        kind: ``payment`` or ``refund`` (one of :data:`STATEMENT_KINDS`).
        provider_ref: the provider's id of the transaction (of the refund, for a refund).
        our_ref: the platform's reference the provider was given: the booking's
            ``payment_ref`` (the merchant's order number).
        amount_fen: the amount moved, integer fen, positive for refunds too.
        status: ``paid`` (a payment that went through), ``refunded`` (a refund that went
            through), ``pending``, ``failed`` or ``closed``.
        at: when the provider says it happened (aware, any zone), if it says.
        booking_id: the booking, when the provider's reference names it.
        refund_ref: for a refund, the merchant's refund number (``out_refund_no``,
            ``out_request_no``) the platform recorded.
    """

    kind: str
    provider_ref: str
    our_ref: str
    amount_fen: int
    status: str
    at: datetime | None = None
    booking_id: str = ""
    refund_ref: str = ""


class PaymentProvider(ABC):
    """A way to pay the registration fee (R6).

    Lifecycle: ``prepare`` (moves no money) → the member pays → ``execute`` confirms (or raises
    ``PaymentError``) → later ``refund`` or, before payment, ``cancel``. ``matching_id`` is the
    reference used to match the provider's statements against bookings (R6.4).

    Attributes:
        name: stable identifier stored on bookings (``payment_provider``).
        verbose_name: shown to members and operators (zh-CN).
        refund_supported: full refunds can be made through the provider.
        partial_refund_supported: refunds of part of the amount can be made.
        online: the member pays through the provider before the visit (a hospital with
            ``payment_mode`` online needs one); ``False`` for fees collected at the hospital.
        charges_phone: the fee goes on the member's phone bill: core hands such a provider
            (and only such a one) the member's mobile number as the ``pay_phone`` query
            parameter of ``return_url`` (in the API since 1.2).
    """

    name: str = ""
    verbose_name: str = ""
    refund_supported: bool = False
    partial_refund_supported: bool = False
    online: bool = False
    charges_phone: bool = False

    @abstractmethod
    async def prepare(
        self,
        booking: "Booking",
        settings: Mapping,
        secrets: Mapping,
        *,
        return_url: str | None = None,
        description: str = "",
    ) -> PaymentIntent:
        """Start a payment for ``booking.fee_fen``; must not move money. ``return_url`` is the
        absolute address the provider's page sends the member back to (online providers);
        ``description`` says what is paid for (doctor, department, time) in words."""

    @abstractmethod
    async def execute(
        self, booking: "Booking", settings: Mapping, secrets: Mapping, *, data: Mapping | None = None
    ) -> PaymentResult:
        """Confirm the payment (``data`` is what the client or callback returned) or raise."""

    @abstractmethod
    async def refund(
        self, booking: "Booking", amount_fen: int, settings: Mapping, secrets: Mapping, *, key: str = ""
    ) -> RefundResult:
        """Give back ``amount_fen`` of a paid booking. ``key`` names this refund among the
        payment's refunds (the provider's idempotency key): asked again with the same key it is
        the same refund, so a retried job never refunds twice; two partial refunds of the same
        amount (two returned drugs of one price) need keys of their own. Without a key the
        refund is named by its amount. (``key`` is in the API since 1.2.)"""

    async def cancel(self, booking: "Booking", settings: Mapping, secrets: Mapping) -> None:
        """Abandon a prepared, unpaid payment (a hold that ran out). Default: nothing to do."""
        return None

    def matching_id(self, booking: "Booking") -> str:
        """The id the provider's statements carry for this booking."""
        return booking.payment_ref or booking.id

    async def statement(
        self, day: date, settings: Mapping, secrets: Mapping
    ) -> Sequence[StatementLine | Mapping[str, Any]]:
        """The provider's statement of ``day`` (the provider's calendar day): one
        :class:`StatementLine` per payment and refund, for the daily reconciliation (R6.4).
        A provider may hand back its statement rows as mappings instead (the WeChat Pay and
        Alipay rows, or mappings with the fields of :class:`StatementLine`); core maps them.
        Default: not supported (raises ``NotImplementedError``); such a provider is left out of
        reconciliation."""
        raise NotImplementedError(f"{self.name} has no statements")


# --- hospital information systems ---------------------------------------------------------


@dataclass(frozen=True)
class HisAck:
    """The HIS's answer to a push: its own reference for the appointment (or payment)."""

    reference: str = ""
    message: str = ""


@dataclass(frozen=True)
class ScheduleItem:
    """One session as a HIS publishes it (pulled schedules, R2.6).

    Parameters:
        doctor_code: the doctor's code in the platform's catalogue (the hospital's own code).
        date: the session's day (the hospital's local date).
        half_day: ``am``, ``pm`` or ``night``.
        periods: ``{"start": "08:00", "end": "08:30", "pools": {pool: capacity}}`` each; the
            pools are the platform's registration pools (``general``, ``onsite``, …).
        department_code: the department, when the doctor sits in more than one.
        campus_code: the campus, when not the department's usual one.
        fee_fen: the registration fee, when the HIS sets it (else the doctor's title fee).
        status: ``open``, or ``suspended`` when the HIS cancelled the session (停诊): booked
            patients go through the suspension flow (R8) with ``reason``.
        reason: why it was suspended, in words for patients.
        reference: the HIS's own id of the session, kept for reconciliation.
    """

    doctor_code: str
    date: date
    half_day: str
    periods: list[dict] = field(default_factory=list)
    department_code: str = ""
    campus_code: str = ""
    fee_fen: int | None = None
    status: str = "open"
    reason: str = ""
    reference: str = ""


VISIT_OUTCOMES: tuple[str, ...] = ("checked_in", "seen", "no_show", "unknown")


@dataclass(frozen=True)
class VisitStatus:
    """What a HIS knows of one booking's visit (R4.1): checked in (取号), seen, or a no-show.

    Parameters:
        booking_id: the platform's booking id (sent with every push).
        outcome: one of :data:`VISIT_OUTCOMES`.
        at: when it happened (UTC), if the HIS says.
        reference: the HIS's appointment or visit number.
    """

    booking_id: str
    outcome: str
    at: datetime | None = None
    reference: str = ""


@dataclass(frozen=True)
class FeeItem:
    """An outstanding charge of a visit the member may pay online (诊间支付, R6).

    Parameters:
        item_id: the HIS's id of the charge (stable; payments and refunds name it).
        kind: ``drug``, ``exam``, ``lab``, ``treatment`` or ``other``.
        name: what it is, as printed on the receipt (zh-CN).
        amount_fen: amount due, integer fen.
        quantity: units, for the receipt.
        visit_reference: the HIS's visit number the charge belongs to.
        booking_id: the platform booking of that visit, when known.
        department: the prescribing department's name.
        status: ``unpaid``, ``paid`` or ``refunded`` (as the HIS sees it).
    """

    item_id: str
    kind: str
    name: str
    amount_fen: int
    quantity: str = "1"
    visit_reference: str = ""
    booking_id: str = ""
    department: str = ""
    status: str = "unpaid"


@dataclass(frozen=True)
class HisHealth:
    """Whether the HIS answers: ``ok`` with a detail for staff and the round-trip time."""

    ok: bool
    detail: str = ""
    latency_ms: float | None = None


class HisRejected(DeliveryRefused):
    """The HIS refused a push for good (an HL7 ``AR``, a FHIR 4xx): resending the same will not
    help. The outbox stops retrying and shows the delivery as failed with the HIS's text, for a
    person to fix and retry, or abandon."""


HIS_OPERATIONS: tuple[str, ...] = (
    "book", "cancel", "move", "payment", "refund", "no_show", "schedules", "visits", "fees", "health",
)


class HisAdapter(ABC):
    """The platform side of one hospital information system interface (R7).

    Pushes raise on failure; core retries them with back-off, so a down HIS delays a booking's
    transfer but never loses it (R7.3); :class:`HisRejected` stops the retries (the HIS said no
    for good). ``booking`` is a ``core.booking.views.BookingView`` as a JSON dict. Only
    ``push_booking`` and ``push_cancellation`` are required; each other operation has a default
    and is listed in ``operations`` when the adapter really implements it, so core and the
    console know what this hospital's HIS can do.

    Attributes:
        name: stable identifier; ``Hospital.his_adapter`` names it.
        verbose_name: shown to operators.
        operations: which of :data:`HIS_OPERATIONS` the adapter implements.
        supports_pull: ``pull_schedules`` is implemented (same as ``"schedules" in operations``).
    """

    name: str = ""
    verbose_name: str = ""
    operations: frozenset[str] = frozenset({"book", "cancel"})
    supports_pull: bool = False

    def supports(self, operation: str) -> bool:
        """The adapter implements ``operation`` (one of :data:`HIS_OPERATIONS`)."""
        return operation in self.operations or (operation == "schedules" and self.supports_pull)

    @abstractmethod
    async def push_booking(self, city: "CityContext", booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        """Tell the HIS about a new confirmed (or held) booking."""

    @abstractmethod
    async def push_cancellation(
        self, city: "CityContext", booking: dict, settings: Mapping, secrets: Mapping
    ) -> HisAck:
        """Tell the HIS a booking was cancelled or expired; its slot is free again."""

    async def push_move(
        self, city: "CityContext", booking: dict, previous: dict, settings: Mapping, secrets: Mapping
    ) -> HisAck:
        """Tell the HIS a booking moved to another session or period (R8: a suspension's
        transfer, a member's change). ``previous`` is the booking view before the move.
        Default: cancel the old appointment, then book the new one."""
        await self.push_cancellation(city, previous, settings, secrets)
        return await self.push_booking(city, booking, settings, secrets)

    async def push_payment(
        self, city: "CityContext", booking: dict, payment: dict, settings: Mapping, secrets: Mapping
    ) -> HisAck:
        """Tell the HIS money was received: ``payment`` has ``kind`` (``registration`` or
        ``fees``), ``provider``, ``reference``, ``amount_fen`` and, for fees, ``items`` (the
        :class:`FeeItem` ids paid). Default: the HIS does not take payment messages."""
        return HisAck(message="not supported")

    async def push_no_show(self, city: "CityContext", booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        """Tell the HIS the platform recorded a no-show: the booking's period ended and nobody
        reported the patient's arrival (the platform's own sweep; a no-show the HIS reported is
        not sent back). Default: not taken. (In the API since 1.2.)"""
        return HisAck(message="not supported")

    async def push_refund(
        self, city: "CityContext", booking: dict, refund: dict, settings: Mapping, secrets: Mapping
    ) -> HisAck:
        """Tell the HIS money was given back: ``refund`` as ``payment`` in :meth:`push_payment`,
        ``amount_fen`` the part refunded. Default: not taken."""
        return HisAck(message="not supported")

    async def pull_schedules(
        self, city: "CityContext", hospital_code: str, date_from: date, date_to: date, settings: Mapping, secrets: Mapping
    ) -> list[ScheduleItem]:
        """Sessions the HIS publishes for a hospital and date range, both ends included."""
        raise NotImplementedError(f"{self.name} does not publish schedules")

    async def pull_visit_status(
        self, city: "CityContext", hospital_code: str, day: date, settings: Mapping, secrets: Mapping
    ) -> list[VisitStatus]:
        """What the HIS knows of the visits of ``day`` (check-ins, completed visits, no-shows);
        bookings it does not list are not known to it."""
        raise NotImplementedError(f"{self.name} does not report visits")

    async def pull_fee_items(
        self, city: "CityContext", hospital_code: str, patient: dict, settings: Mapping, secrets: Mapping
    ) -> list[FeeItem]:
        """The outstanding charges of a patient (``patient``: ``member_id``, ``name``,
        ``id_number`` and ``card_no`` as the hospital's settings allow)."""
        raise NotImplementedError(f"{self.name} does not report fee items")

    async def health(self, city: "CityContext", settings: Mapping, secrets: Mapping) -> HisHealth:
        """Whether the HIS answers now. Default: no check possible, reported as unknown-but-ok."""
        return HisHealth(ok=True, detail="no health check")


# --- notifications ------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingMessage:
    """A message core planned for one person (R9); ``notification_id`` names its log row."""

    notification_id: int
    kind: str
    channel: str  # sms | wechat | email | voice | push
    recipient: str
    body: str
    member_id: int | None = None
    booking_id: str | None = None
    essential: bool = True
    params: Mapping[str, str] = field(default_factory=dict)  # values for provider templates


SendStatus = Literal["sent", "failed", "unreachable"]
SEND_STATUSES: tuple[str, ...] = ("sent", "failed", "unreachable")


@dataclass(frozen=True, init=False)
class SendResult:
    """Outcome of ``send``, as data core acts on; build one with the class methods.

    ``sent``: delivered. ``unreachable``: this sender cannot reach this member at all (no
    address on its channel) — recorded as skipped, not as a failure. ``failed``: not delivered;
    with ``retryable`` the outbox tries again later (after at least ``retry_after`` seconds when
    the provider asked for a pause), without it the failure is final.

    The older form ``SendResult(ok=…, provider_ref=…, error=…, retryable=…)`` still works and
    means ``sent`` or ``failed``.

    Parameters:
        ok: older form of ``status``: ``True`` for ``sent``, ``False`` for ``failed``.
        provider_ref: the provider's id of the sent message (receipts, statements).
        error: what went wrong, for staff (no secrets).
        retryable: a failure that a later try may turn into ``sent`` (only kept for ``failed``).
        status: ``sent``, ``failed`` or ``unreachable``.
        retry_after: seconds the provider asked to wait before trying again (a hint).
    """

    status: SendStatus
    provider_ref: str
    error: str
    retryable: bool
    retry_after: float | None

    def __init__(
        self,
        ok: bool | None = None,
        provider_ref: str = "",
        error: str = "",
        retryable: bool = True,
        *,
        status: SendStatus | None = None,
        retry_after: float | None = None,
    ) -> None:
        if status is None:
            if ok is None:
                raise TypeError("SendResult needs a status")
            status = "sent" if ok else "failed"
        elif status not in SEND_STATUSES:
            raise ValueError(f"unknown send status {status!r}")
        elif ok is not None and ok != (status == "sent"):
            raise ValueError(f"ok={ok} contradicts status {status!r}")
        failed = status == "failed"
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "provider_ref", provider_ref)
        object.__setattr__(self, "error", error)
        object.__setattr__(self, "retryable", bool(retryable) and failed)
        object.__setattr__(self, "retry_after", retry_after if failed else None)

    @property
    def ok(self) -> bool:
        """The message was delivered."""
        return self.status == "sent"

    @classmethod
    def sent(cls, provider_ref: str = "") -> "SendResult":
        """Delivered; ``provider_ref`` is the provider's id of the message."""
        return cls(status="sent", provider_ref=provider_ref)

    @classmethod
    def failed(cls, error: str, *, retryable: bool = True, retry_after: float | None = None) -> "SendResult":
        """Not delivered: ``error`` says why; ``retryable`` (default) asks for a later try,
        ``retry_after`` is how many seconds the provider asked to wait."""
        return cls(status="failed", error=error, retryable=retryable, retry_after=retry_after)

    @classmethod
    def refused(cls, error: str) -> "SendResult":
        """A failure that will not change on retry (bad configuration, no template, a number
        the provider rejects)."""
        return cls(status="failed", error=error, retryable=False)

    @classmethod
    def unreachable(cls, reason: str) -> "SendResult":
        """This sender cannot reach this member (no address on its channel): not a failure."""
        return cls(status="unreachable", error=reason, retryable=False)

    @classmethod
    def from_error(cls, error: "TransportError") -> "SendResult":
        """The failure a ``core.plugins.http.TransportError`` describes: retryable unless
        ``permanent``, with its ``Retry-After`` hint."""
        return cls.failed(str(error), retryable=not error.permanent, retry_after=error.retry_after)


class NotificationSender(ABC):
    """Delivers messages on one or more channels (SMS gateway, WeChat template, e-mail…).

    Attributes:
        name: stable identifier recorded on the notification.
        verbose_name: shown to operators.
        channels: channels it can deliver, e.g. ``{"sms"}``.
    """

    name: str = ""
    verbose_name: str = ""
    channels: frozenset[str] = frozenset()

    @abstractmethod
    async def send(self, city: "CityContext", message: OutgoingMessage, settings: Mapping, secrets: Mapping) -> SendResult:
        """Deliver ``message`` and say how it went. May raise ``core.plugins.http.TransportError``
        (final when ``permanent``); any other exception counts as a retryable failure."""
