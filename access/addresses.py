"""Where a user's reminders go: an e-mail address and a notification URL, checked.

A user (models/users.py) may have an `email` (reminders then go to it through the mail
server configured in reminders.toml, [delivery] mail_url) and a `notify` URL that comes
before it (an apprise URL: msteams://, slack://, json://, mailto://...; or file:PATH).
The address is checked by email-validator (syntax only: no DNS lookup at `user add`, the
machine registering users need not reach the mail domain) and stored in its normalised
form. A bad value is BadInput naming the field, before anything is written.
"""

from __future__ import annotations

import re

from etablera.statemachine.errors import BadInput
from etablera.statemachine.person import MAX_EMAIL

MAX_NOTIFY = 500
NOTIFY_URL = re.compile(r"^(file:.+|[a-z][a-z0-9+.-]*://.+)$")


def check_email(value: str, field: str = "email") -> str:
    """`value` as a normalised e-mail address, or BadInput naming `field`."""
    from email_validator import EmailNotValidError, validate_email   # on first use: the CLI stays fast

    text = (value or "").strip()
    if not text or len(text) > MAX_EMAIL:
        raise BadInput("person_email_not_valid", field=field, max=MAX_EMAIL)
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise BadInput("person_email_not_valid", field=field, max=MAX_EMAIL) from None


def check_notify(value: str, field: str = "notify") -> str:
    """`value` as a notification URL, or BadInput naming `field`."""
    text = (value or "").strip()
    if len(text) > MAX_NOTIFY or not NOTIFY_URL.match(text):
        raise BadInput("notify_url_not_valid", field=field)
    return text


__all__ = ["MAX_NOTIFY", "NOTIFY_URL", "check_email", "check_notify"]
