"""Where reminders go: notification URLs, the one adapter between the outbox and the world.

`file:PATH` appends one JSON line per message to a local file (the default channel: the
embedded default works with no mail server). Every other URL goes through apprise
(mailto://, mailtos://, msteams://, slack://, json:// webhooks, ...). A failure raises
`DeliveryError` with a message that never repeats the URL (it may hold a password).

What a failure says: `DeliveryError.code` names one of `WORDS` (Swedish and English), and
`text(lang)` gives it to a reader. `str(exc)`, which the outbox stores as the delivery's
`last_error` and the logs print, stays English: it is a technical log of the attempt, often
quoting the notification service's own (English) words, which no translation would reach.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from etablera.models.timestamps import show, utcnow


# code -> (Swedish, English); the English is what the outbox stores.
WORDS = {
    "file_unwritable": ("kan inte skriva påminnelsefilen ({reason})", "cannot write the reminder file ({reason})"),
    "url_unusable": ("inte en användbar adress för aviseringar (se handläggarens aviseringsadress)",
                     "not a usable notification URL (see `etablera officer list`)"),
    "service_refused": ("aviseringstjänsten tog inte emot meddelandet",
                        "the notification service refused the message"),
    "service_said": ("aviseringstjänsten tog inte emot meddelandet: {detail}", "{detail}"),
}


class DeliveryError(Exception):
    """A message could not be delivered: `code` (a key of WORDS; any other text is kept as
    it is) and its parameters."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code, self.params = code, params

    def text(self, lang: str = "en") -> str:
        words = WORDS.get(self.code)
        if words is None:
            return self.code
        return words[1 if lang == "en" else 0].format(**self.params)

    def __str__(self) -> str:
        return self.text("en")


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
        raise DeliveryError("file_unwritable", reason=exc.strerror) from None


def _apprise(url: str, subject: str, body: str) -> None:
    import apprise   # imported on first use: the CLI's other commands stay fast

    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise DeliveryError("url_unusable")
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = notifier.notify(body=body, title=subject, body_format=apprise.NotifyFormat.TEXT)
        log = captured.getvalue()
    if not ok:
        lines = [line.strip() for line in log.splitlines() if line.strip()]
        if lines:
            raise DeliveryError("service_said", detail=lines[-1][:300])
        raise DeliveryError("service_refused")
