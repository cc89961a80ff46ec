"""Contact details: encrypted with keys kept outside the database, deletable on their own."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session, col, select

from backend.models import Contact, Report


class ContactKeyError(RuntimeError):
    """No usable contact key: the message says how to provide one."""


@dataclass(frozen=True)
class ContactDetails:
    """What a resident gave to be contacted."""

    email: str | None = None
    phone: str | None = None
    consent_notifications: bool = False


def normalise_phone(raw: str, default_region: str = "FR") -> str:
    """A phone number in E.164 form; ValueError if it is not a possible number."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def load_keys(setting: str | None, instance_path: Path) -> list[bytes]:
    """The Fernet keys, newest first: from the setting, or a key file made under instance/.

    The embedded default writes ``instance/contact.key`` with mode 0600 the first time; in
    production, set ``LANTERNE_CONTACT_KEYS`` from a secret store instead.
    """
    if setting:
        return [k.strip().encode() for k in setting.split(",") if k.strip()]
    path = instance_path / "contact.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return [path.read_bytes().strip()]


class ContactCipher:
    """Encrypts contact details (Fernet, with key rotation) and computes their keyed hashes."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ContactKeyError("no contact key: set LANTERNE_CONTACT_KEYS")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError as exc:
            raise ContactKeyError(
                "LANTERNE_CONTACT_KEYS holds an invalid key; create one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            ) from exc
        # The HMAC key is derived from the newest key, so it never sits in the database either.
        self._hmac_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"lanterne-contact-hmac"
        ).derive(keys[0])

    def encrypt(self, details: ContactDetails) -> bytes:
        """The encrypted form of the details."""
        payload = {"email": details.email, "phone": details.phone}
        return self._fernet.encrypt(json.dumps(payload).encode())

    def decrypt(self, token: bytes) -> ContactDetails:
        """The details back from their encrypted form."""
        try:
            payload = json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise ContactKeyError("this contact was encrypted with a key that is not set") from exc
        return ContactDetails(email=payload.get("email"), phone=payload.get("phone"))

    def keyed_hash(self, value: str) -> str:
        """HMAC-SHA256 of a normalised value, for abuse control."""
        return hmac.new(self._hmac_key, value.encode(), hashlib.sha256).hexdigest()


def make_contact(*, cipher: ContactCipher, report_id: int, details: ContactDetails) -> Contact:
    """A Contact row for a report (not yet added to a session)."""
    return Contact(
        report_id=report_id,
        ciphertext=cipher.encrypt(details),
        email_hmac=cipher.keyed_hash(details.email.lower()) if details.email else None,
        phone_hmac=cipher.keyed_hash(details.phone) if details.phone else None,
        consent_notifications=details.consent_notifications,
    )


def delete_contact(*, session: Session, report_id: int) -> bool:
    """Delete a report's contact details, leaving the report as it is. True if one existed."""
    contact = session.exec(select(Contact).where(Contact.report_id == report_id)).first()
    if contact is None:
        return False
    session.delete(contact)
    session.commit()
    return True


def read_contact(
    *, session: Session, cipher: ContactCipher, report_id: int
) -> ContactDetails | None:
    """Decrypt a report's contact details (callers log the read: staff only)."""
    contact = session.exec(select(Contact).where(Contact.report_id == report_id)).first()
    if contact is None:
        return None
    details = cipher.decrypt(contact.ciphertext)
    return ContactDetails(
        email=details.email,
        phone=details.phone,
        consent_notifications=contact.consent_notifications,
    )


def purge_expired_contacts(*, session: Session, retention: timedelta, now: datetime) -> int:
    """Delete the contact details of reports closed more than ``retention`` ago; return how many.

    Contact details serve only to tell the resident what happened; once the report is closed
    and the grace period is over, they go (GDPR storage limitation).
    """
    cutoff = now - retention
    expired = select(Report.id).where(
        col(Report.closed_at).is_not(None), col(Report.closed_at) < cutoff
    )
    rows = session.exec(select(Contact).where(col(Contact.report_id).in_(expired))).all()
    for contact in rows:
        session.delete(contact)
    session.commit()
    return len(rows)
