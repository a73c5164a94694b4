"""Electronic receipts (R6): every payment and refund of a member's bookings and in-clinic fee
orders as a receipt, and a printable page and a PDF of one (zh-CN first, with English).

:func:`member_receipts` reads them from the booking events (the same records reconciliation
matches: ``paid``/``paid_late``; ``refunded``, ``refund_succeeded``, ``refund_failed``) and from
the fee orders; :func:`render_receipt` makes the printable HTML page, :func:`render_receipt_pdf`
the PDF. The patient site serves them behind the member's session at ``/c/{city}/receipts``.
"""

from .pdf import render_receipt_pdf
from .service import Receipt, member_receipts, receipt_by_number, render_receipt

__all__ = ["Receipt", "member_receipts", "receipt_by_number", "render_receipt", "render_receipt_pdf"]
