"""The e-mails to residents: written in their language, carried by SMTP or to .eml files.

Words are gettext messages in English, French in ``workers/translations`` (a job has no
request: each message is translated in the recipient's language, ``gettext_in``). Every mail
has a plain-text body and an HTML alternative, the tracking link, an unsubscribe link and the
``List-Unsubscribe`` headers (RFC 2369, one-click RFC 8058), and a Message-ID derived from
(step, recipient), the same on every attempt.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

from markupsafe import Markup

from backend.db import utcnow
from backend.services.tracking import tracking_path
from workers.signals.wording import N_, gettext_in

log = logging.getLogger(__name__)

STATUS_LABELS = {
    "received": N_("Received"),
    "open": N_("Open"),
    "in_progress": N_("In progress"),
    "fixed": N_("Fixed"),
    "closed": N_("Closed"),
    "rejected": N_("Not followed up"),
    "duplicate": N_("Duplicate of another report"),
}


def status_label(status: str, lang: str) -> str:
    """The resident-facing name of a status, in ``lang``."""
    label = STATUS_LABELS.get(status)
    return gettext_in(lang, label) if label else status


@dataclass(frozen=True)
class Letter:
    """What one e-mail says, before it becomes a message: subject and paragraphs."""

    subject: str
    # (text, link): a paragraph, and the URL it leads to (None: plain words).
    paragraphs: list[tuple[str, str | None]]
    footer: str
    unsubscribe_url: str
    lang: str


def links(
    public_url: str,
    *,
    tracking_id: str,
    token: str,
    lang: str,
    resident_token: str | None = None,
) -> tuple[str, str]:
    """The tracking and unsubscribe links of a mail: absolute, in the mail's language (the
    pages would otherwise follow the browser's, which may not be the resident's).

    ``resident_token``: the reporter's own token, for their mails only: the link opens their
    own report and its questionnaire (a follower's link opens the public page).
    """
    return (
        public_url + tracking_path(tracking_id, resident_token, lang),
        f"{public_url}/desabonner/{token}?lang={lang}",
    )


def status_letter(
    *,
    lang: str,
    follower: bool,
    service: str | None,
    status: str,
    note: str | None,
    tracking_url: str,
    unsubscribe_url: str,
) -> Letter:
    """The mail of one history step: the new status, the published note, the links."""
    label = status_label(status, lang)
    what = service or gettext_in(lang, "being sorted")
    if follower:
        subject = gettext_in(lang, "A report you follow: {status}", status=label)
        first = gettext_in(
            lang, "A report you follow ({service}) is now: {status}.", service=what, status=label
        )
    else:
        subject = gettext_in(lang, "Your report: {status}", status=label)
        first = gettext_in(
            lang, "Your report ({service}) is now: {status}.", service=what, status=label
        )
    paragraphs: list[tuple[str, str | None]] = [(gettext_in(lang, "Hello,"), None), (first, None)]
    if note:
        paragraphs.append((gettext_in(lang, "The city's note: {note}", note=note), None))
    paragraphs.append((gettext_in(lang, "Follow it on its page:"), tracking_url))
    return Letter(
        subject=subject,
        paragraphs=paragraphs,
        footer=gettext_in(
            lang,
            "You receive this e-mail because you asked to hear about this report. "
            "To receive no more:",
        ),
        unsubscribe_url=unsubscribe_url,
        lang=lang,
    )


def invitation_letter(
    *, lang: str, service: str | None, questionnaire_url: str, unsubscribe_url: str
) -> Letter:
    """The questionnaire invitation, some days after the city said "fixed"."""
    what = service or gettext_in(lang, "being sorted")
    return Letter(
        subject=gettext_in(lang, "Is it really fixed?"),
        paragraphs=[
            (gettext_in(lang, "Hello,"), None),
            (
                gettext_in(
                    lang,
                    "The city says your report ({service}) is fixed. Is it really? "
                    "Two questions, one minute, and the city checks its work:",
                    service=what,
                ),
                questionnaire_url,
            ),
        ],
        footer=gettext_in(
            lang,
            "You receive this e-mail because you asked to hear about this report. "
            "To receive no more:",
        ),
        unsubscribe_url=unsubscribe_url,
        lang=lang,
    )


def build_message(*, letter: Letter, to: str, sender: str, message_id: str) -> EmailMessage:
    """The MIME message: plain text, an HTML alternative, and the list headers."""
    message = EmailMessage()
    message["Subject"] = letter.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    lines = [text if link is None else f"{text}\n{link}" for text, link in letter.paragraphs]
    lines.append(f"-- \n{letter.footer}\n{letter.unsubscribe_url}")  # the signature line
    message.set_content("\n\n".join(lines) + "\n")
    html = [
        Markup("<p>{}</p>").format(text)
        if link is None
        else Markup('<p>{}<br><a href="{}">{}</a></p>').format(text, link, link)
        for text, link in letter.paragraphs
    ]
    html.append(
        Markup('<p style="color:#555;font-size:small">{} <a href="{}">{}</a></p>').format(
            letter.footer, letter.unsubscribe_url, letter.unsubscribe_url
        )
    )
    body = Markup('<!doctype html><html lang="{}"><body>{}</body></html>').format(
        letter.lang, Markup("\n").join(html)
    )
    message.add_alternative(str(body), subtype="html")
    # After the parts: making the message multipart moves Content-* headers into its parts.
    message["Content-Language"] = letter.lang
    return message


def message_id_for(key: str, sender: str) -> str:
    """A Message-ID from a delivery's stable key, in the sender's domain."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "lanterne.invalid"
    return f"<{key}@{domain}>"


# --- carrying them --------------------------------------------------------------------------


class PermanentRefusalError(Exception):
    """The server refused this message for good (a 5xx answer): trying again would not help."""


class TransientFailureError(Exception):
    """The message did not go for a passing reason (server down, 4xx): try again later."""


class UncertainDeliveryError(Exception):
    """The end of the message went but the server's answer did not come (connection lost,
    timeout): it may have accepted it. Never sent again (decision 0010)."""


# Called once the whole message but its final "." is with the server (the caller records
# "committing"); if it raises, the connection is dropped and the server discards the message.
BeforeEnd = Callable[[], None]


def _no_op() -> None:
    return None


class Transport:
    """Carries messages: one connection (or folder) for a job's messages."""

    def send(self, message: EmailMessage, before_end: BeforeEnd = _no_op) -> None:
        """Hand one message over, calling ``before_end`` just before its last bytes;
        PermanentRefusalError, TransientFailureError or UncertainDeliveryError if not."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection, if any."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class SmtpTarget:
    """Where ``LANTERNE_SMTP_URL`` points."""

    host: str
    port: int
    security: str  # "none", "ssl", "starttls"
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://user:pass@host:port``, ``smtps://`` (TLS from the start, port 465) or
    ``smtp+starttls://`` (STARTTLS, port 587); ValueError for anything else."""
    parts = urlsplit(url)
    security = {"smtp": "none", "smtps": "ssl", "smtp+starttls": "starttls"}.get(parts.scheme)
    if security is None or not parts.hostname:
        raise ValueError(
            "LANTERNE_SMTP_URL must look like smtp://user:password@host:port "
            "(or smtps://, smtp+starttls://)"
        )
    default_port = {"none": 25, "ssl": 465, "starttls": 587}[security]
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or default_port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class SmtpTransport(Transport):
    """The standard library's SMTP client, one connection per job, opened at the first send."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self.target = parse_smtp_url(url)
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        smtp: smtplib.SMTP
        if t.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                t.host, t.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
            if t.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if t.username:
            smtp.login(t.username, t.password or "")
        if smtp.sock is not None:
            # The final "." goes as a write of its own after the message (``_transaction``):
            # without this, Nagle's algorithm holds it until the server's delayed ACK (~40 ms).
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return smtp

    def send(self, message: EmailMessage, before_end: BeforeEnd = _no_op) -> None:
        """Send over the job's connection, in steps (``_transaction``); the server's answer
        decides the exception."""
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._transaction(self._smtp, message, before_end)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            self._drop()
            if codes and all(code >= 500 for code in codes):
                raise PermanentRefusalError(f"recipient refused: {codes}") from exc
            raise TransientFailureError(f"recipient deferred: {codes}") from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            if exc.smtp_code >= 500:
                raise PermanentRefusalError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise TransientFailureError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except UncertainDeliveryError:
            self._drop()
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TransientFailureError(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            # ``before_end`` failed (the database?): the final "." never goes, and closing
            # the connection makes the server discard the unfinished message.
            self._drop()
            raise

    @staticmethod
    def _transaction(smtp: smtplib.SMTP, message: EmailMessage, before_end: BeforeEnd) -> None:
        """MAIL, RCPT, DATA and the message without its final ".", ``before_end()``, then
        the "." and the answer: smtplib's ``send_message`` in steps, so that the caller can
        record the moment after which the server may have the message."""
        sender = parseaddr(str(message["From"]))[1]
        to = [addr for _, addr in getaddresses([str(v) for v in message.get_all("To", [])])]
        body = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        international = any(not a.isascii() for a in [sender, *to])
        smtp.ehlo_or_helo_if_needed()
        options: list[str] = []
        if smtp.does_esmtp:
            if smtp.has_extn("size"):
                options.append(f"size={len(body)}")
            if smtp.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            if international:
                if not smtp.has_extn("smtputf8"):
                    raise smtplib.SMTPNotSupportedError(
                        "an international address, and the server has no SMTPUTF8"
                    )
                options.append("SMTPUTF8")
        code, reply = smtp.mail(sender, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        refused: dict[str, tuple[int, bytes]] = {}
        for addr in to:
            code, reply = smtp.rcpt(addr)
            if code not in (250, 251):
                refused[addr] = (code, reply)
        if len(refused) == len(to):
            raise smtplib.SMTPRecipientsRefused(refused)  # type: ignore[arg-type]
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        # Dot-stuffing (RFC 5321 4.5.2), ending on a line end; not the final "." yet.
        data = re.sub(rb"(?m)^\.", b"..", body)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        smtp.send(data)
        before_end()
        try:
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            raise UncertainDeliveryError(
                f"no answer after the end of the message: {type(exc).__name__}: {exc}"
            ) from exc
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        """Say QUIT to the server if a connection was opened."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._smtp = None


class FileTransport(Transport):
    """Development: each message written as ``<folder>/<message id>.eml`` (no server needed).

    A message sent again (same Message-ID) replaces its file.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage, before_end: BeforeEnd = _no_op) -> None:
        """Write the message, atomically, and say so on the worker's log."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("/", "_").split("@")[0]
        path = self.folder / f"{name}.eml"
        tmp = path.with_suffix(".eml.tmp")
        tmp.write_bytes(message.as_bytes())
        before_end()
        os.replace(tmp, path)
        log.info("mail (no LANTERNE_SMTP_URL): %r written to %s", message["Subject"], path)


def transport_for(smtp_url: str | None, *, timeout: float, mail_path: Path) -> Transport:
    """SMTP when a URL is set, else the .eml folder."""
    if smtp_url:
        return SmtpTransport(smtp_url, timeout=timeout)
    return FileTransport(mail_path)
