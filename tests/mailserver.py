"""A real SMTP server on loopback for the notice tests (aiosmtpd), and reading back what it received.

MailServer records every message it accepted (envelope and parsed message). It can refuse given
recipients (550 at RCPT, as a mail server does for an unknown mailbox) and can hold the n-th
message at DATA until the test releases it: the sending worker is then frozen in the middle of the
SMTP conversation, where a test kills it. A held message is answered 451 (try again later), so
it is not delivered: the client never heard it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from pypdf import PdfReader


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return self.recipients[0]

    def pdfs(self) -> list[tuple[str, bytes]]:
        return [
            (part.get_filename() or "", part.get_content())
            for part in self.message.iter_attachments()
            if part.get_content_type() == "application/pdf"
        ]

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""

    def html(self) -> str:
        body = self.message.get_body(preferencelist=("html",))
        return body.get_content() if body is not None else ""


@dataclass
class _Handler:
    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    refused_tries: dict[str, int] = field(default_factory=dict)
    hold_at: int | None = None  # hold the message with this number (1-based count of DATA commands)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    data_commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.lower() in self.refuse:
            with self.lock:
                self.refused_tries[address.lower()] = self.refused_tries.get(address.lower(), 0) + 1
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_commands += 1
            number = self.data_commands
        if number == self.hold_at:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailServer:
    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = _free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address.lower() in (a.lower() for a in r.recipients)]

    def refuse(self, *addresses: str) -> None:
        self.handler.refuse = {a.lower() for a in addresses}

    def refused_tries(self, address: str) -> int:
        return self.handler.refused_tries.get(address.lower(), 0)

    def hold(self, number: int) -> None:
        self.handler.hold_at = number

    def env(self) -> dict[str, str]:
        """The settings that point the app (or a worker) at this server."""
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_TLS": "off",
            "MAIL_FROM": "Harbor Fund Services <notices@fund.example>",
        }


@contextlib.contextmanager
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    server.controller.start()
    try:
        yield server
    finally:
        server.handler.release.set()
        server.controller.stop()


def pdf_text(content: bytes) -> str:
    """The text of every page of a PDF, as pypdf reads it."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def pdf_links(content: bytes) -> list[Any]:
    """Every link annotation in a PDF (there must be none from user text)."""
    found = []
    for page in PdfReader(io.BytesIO(content)).pages:
        for annotation in page.get("/Annots") or []:
            found.append(annotation.get_object())
    return found
