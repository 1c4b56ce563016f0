"""etablera: the individual's module process for newcomers (den sammanhållna processen för
individen), as a persisted, audited state machine with deadline reminders.

The repository's folders are this package's subpackages (setuptools' package-dir maps
`etablera` to the repository root): `etablera.statemachine` the process, `etablera.cases`
the use cases, `etablera.access` logins, scopes and the access log, `etablera.reminders`
time frames and reminders, `etablera.reports` the follow-up, `etablera.demo` the synthetic
cohort, `etablera.models` tables and configuration, `etablera.flows` the Prefect flows,
`etablera.interfaces` the command line and the web.
"""

__version__ = "0.1.0"
