"""The individual's module process (den sammanhållna processen för individen), as one table.

Everything else reads this file: the HierarchicalMachine (machine.py), the validation of
what each trigger needs (fields.py), the CLI's "what can I do now", the documentation and
the mermaid diagram (diagram.py). Change the process here and nowhere else.

States are dotted paths (`module1.registered`). A trigger has the data it needs
(`Field`s) and one or more routes; a route says from which states it may fire, where it
leads, which value of a field (or of the case, for `resume`) selects it, and which
modules it skips. A skip is recorded on the audit event with its reason and
justification: the only legal skips are the routes below that carry `skips`.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- states -------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    name: str
    sv: str
    en: str
    stage: str | None = None       # the time-frame stage the state belongs to
    terminal: bool = False


@dataclass(frozen=True)
class Parent:
    name: str
    sv: str
    en: str


PARENTS = (
    Parent("module1", "Modul 1", "Module 1"),
    Parent("module2", "Modul 2", "Module 2"),
    Parent("assessment", "Gemensam bedömning", "Joint assessment"),
    Parent("module3", "Modul 3", "Module 3"),
    Parent("exited", "Etablerad", "Exited"),
)

STATES = (
    State("module1.registered", "Modul 1, inskriven", "Module 1, registered", stage="module1"),
    State("module1.talk_held", "Modul 1, etableringssamtal genomfört", "Module 1, establishment talk held",
          stage="module1"),
    State("module2.preparing", "Modul 2, jobbförberedande insatser", "Module 2, preparatory measures",
          stage="module2.preparing"),
    State("module2.extended", "Modul 2, förlängda insatser", "Module 2, extended measures",
          stage="module2.extended"),
    State("assessment.pending", "Gemensam bedömning", "Joint assessment pending", stage="assessment"),
    State("module3.in_track", "Modul 3, lokalt jobbspår", "Module 3, in a local job track", stage="module3"),
    State("on_hold", "Vilande", "On hold"),
    State("exited.work", "Arbete", "Work", terminal=True),
    State("exited.own_business", "Eget företagande", "Own business", terminal=True),
    State("exited.studies", "Reguljära studier", "Regular studies", terminal=True),
    State("exited.fast_track", "Nationellt snabbspår", "National fast track", terminal=True),
    State("closed", "Avslutad", "Closed", terminal=True),
)

STATE = {s.name: s for s in STATES}
INITIAL = "module1.registered"
ON_HOLD = "on_hold"
TERMINAL = tuple(s.name for s in STATES if s.terminal)
# `*` in the contract: any active state (not terminal, not on hold).
ACTIVE = tuple(s.name for s in STATES if not s.terminal and s.name != ON_HOLD)
MODULE1 = ("module1.registered", "module1.talk_held")
MODULE2 = ("module2.preparing", "module2.extended")
MEASURE_STATES = MODULE2 + ("module3.in_track",)     # where measures may be added


def module_of(state: str) -> str | None:
    """'module2' for 'module2.extended'; None outside the modules."""
    head = state.split(".", 1)[0]
    return head if head.startswith("module") else None


# --- the data a trigger needs -------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One piece of data a trigger takes. `source` says where the CLI takes it from:
    `--reason`, `--note` or `--set name=value`."""
    name: str
    sv: str
    en: str
    kind: str                                  # choice | list | reason | text | municipality | officer | track | fast_track
    source: str = "set"                        # set | reason | note
    choices: tuple[str, ...] = ()
    reasons: str | None = None                 # reason category in config/reasons.toml
    required: bool = True
    when: tuple[str, tuple[str, ...]] | None = None   # required only when field has one of these values
    must_include: tuple[str, ...] = ()         # for lists: members that must be present

    def applies(self, data: dict) -> bool:
        return self.when is None or data.get(self.when[0]) in self.when[1]


def _reason(category: str, sv: str, en: str, when=None) -> Field:
    return Field("reason", sv, en, kind="reason", source="reason", reasons=category, when=when)


def _note(sv: str, en: str, required: bool = True, when=None) -> Field:
    return Field("note", sv, en, kind="text", source="note", required=required, when=when)


