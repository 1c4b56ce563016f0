"""Where reminders go: notification URLs, the one adapter between the outbox and the world.

`file:PATH` appends one JSON line per message to a local file (the default channel: the
embedded default works with no mail server). Every other URL goes through apprise
(mailto://, mailtos://, msteams://, slack://, json:// webhooks, ...). A failure raises
`DeliveryError` with a message that never repeats the URL (it may hold a password).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from etablera.models.timestamps import show, utcnow


class DeliveryError(Exception):
    pass


def send(url: str, subject: str, body: str, *, recipient: str, message_id: str) -> None:
    if url.startswith("file:"):
        _append(Path(url.removeprefix("file:").removeprefix("//")), subject, body, recipient, message_id)
        return
    _apprise(url, subject, body)


def _append(path: Path, subject: str, body: str, recipient: str, message_id: str) -> None:
    line = json.dumps({"at": show(utcnow()), "to": recipient, "message_id": message_id, "subject": subject,
                       "body": body}, ensure_ascii=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise DeliveryError(f"cannot write the reminder file ({exc.strerror})") from None


def _apprise(url: str, subject: str, body: str) -> None:
    import apprise   # imported on first use: the CLI's other commands stay fast

    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise DeliveryError("not a usable notification URL (see `etablera officer list`)")
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = notifier.notify(body=body, title=subject, body_format=apprise.NotifyFormat.TEXT)
        log = captured.getvalue()
    if not ok:
        lines = [line.strip() for line in log.splitlines() if line.strip()]
        raise DeliveryError((lines[-1] if lines else "the notification service refused the message")[:300])
