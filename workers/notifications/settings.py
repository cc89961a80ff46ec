"""What the notification jobs need from the configuration, read once per job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class NotifySettings:
    """SMTP, sender, links, webhook and invitation settings (``backend.config``)."""

    smtp_url: str | None
    smtp_timeout: float
    mail_from: str
    mail_path: Path
    public_url: str
    secret_key: str
    webhook_timeout: float
    max_attempts: int
    invite_after: timedelta

    @property
    def stale_after(self) -> timedelta:
        """How old a "sending" row must be before a new attempt takes it up: longer than
        any send may last (the SMTP or HTTP timeout, twice, and a margin)."""
        return timedelta(seconds=2 * max(self.smtp_timeout, self.webhook_timeout) + 5)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NotifySettings:
        """The settings of an app's config."""
        return cls(
            smtp_url=config.get("SMTP_URL"),
            smtp_timeout=float(config["SMTP_TIMEOUT"]),
            mail_from=str(config["MAIL_FROM"]),
            mail_path=Path(config["MAIL_PATH"]),
            public_url=str(config["PUBLIC_BASE_URL"]).rstrip("/"),
            secret_key=str(config["SECRET_KEY"]),
            webhook_timeout=float(config["WEBHOOK_TIMEOUT"]),
            max_attempts=int(config["NOTIFY_MAX_ATTEMPTS"]),
            invite_after=timedelta(days=int(config["QUESTIONNAIRE_INVITE_DAYS"])),
        )


def contact_cipher(app: Any) -> Any:
    """The app's contact cipher (the one the API builds), built once per process."""
    from backend.services.contacts import ContactCipher, load_keys

    cipher = app.extensions.get("lanterne.contact_cipher")
    if cipher is None:
        keys = load_keys(app.config["CONTACT_KEYS"], Path(app.instance_path))
        cipher = app.extensions["lanterne.contact_cipher"] = ContactCipher(keys)
    return cipher
