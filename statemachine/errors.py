"""What can go wrong, as exceptions an interface maps to exit codes and HTTP statuses.

Every message is written for the person at the keyboard and never contains a name or an
identity number. The message is English (the CLI's and the API's); `sv` is the same in
Swedish where it is written, for the pages case officers read.
"""


class EtableraError(Exception):
    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, sv: str | None = None):
        self.sv = sv
        super().__init__(message)


class FieldError(EtableraError):
    """A refusal that names the field (or option) it is about."""

    def __init__(self, field: str, message: str, *, sv: str | None = None):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}", sv=sv)


class BadInput(FieldError):
    """The input is wrong; nothing was written. Names the field."""
    exit_code = 2
    http_status = 400


class NotFound(BadInput):
    http_status = 404


class NotPermitted(EtableraError):
    """The trigger may not fire in the case's state, or a rule of the process refuses it."""
    exit_code = 3
    http_status = 409


class ConcurrentChange(EtableraError):
    """Someone else changed the case first; nothing was written. Safe to retry."""
    exit_code = 4
    http_status = 409


class Forbidden(FieldError):
    """The user's role or scope may not do this (an auditor changing a case, an officer
    reading the access log); nothing was written."""
    exit_code = 3
    http_status = 403
