"""Email through SMTP, configured by settings (SMTP_HOST, SMTP_PORT, SMTP_TLS, SMTP_USER, SMTP_PASSWORD,
MAIL_FROM). No SMTP_HOST means mail is off: notices are then stored and shown in the app only.

send() delivers one message or raises SendFailed, saying whether the server refused it for good
(a 5xx reply, e.g. an unknown recipient) or only for now (a 4xx reply, a lost connection). Each
message carries a Message-ID derived from its notice, so the rare resend after a crash between the
server's acceptance and the database's record of it is recognisably the same message.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from core import clock
from core.logs import mask_secrets
from core.settings import settings

TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class MailStatus:
    """What the operations health page says about mail."""

    on: bool
    detail: str


def enabled() -> bool:
    return bool(settings().smtp_host)


def status() -> MailStatus:
    """On, with where it goes (never the user name or password); or off, and what that means."""
    config = settings()
    if not config.smtp_host:
        return MailStatus(False, "Mail is off (no SMTP_HOST): notices are stored and shown in the app only.")
    tls = {"off": "no TLS", "starttls": "STARTTLS", "ssl": "TLS"}[config.smtp_tls]
    return MailStatus(
        True, f"Mail is on: {config.smtp_host}:{config.smtp_port}, {tls}, from {config.mail_from}"
    )


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


class SendFailed(Exception):
    """The server did not take the message; `permanent` when it refused it for good (5xx)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def _one_line(text: str) -> str:
    """Header text on one line: a line break in a header would start another header."""
    return " ".join(text.split())


_NAME_UNSAFE = re.compile(r"[^\w .'-]+")


def _display_name(text: str) -> str:
    """A person's name as an address header may carry it: letters, digits, spaces and . ' - only,
    at most 64 characters. Python's header folding drops the quotes around a long display name
    holding < > " (the name would become an address), so such characters never get there."""
    return _one_line(_NAME_UNSAFE.sub(" ", text))[:64].strip()


def message(
    *,
    to_name: str,
    to_address: str,
    subject: str,
    text: str,
    html: str | None,
    attachments: list[Attachment],
    message_id: str,
) -> EmailMessage:
    """One email: plain text (and HTML as its alternative), the attachments, a stable Message-ID."""
    config = settings()
    sender_name, sender_address = parseaddr(config.mail_from)
    mail = EmailMessage()
    mail["From"] = Address(display_name=_display_name(sender_name), addr_spec=sender_address)
    mail["To"] = Address(display_name=_display_name(to_name), addr_spec=to_address.strip())
    mail["Subject"] = _one_line(subject)
    mail["Date"] = format_datetime(clock.now())
    domain = sender_address.rpartition("@")[2] or "localhost"
    mail["Message-ID"] = f"<{message_id}@{domain}>"
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return mail


def send(mail: EmailMessage) -> None:
    """Hand one message to the SMTP server; SendFailed if it is not accepted."""
    config = settings()
    if not config.smtp_host:
        raise SendFailed("mail is off (no SMTP_HOST)", permanent=True)
    options = ["SMTPUTF8"] if not all(str(mail[h]).isascii() for h in ("To", "From")) else []
    try:
        if config.smtp_tls == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                config.smtp_host,
                config.smtp_port,
                timeout=TIMEOUT_SECONDS,
                context=ssl.create_default_context(),
            )
        else:
            server = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=TIMEOUT_SECONDS)
        with server:
            if config.smtp_tls == "starttls":
                server.starttls(context=ssl.create_default_context())
            if config.smtp_user:
                server.login(config.smtp_user, config.smtp_password or "")
            refused = server.send_message(mail, mail_options=options)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        raise SendFailed(_reply("recipient refused", code, reply), permanent=code >= 500) from None
    except smtplib.SMTPResponseException as exc:
        raise SendFailed(
            _reply("refused", exc.smtp_code, exc.smtp_error), permanent=exc.smtp_code >= 500
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SendFailed(mask_secrets(f"{type(exc).__name__}: {exc}")[:500], permanent=False) from None
    if refused:  # one recipient per message: a partial refusal is that recipient's
        code, reply = next(iter(refused.values()))
        raise SendFailed(_reply("recipient refused", code, reply), permanent=code >= 500)


def _reply(what: str, code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return mask_secrets(f"{what}: {code} {' '.join(text.split())}")[:500]
