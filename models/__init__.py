"""Tables, configuration and value types: the bottom layer, importing nothing above it.

Tables are SQLAlchemy Core `Table`s on the one `MetaData` of models/metadata.py, imported
on first use (`from models import Case` loads models/case.py only), so a command that
needs two tables does not pay for all of them; `load_all()` registers every table on the
metadata (migrations, the full extract, tests).
"""

from importlib import import_module

_HOMES = {
    "AccessLog": "etablera.models.audit", "AuditEvent": "etablera.models.audit",
    "Case": "etablera.models.case", "Measure": "etablera.models.case",
    "Correction": "etablera.models.casework", "Document": "etablera.models.casework",
    "Note": "etablera.models.casework", "SavedFilter": "etablera.models.casework",
    "Reminder": "etablera.models.reminders", "ReminderDelivery": "etablera.models.reminders",
    "FollowUp": "etablera.models.followup", "ReportCase": "etablera.models.followup",
    "ReportMeasure": "etablera.models.followup", "ReportTransfer": "etablera.models.followup",
    "ReportVisit": "etablera.models.followup",
    "ImportedCase": "etablera.models.imports", "LoginAttempt": "etablera.models.login_attempts",
    "LegalHold": "etablera.models.retention", "RetentionRun": "etablera.models.retention",
    "ProtocolRow": "etablera.models.retention", "Erasure": "etablera.models.retention",
    "WebhookSubscription": "etablera.models.webhooks", "WebhookDelivery": "etablera.models.webhooks",
    "ApiToken": "etablera.models.users", "User": "etablera.models.users", "WebSession": "etablera.models.users",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(import_module(home), name)


def load_all() -> None:
    for home in set(_HOMES.values()):
        import_module(home)
