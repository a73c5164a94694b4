"""Electronic receipts (R6): every payment and refund of a member's bookings as a receipt, and a
printable page of one (zh-CN first, with English).

:func:`member_receipts` reads them from the booking events (the same records reconciliation
matches: ``paid``/``paid_late``; ``refunded``, ``refund_succeeded``, ``refund_failed``);
:func:`render_receipt` makes the printable HTML page. A patient site serves them behind the
member's session, e.g. ``/c/{city}/bookings/{ref}/receipts/{number}``.
"""

from .service import Receipt, member_receipts, receipt_by_number, render_receipt

__all__ = ["Receipt", "member_receipts", "receipt_by_number", "render_receipt"]