OUTCOMES = ("work", "own_business", "studies")
DECISIONS = ("local_track", "work", "studies", "fast_track", "extended_support")
SKIPPING_DECISIONS = ("work", "studies", "fast_track")
PARTICIPANTS = ("kommun", "af", "individual", "employer")
PLANS = ("handlingsplan", "etableringsplan")
# The choice values' labels (Swedish, English), for forms and timelines.
CHOICE_LABELS: dict[str, tuple[str, str]] = {
    "local_track": ("Lokalt jobbspår (modul 3)", "Local job track (module 3)"),
    "work": ("Arbete", "Work"),
    "studies": ("Reguljära studier", "Regular studies"),
    "own_business": ("Eget företagande", "Own business"),
    "fast_track": ("Nationellt snabbspår", "National fast track"),
    "extended_support": ("Förlängda insatser (tillbaka till modul 2)", "Extended measures (back to module 2)"),
    "kommun": ("Kommunen", "The municipality"),
    "af": ("Arbetsförmedlingen", "Arbetsförmedlingen (AF)"),
    "individual": ("Individen", "The individual"),
    "employer": ("Arbetsgivare", "Employer"),
    "handlingsplan": ("Handlingsplan", "Action plan (handlingsplan)"),
    "etableringsplan": ("Etableringsplan", "Establishment plan (etableringsplan)"),
    "module2": ("Modul 2", "Module 2"),
    "module3": ("Modul 3", "Module 3"),
}

SKIP_REASON = _reason("skip", "Skäl för att hoppa över", "Skip reason")
JUSTIFICATION = _note("Motivering", "Justification")
OPTIONAL_NOTE = _note("Anteckning", "Note", required=False)
OUTCOME = Field("outcome", "Utfall", "Outcome", kind="choice", choices=OUTCOMES)


# --- triggers and their routes ------------------------------------------------------


@dataclass(frozen=True)
class Route:
    sources: tuple[str, ...]
    dest: str | None                           # None: stays in the same state
    match: tuple[str, str] | None = None       # (field, value) that selects this route
    skips: tuple[str, ...] = ()                # modules skipped by taking this route


