"""A watch over the whole test run: no identity number and no person's name in any URL the
tests request, any log line, or any reminder sent.

`install()` (from conftest's pytest_configure) hooks three places for the whole session:
- every request a TestClient sends (the URL: path and query string),
- every log record of every logger (the formatted message),
- every reminder handed to a channel (`reminders.channels.send`: subject, body, recipient).
What it sees is checked at once and a finding is kept (never the whole text); at the end
of the session conftest's pytest_sessionfinish fails the run if anything was found.

Identity numbers are found by their shape and check digit (12 or 10 digits, with or
without separator, coordination numbers too); names by the registry of the names tests
gave to people (`remember_names`, called by the kit's wrappers), each at least 3 letters.
"""

from __future__ import annotations

import logging
import re

FINDINGS: list[str] = []
NAMES: set[str] = set()
_NUMBER = re.compile(r"(?<!\d)(?:(?:19|20)?(\d{6})[-+]?(\d{4}))(?!\d)")


def _luhn_ok(ten: str) -> bool:
    total = 0
    for i, ch in enumerate(ten[:9]):
        v = int(ch) * (2 - i % 2)
        total += v - 9 if v > 9 else v
    return (10 - total % 10) % 10 == int(ten[9])


def _plausible_date(six: str) -> bool:
    month, day = int(six[2:4]), int(six[4:6])
    return 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)


def personal_data_in(text: str) -> str | None:
    """What in `text` is an identity number or a remembered name (None: nothing)."""
    for m in _NUMBER.finditer(text):
        ten = m.group(1) + m.group(2)
        if _plausible_date(m.group(1)) and _luhn_ok(ten):
            return "an identity number"
    lowered = text.casefold()
    for name in NAMES:
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", lowered):
            return f"the name {name[:1]}…"
    return None


def remember_names(*names: str | None) -> None:
    """Names the tests gave to people: none of them may leak."""
    NAMES.update(n.casefold() for n in names if n and len(n) >= 3)


def check(where: str, text: str) -> None:
    found = personal_data_in(text)
    if found:
        FINDINGS.append(f"{found} in {where}")


class _LogWatch(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the logging's problem, not a leak
            return
        check(f"a log line of {record.name}", message)


_WATCH = _LogWatch(level=logging.DEBUG)


def watch_logs() -> None:
    """Every record that reaches the root's handlers: the libraries' at the levels they are
    configured to (as in production), the product's own at every level. Called before each
    test too: a library that configures logging (Prefect's dictConfig) replaces the root's
    handlers."""
    root = logging.getLogger()
    if _WATCH not in root.handlers:
        root.addHandler(_WATCH)
    product = logging.getLogger("etablera")
    if product.level != logging.DEBUG or product.disabled:
        product.setLevel(logging.DEBUG)
        product.disabled = False


def install() -> None:
    watch_logs()

    import warnings
    with warnings.catch_warnings():          # starlette's advice to use httpx2 is not ours to act on here
        warnings.simplefilter("ignore")
        from starlette import testclient
    original = testclient._TestClientTransport.handle_request

    def handle_request(self, request):
        check(f"a URL ({request.method})", str(request.url))
        return original(self, request)
    testclient._TestClientTransport.handle_request = handle_request

    from etablera.reminders import channels
    send = channels.send

    def watched_send(url, subject, body, *, recipient, message_id):
        check("a reminder", f"{subject}\n{body}\n{recipient}")
        return send(url, subject, body, recipient=recipient, message_id=message_id)
    channels.send = watched_send
