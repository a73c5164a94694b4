"""The three adapter kinds plugins provide: payment providers, HIS adapters, notification senders.

Each is a small abstract class: core calls only what is written here, so a provider for a new
bank or a new HIS needs nothing else. Objects are stateless; the city's settings and decrypted
secrets for the plugin that registered the object are passed in on every call, so one object
serves every city. Errors a person can act on are ``core.errors.DomainError`` subclasses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Mapping

from guahao.core.errors import DomainError

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
    """

    name: str = ""
    verbose_name: str = ""
    refund_supported: bool = False
    partial_refund_supported: bool = False
    online: bool = False

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
    async def refund(self, booking: "Booking", amount_fen: int, settings: Mapping, secrets: Mapping) -> RefundResult:
        """Give back ``amount_fen`` of a paid booking."""

    async def cancel(self, booking: "Booking", settings: Mapping, secrets: Mapping) -> None:
        """Abandon a prepared, unpaid payment (a hold that ran out). Default: nothing to do."""
        return None

    def matching_id(self, booking: "Booking") -> str:
        """The id the provider's statements carry for this booking."""
        return booking.payment_ref or booking.id


# --- hospital information systems ---------------------------------------------------------


@dataclass(frozen=True)
class HisAck:
    """The HIS's answer to a push: its own reference for the appointment."""

    reference: str = ""
    message: str = ""


@dataclass(frozen=True)
class ScheduleItem:
    """One session as a HIS reports it (pulled schedules, R2.6)."""

    doctor_code: str
    date: date
    half_day: str
    periods: list[dict] = field(default_factory=list)  # {start, end, pools: {pool: capacity}}


class HisAdapter(ABC):
    """The platform side of one hospital information system interface (R7).

    Pushes raise on failure; core retries them with back-off, so a down HIS delays a booking's
    transfer but never loses it (R7.3). ``booking`` is a ``core.booking.views.BookingView``
    as a JSON dict.

    Attributes:
        name: stable identifier; ``Hospital.his_adapter`` names it.
        verbose_name: shown to operators.
        supports_pull: ``pull_schedules`` is implemented.
    """

    name: str = ""
    verbose_name: str = ""
    supports_pull: bool = False

    @abstractmethod
    async def push_booking(self, city: "CityContext", booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        """Tell the HIS about a new confirmed (or held) booking."""

    @abstractmethod
    async def push_cancellation(
        self, city: "CityContext", booking: dict, settings: Mapping, secrets: Mapping
    ) -> HisAck:
        """Tell the HIS a booking was cancelled or expired; its slot is free again."""

    async def pull_schedules(
        self, city: "CityContext", hospital_code: str, date_from: date, date_to: date, settings: Mapping, secrets: Mapping
    ) -> list[ScheduleItem]:
        """Sessions the HIS publishes for a hospital and date range (optional)."""
        raise NotImplementedError(f"{self.name} does not publish schedules")


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
