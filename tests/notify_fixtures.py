"""A real SMTP server (aiosmtpd) and a real webhook receiver (http.server) on free ports,
and the residents' rows (a reporter's contact, followers) the notification tests need."""

from __future__ import annotations

import email
import email.policy
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlmodel import Session

from backend.models import Report, ReportStatus, Subscription
from backend.services import public_notes
from backend.services.contacts import ContactCipher, ContactDetails, load_keys, make_contact
from backend.services.reports import set_status


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One message as the SMTP server accepted it."""

    rcpt_tos: list[str]
    message: EmailMessage

    def text(self) -> str:
        """The plain-text part."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    def html(self) -> str:
        """The HTML alternative."""
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())


class _Handler:
    def __init__(self, box: SmtpServer) -> None:
        self.box = box

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.box.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.box.messages.append(Received(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """aiosmtpd on a loopback port; ``stop``/``start`` take it down and back on that port."""

    port: int
    messages: list[Received] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        """The ``LANTERNE_SMTP_URL`` that points at it."""
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen."""
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening (connections are refused until ``start``)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        """The messages for one address."""
        return [m for m in self.messages if address in m.rcpt_tos]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on a free port, for one test."""
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailing(app: Flask, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> SmtpServer:
    """The app sends its e-mails to the test SMTP server."""
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    monkeypatch.setitem(app.config, "MAIL_FROM", "Ville de Marseille <signalements@marseille.fr>")
    return smtp_server


@pytest.fixture
def cipher(app: Flask) -> ContactCipher:
    """The app's contact cipher (its key file under the test instance folder)."""
    return ContactCipher(load_keys(app.config["CONTACT_KEYS"], Path(app.instance_path)))


def add_reporter(
    session: Session, cipher: ContactCipher, report: Report, email_address: str, *, consent: bool
) -> None:
    """The report's contact, as intake stores it."""
    assert report.id is not None
    details = ContactDetails(email=email_address, consent_notifications=consent)
    session.add(make_contact(cipher=cipher, report_id=report.id, details=details))
    session.commit()


def add_follower(
    session: Session,
    cipher: ContactCipher,
    report: Report,
    email_address: str | None,
    *,
    language: str = "fr",
    consent: bool = True,
) -> Subscription:
    """A follower of the report, as the "+1 / follow it" answer stores one."""
    assert report.id is not None
    row = Subscription(
        report_id=report.id,
        ciphertext=cipher.encrypt(ContactDetails(email=email_address)) if email_address else None,
        email_hmac=cipher.keyed_hash(email_address.lower()) if email_address else None,
        language=language,
        consent_notifications=consent,
        token=secrets.token_urlsafe(24),
    )
    session.add(row)
    session.commit()
    return row


@dataclass
class Hook:
    """One POST the webhook receiver got: raw body and headers."""

    body: bytes
    headers: dict[str, str]

    def json(self) -> dict[str, Any]:
        """The body, parsed."""
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A local HTTP server that records POSTs and answers the status codes it is told."""

    url: str
    hooks: list[Hook]
    answers: list[int]  # the next answers, in order; 200 once empty


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free loopback port."""
    hooks: list[Hook] = []
    answers: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's hook name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hooks.append(Hook(body=body, headers=dict(self.headers.items())))
            code = answers.pop(0) if answers else 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield Receiver(
        url=f"http://127.0.0.1:{httpd.server_port}/lanterne", hooks=hooks, answers=answers
    )
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def change(session: Session, report: Report, status: str, note: str | None = None) -> int:
    """A status change as staff and back offices make it (history, note scrubbing, commit)."""
    update = set_status(
        session=session, report=report, status=ReportStatus(status), public_note=note
    )
    public_notes.queue_scrubbing(session=session, update=update)
    session.commit()
    assert update.id is not None
    return update.id
