"""Tables, configuration and value types: the bottom layer, importing nothing above it."""

from models.audit import AccessLog, AuditEvent
from models.case import Case, Measure
from models.reminders import Officer, Reminder, ReminderDelivery

__all__ = ["AccessLog", "AuditEvent", "Case", "Measure", "Officer", "Reminder", "ReminderDelivery"]