@dataclass(frozen=True)
class Trigger:
    name: str
    sv: str
    en: str
    fields: tuple[Field, ...]
    routes: tuple[Route, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for route in self.routes:
            seen.update(dict.fromkeys(route.sources))
        return tuple(seen)

    def route_for(self, state: str, facts: dict) -> Route | None:
        for route in self.routes:
            if state in route.sources and (route.match is None or facts.get(route.match[0]) == route.match[1]):
                return route
        return None


def _by_outcome(sources: tuple[str, ...], field: str, skips: tuple[str, ...] = ()) -> tuple[Route, ...]:
    return tuple(Route(sources, f"exited.{o}", (field, o), skips) for o in OUTCOMES)


TRIGGERS = (
    Trigger(
        "register", "Skriv in", "Register",
        fields=(
            Field("person", "Personnummer eller samordningsnummer", "Personal identity or coordination number",
                  kind="person"),
            Field("municipality", "Kommun (kommunkod)", "Municipality (code)", kind="municipality"),
            Field("permit_date", "Datum för uppehållstillstånd", "Residence permit date", kind="date"),
            Field("reception_date", "Datum för kommunmottagande", "Municipal reception date", kind="date",
                  required=False),
            Field("no_upper_secondary", "Saknar fullständig gymnasieutbildning",
                  "No completed upper-secondary education", kind="flag", required=False),
            Field("kommun_officer", "Handläggare i kommunen", "Municipal case officer", kind="officer",
                  required=False),
            Field("af_officer", "Handläggare på Arbetsförmedlingen", "AF case officer", kind="officer",
                  required=False),
        ),
        routes=(Route((), INITIAL),),
    ),
    Trigger(
        "hold_talk", "Håll etableringssamtal", "Hold the establishment talk",
        fields=(OPTIONAL_NOTE,),
        routes=(Route(("module1.registered",), "module1.talk_held"),),
    ),
    Trigger(
        "establish_plan", "Upprätta plan", "Establish the plan",
        fields=(Field("plan", "Typ av plan", "Kind of plan", kind="choice", choices=PLANS), OPTIONAL_NOTE),
        routes=(Route(("module1.talk_held",), "module2.preparing"),),
    ),
    Trigger(
        "skip_module2", "Hoppa över modul 2", "Skip module 2",
        fields=(SKIP_REASON, JUSTIFICATION),
        routes=(Route(("module1.talk_held",), "assessment.pending", skips=("module2",)),),
    ),
    Trigger(
        "request_assessment", "Begär gemensam bedömning", "Request the joint assessment",
        fields=(OPTIONAL_NOTE,),
        routes=(Route(MODULE2, "assessment.pending"),),
    ),
    Trigger(
        "decide", "Gemensam bedömning: beslut", "Joint assessment: decision",
        fields=(
            Field("decision", "Beslut", "Decision", kind="choice", choices=DECISIONS),
            Field("participants", "Deltagare", "Participants", kind="list", choices=PARTICIPANTS,
                  must_include=("kommun", "af")),
            Field("track", "Lokalt jobbspår", "Local job track", kind="track", when=("decision", ("local_track",))),
            # Admits a person who does not meet the track's prerequisites; the rationale
            # (--note) is the justification, and the event records what was overridden.
            Field("override_prerequisites", "Åsidosätt ej uppfyllda förkunskapskrav",
                  "Override unmet prerequisites", kind="flag", required=False,
                  when=("decision", ("local_track",))),
            Field("fast_track", "Nationellt snabbspår", "National fast track", kind="fast_track",
                  when=("decision", ("fast_track",))),
            _reason("skip", "Skäl för att hoppa över modul 3", "Reason for skipping module 3",
                    when=("decision", SKIPPING_DECISIONS)),
            _note("Motivering för beslutet", "Rationale for the decision"),
        ),
        routes=(
            Route(("assessment.pending",), "module3.in_track", ("decision", "local_track")),
            Route(("assessment.pending",), "exited.work", ("decision", "work"), skips=("module3",)),
            Route(("assessment.pending",), "exited.studies", ("decision", "studies"), skips=("module3",)),
            Route(("assessment.pending",), "exited.fast_track", ("decision", "fast_track"), skips=("module3",)),
            Route(("assessment.pending",), "module2.extended", ("decision", "extended_support")),
        ),
    ),
    Trigger(
        "complete_track", "Slutför jobbspåret", "Complete the track",
        fields=(OUTCOME, OPTIONAL_NOTE),
        routes=_by_outcome(("module3.in_track",), "outcome"),
    ),
    Trigger(
        "drop_track", "Avbryt jobbspåret", "Leave the track",
        fields=(_reason("drop_track", "Skäl", "Reason"), OPTIONAL_NOTE),
        routes=(Route(("module3.in_track",), "module2.extended"),),
    ),
    Trigger(
        "exit_direct", "Direkt till arbete eller studier", "Exit directly to work or studies",
        fields=(OUTCOME, SKIP_REASON, JUSTIFICATION),
        routes=_by_outcome(MODULE1, "outcome", skips=("module2", "module3"))
        + _by_outcome(MODULE2, "outcome", skips=("module3",)),
    ),
    Trigger(
        "pause", "Gör vilande", "Put on hold",
        fields=(_reason("pause", "Skäl", "Reason"), OPTIONAL_NOTE),
        routes=(Route(ACTIVE, ON_HOLD),),
    ),
    Trigger(
        "resume", "Återuppta", "Resume",
        fields=(OPTIONAL_NOTE,),
        # Back to the state it was paused from: one route per state, chosen by the case.
        routes=tuple(Route((ON_HOLD,), s, ("paused_from", s)) for s in ACTIVE),
    ),
    Trigger(
        "close", "Avsluta", "Close",
        fields=(_reason("close", "Skäl", "Reason"), OPTIONAL_NOTE),
        routes=(Route(ACTIVE + (ON_HOLD,), "closed"),),
    ),
    Trigger(
        "transfer", "Flytta till annan kommun", "Transfer to another municipality",
        fields=(
            Field("municipality", "Ny kommun (kommunkod)", "New municipality (code)", kind="municipality"),
            Field("kommun_officer", "Ny handläggare i kommunen", "New municipal case officer", kind="officer",
                  required=False),
            Field("af_officer", "Ny handläggare på Arbetsförmedlingen", "New AF case officer", kind="officer",
                  required=False),
            OPTIONAL_NOTE,
        ),
        routes=(Route(ACTIVE, None),),
    ),
)

TRIGGER = {t.name: t for t in TRIGGERS}
CASE_TRIGGERS = tuple(t for t in TRIGGERS if t.name != "register")   # those fired on an existing case


def permitted(state: str) -> tuple[Trigger, ...]:
    """The triggers that may fire from `state` (before looking at their data)."""
    return tuple(t for t in CASE_TRIGGERS if state in t.sources)


# Audit events that are not triggers of the case's process: a measure's lifecycle and the
# follow-up after exit.
EVENT_LABELS: dict[str, tuple[str, str]] = {
    "add_measure": ("Insats tillagd", "Measure added"),
    "start_measure": ("Insats startad", "Measure started"),
    "complete_measure": ("Insats slutförd", "Measure completed"),
    "cancel_measure": ("Insats avbruten", "Measure cancelled"),
    "followup": ("Uppföljning efter avslut", "Follow-up after exit"),
}


def trigger_label(name: str, lang: str = "sv") -> str:
    """What an audit event's trigger is called, in `lang`."""
    trigger = TRIGGER.get(name)
    if trigger is not None:
        return trigger.en if lang == "en" else trigger.sv
    pair = EVENT_LABELS.get(name)
    return (pair[1] if lang == "en" else pair[0]) if pair else name


def state_label(name: str, lang: str = "sv") -> str:
    state = STATE.get(name)
    if state is None:
        return name
    return state.en if lang == "en" else state.sv
