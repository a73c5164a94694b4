"""A local SMTP server (aiosmtpd) that requires AUTH LOGIN/PLAIN and records the mail it takes."""

from __future__ import annotations

import socket
import warnings
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Controller(Controller):
    def factory(self):
        with warnings.catch_warnings():  # AUTH without TLS is what this local fake is for
            warnings.simplefilter("ignore", UserWarning)
            return super().factory()


class FakeSmtp:
    """``users`` maps usernames to passwords; ``messages`` holds parsed accepted mail."""

    def __init__(self):
        self.users: dict[str, str] = {}
        self.messages: list = []
        self.refuse: set[str] = set()  # recipients answered 550
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = _Controller(
            self, hostname="127.0.0.1", port=self.port,
            authenticator=self._authenticate, auth_required=True, auth_require_tls=False,
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(user) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def start(self) -> "FakeSmtp":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
