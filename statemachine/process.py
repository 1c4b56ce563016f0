"""The individual's module process (den sammanhållna processen för individen), as one table.

Over 400 lines by design: the whole process is one table, which is read and changed in one place.

Everything else reads this file: the pure `decide` (decide.py) that computes what a
trigger does to a case, the validation of what each trigger needs (fields.py), the
rules that need the municipality's agreement (rules.py), the CLI's "what can I do now",
the documentation and the mermaid diagram (diagram.py), the SQL of the reports and the
deadline check. Change the process here and nowhere else.

Stages (`Stage`) are what time frames are set for. States are dotted paths
(`module1.registered`) carrying their flags: the stage they belong to, whether they end
the case and as which exit, whether the person is followed up after it, whether
measures may be added in it. A trigger has the data it needs (`Field`s) and one or more
routes; a route says from which states it may fire, where it leads, which value of a
field (or of the case, for `resume`) selects it, which modules it skips, and what it
does (`Effects`): the case columns it sets or clears, whose open measures end, how it
moves the clock, the named rules it must pass. A skip is recorded on the audit event
with its reason and justification: the only legal skips are the routes below that
carry `skips`.

A measure's own lifecycle (planned → ongoing → completed | cancelled) is declared at
the end of this module in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from types import SimpleNamespace

# --- states -------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A named part of the process: a stage (what a time frame is set for,
    config/timeframes.toml) or a module grouping states (`module2` in `module2.extended`)."""
    name: str
    sv: str
    en: str


Stage = Parent = Part
STAGES = (
    Stage("module1", "Modul 1", "Module 1"),
    Stage("module2.preparing", "Modul 2, jobbförberedande insatser", "Module 2, preparatory measures"),
    Stage("module2.extended", "Modul 2, förlängda insatser", "Module 2, extended measures"),
    Stage("assessment", "Gemensam bedömning", "Joint assessment"),
    Stage("module3", "Modul 3, lokalt jobbspår", "Module 3, in a local job track"),
)
STAGE = {s.name: s for s in STAGES}
FIRST_STAGE = "module1"
TRACK_STAGE = "module3"          # the stage of a local job track: entering it lays out the track's components


@dataclass(frozen=True)
class State:
    name: str
    sv: str
    en: str
    stage: str | None = None       # the time-frame stage the state belongs to
    terminal: bool = False
    exit: str | None = None        # a terminal state's outcome (work, own_business, studies, fast_track)
    followed_up: bool = False      # the person is followed up 90/180/360 days after leaving here
    measures: bool = False         # measures (insatser) may be added in this state


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
          stage="module2.preparing", measures=True),
    State("module2.extended", "Modul 2, förlängda insatser", "Module 2, extended measures",
          stage="module2.extended", measures=True),
    State("assessment.pending", "Gemensam bedömning", "Joint assessment pending", stage="assessment"),
    State("module3.in_track", "Modul 3, lokalt jobbspår", "Module 3, in a local job track", stage="module3",
          measures=True),
    State("on_hold", "Vilande", "On hold"),
    State("exited.work", "Arbete", "Work", terminal=True, exit="work", followed_up=True),
    State("exited.own_business", "Eget företagande", "Own business", terminal=True, exit="own_business",
          followed_up=True),
    State("exited.studies", "Reguljära studier", "Regular studies", terminal=True, exit="studies", followed_up=True),
    State("exited.fast_track", "Nationellt snabbspår", "National fast track", terminal=True, exit="fast_track"),
    State("closed", "Avslutad", "Closed", terminal=True),
)

STATE = {s.name: s for s in STATES}
INITIAL = "module1.registered"
ON_HOLD = "on_hold"
TERMINAL = tuple(s.name for s in STATES if s.terminal)
EXIT_STATES = tuple(s.name for s in STATES if s.exit)          # left to work, business, studies, a fast track
FOLLOWED_UP = tuple(s.name for s in STATES if s.followed_up)   # established: followed up after the exit
# `*` in the contract: any active state (not terminal, not on hold).
ACTIVE = tuple(s.name for s in STATES if not s.terminal and s.name != ON_HOLD)
MEASURE_STATES = tuple(s.name for s in STATES if s.measures)     # where measures may be added
# The stage each running state counts its time frame in (the deadline check, the reports).
STAGE_OF = {s.name: s.stage for s in STATES if s.stage and not s.terminal}


def module_of(state: str) -> str | None:
    """'module2' for 'module2.extended'; None outside the modules."""
    head = state.split(".", 1)[0]
    return head if head.startswith("module") else None


def states_of(module: str) -> tuple[str, ...]:
    """The states of a module ('module1' -> module1.registered, module1.talk_held)."""
    return tuple(s.name for s in STATES if module_of(s.name) == module)


MODULE1 = states_of("module1")
MODULE2 = states_of("module2")
MEASURE_MODULES = tuple(dict.fromkeys(module_of(s) for s in MEASURE_STATES))   # module2, module3


# --- the data a trigger needs -------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One piece of data a trigger takes. `source` says where the CLI takes it from:
    `--reason`, `--note` or `--set name=value`."""
    name: str
    sv: str
    en: str
    kind: str                                  # choice | list | reason | text | municipality | officer | track | fast_track
                                               # | name | language | phone | email (the person's: statemachine/person.py)
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
class Effects:
    """What taking a route does beyond moving the case to its destination (and, where the
    destination is in another stage, starting that stage's clock)."""
    sets: tuple[tuple[str, str], ...] = ()      # (case column, data field): the column takes the field's value
    clears: tuple[str, ...] = ()                # case columns emptied (before `sets`: a field given still sets)
    carries: tuple[tuple[str, str], ...] = ()   # (case column, case column): the first takes the second's old value
    dates: tuple[str, ...] = ()                 # case columns that take the event's Stockholm date
    records: tuple[tuple[str, str], ...] = ()   # (event key, case column): the old value the event keeps
    ends_measures: tuple[str, ...] = ()         # modules whose open measures end (cancelled: case_left_module)
    clock: str | None = None                    # "stop" (pause) or "restart" (resume: due dates move by the pause)
    rules: tuple[str, ...] = ()                 # named rules the step must pass (rules.py)
    starts_track: bool = False                  # the chosen track's components become module-3 measures
    notifies: str | None = None                 # a notice of this kind to the (new) municipality's coordinators,
                                                # recorded in the reminder outbox with the step (reminders/notices.py)


NOTHING = Effects()
LEAVES = Effects(ends_measures=MEASURE_MODULES)   # the case leaves the process: no measure goes on


@dataclass(frozen=True)
class Route:
    sources: tuple[str, ...]
    dest: str | None                           # None: stays in the same state
    match: tuple[str, str] | None = None       # (field, value) that selects this route
    skips: tuple[str, ...] = ()                # modules skipped by taking this route
    effects: Effects = NOTHING

    def enters_stage(self, source: str) -> str | None:
        """The stage whose clock starts when the case takes this route from `source`:
        the destination's, when it lies in another stage (a resumed case goes back to the
        stage visit it paused, whose clock moves instead)."""
        if self.effects.clock is not None:
            return None
        target = STATE[self.dest or source].stage
        return target if target and target != STATE[source].stage else None


# How the case page offers a trigger (`Trigger.offer`): the normal step forward first and
# prominent, the other ways forward after it, and last the steps that set the normal course
# aside (put on hold, close, transfer; a measure's cancellation), each taken only once the
# user has confirmed it.
NEXT, OTHER, ASIDE = "next", "other", "aside"


@dataclass(frozen=True)
class Trigger:
    name: str
    sv: str
    en: str
    fields: tuple[Field, ...]
    routes: tuple[Route, ...]
    offer: str = OTHER

    @cached_property
    def sources(self) -> tuple[str, ...]:
        """The states it may fire in, each once, in the routes' order (this and `has_rules`
        worked out once: every step asks)."""
        seen: dict[str, None] = {}
        for route in self.routes:
            seen.update(dict.fromkeys(route.sources))
        return tuple(seen)

    @cached_property
    def has_rules(self) -> bool:
        """Whether a route of this trigger applies named rules (rules.py: they read the
        agreements, which a step of any other trigger need not load)."""
        return any(route.effects.rules for route in self.routes)


def _by_outcome(sources: tuple[str, ...], field: str, skips: tuple[str, ...] = ()) -> tuple[Route, ...]:
    exits = {s.exit: s.name for s in STATES if s.exit}
    return tuple(Route(sources, exits[o], (field, o), skips, LEAVES) for o in OUTCOMES)


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
            # The person's details (statemachine/person.py checks them; cases/person.py changes them).
            Field("given_name", "Förnamn", "Given name", kind="name", required=False),
            Field("family_name", "Efternamn", "Family name", kind="name", required=False),
            Field("language", "Föredraget språk", "Preferred language", kind="language", required=False),
            Field("interpreter", "Behöver tolk", "Needs an interpreter", kind="flag", required=False),
            Field("phone", "Telefon", "Phone", kind="phone", required=False),
            Field("email", "E-post", "E-mail", kind="email", required=False),
        ),
        routes=(Route((), INITIAL),),
    ),
    Trigger(
        "hold_talk", "Håll etableringssamtal", "Hold the establishment talk",
        fields=(OPTIONAL_NOTE,),
        routes=(Route(("module1.registered",), "module1.talk_held"),),
        offer=NEXT,
    ),
    Trigger(
        "establish_plan", "Upprätta plan", "Establish the plan",
        fields=(Field("plan", "Typ av plan", "Kind of plan", kind="choice", choices=PLANS), OPTIONAL_NOTE),
        routes=(Route(("module1.talk_held",), "module2.preparing", effects=Effects(sets=(("plan", "plan"),))),),
        offer=NEXT,
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
        offer=NEXT,
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
            Route(("assessment.pending",), "module3.in_track", ("decision", "local_track"),
                  effects=Effects(sets=(("track", "track"),), rules=("track_open",), starts_track=True)),
            Route(("assessment.pending",), "exited.work", ("decision", "work"), skips=("module3",), effects=LEAVES),
            Route(("assessment.pending",), "exited.studies", ("decision", "studies"), skips=("module3",),
                  effects=LEAVES),
            Route(("assessment.pending",), "exited.fast_track", ("decision", "fast_track"), skips=("module3",),
                  effects=LEAVES),
            Route(("assessment.pending",), "module2.extended", ("decision", "extended_support")),
        ),
        offer=NEXT,
    ),
    Trigger(
        "complete_track", "Slutför jobbspåret", "Complete the track",
        fields=(OUTCOME, OPTIONAL_NOTE),
        routes=_by_outcome(("module3.in_track",), "outcome"),
        offer=NEXT,
    ),
    Trigger(
        "drop_track", "Avbryt jobbspåret", "Leave the track",
        fields=(_reason("drop_track", "Skäl", "Reason"), OPTIONAL_NOTE),
        routes=(Route(("module3.in_track",), "module2.extended",
                      effects=Effects(clears=("track",), ends_measures=("module3",))),),
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
        routes=(Route(ACTIVE, ON_HOLD, effects=Effects(clock="stop")),),
        offer=ASIDE,
    ),
    Trigger(
        "resume", "Återuppta", "Resume",
        fields=(OPTIONAL_NOTE,),
        # Back to the state it was paused from: one route per state, chosen by the case.
        routes=tuple(Route((ON_HOLD,), s, ("paused_from", s), effects=Effects(clock="restart")) for s in ACTIVE),
        offer=NEXT,
    ),
    Trigger(
        "close", "Avsluta", "Close",
        fields=(_reason("close", "Skäl", "Reason"), OPTIONAL_NOTE),
        routes=(Route(ACTIVE + (ON_HOLD,), "closed", effects=LEAVES),),
        offer=ASIDE,
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
        # Handed to the receiving municipality unassigned (unless new officers, who must serve
        # it, are given); its coordinators are told.
        routes=(Route(ACTIVE, None, effects=Effects(
            sets=(("municipality", "municipality"), ("kommun_officer", "kommun_officer"), ("af_officer", "af_officer")),
            clears=("kommun_officer", "af_officer"),
            carries=(("transferred_from", "municipality"),),
            dates=("transferred_at",),
            records=(("from_municipality", "municipality"), ("from_kommun_officer", "kommun_officer"),
                     ("from_af_officer", "af_officer")),
            notifies="transferred_in",
            rules=("another_municipality", "track_after_transfer"))),),
        offer=ASIDE,
    ),
)

TRIGGER = {t.name: t for t in TRIGGERS}
REGISTER = TRIGGERS[0]                                           # the one that opens a case
CASE_TRIGGERS = TRIGGERS[1:]                                     # those fired on an existing case
PAUSE = next(t.name for t in TRIGGERS if any(r.effects.clock == "stop" for r in t.routes))
RESUME = next(t.name for t in TRIGGERS if any(r.effects.clock == "restart" for r in t.routes))
# Every trigger by name as an attribute (`T.hold_talk`): scripts and queries take names from
# here, so a misspelt one fails at import instead of matching nothing.
T = SimpleNamespace(**{t.name: t.name for t in TRIGGERS})
# The triggers other modules' queries and pages name: named here, once.
DECIDE, COMPLETE_TRACK, TRANSFER = TRIGGER["decide"].name, TRIGGER["complete_track"].name, TRIGGER["transfer"].name
# Triggers whose reason code is counted by category in the reports and the skip audit.
REASONED = {t.name: f.reasons for t in TRIGGERS for f in t.fields if f.kind == "reason"}


def permitted(state: str) -> tuple[Trigger, ...]:
    """The triggers that may fire from `state` (before looking at their data)."""
    return _PERMITTED.get(state, ())


_PERMITTED = {s.name: tuple(t for t in CASE_TRIGGERS if s.name in t.sources) for s in STATES}
# (state, trigger) -> the routes that may be taken, in table order (the first that matches wins).
ROUTES = {(source, t.name): tuple(r for r in t.routes if source in r.sources)
          for t in CASE_TRIGGERS for source in t.sources}


def route(state: str, trigger: str, facts: dict) -> Route | None:
    """The route `trigger` takes from `state` given the data and the case's facts (None: it
    may not fire)."""
    for candidate in ROUTES.get((state, trigger), ()):
        if candidate.match is None or facts.get(candidate.match[0]) == candidate.match[1]:
            return candidate
    return None


# Audit events that are not triggers of the case's process: a measure's lifecycle and the
# follow-up after exit.
EVENT_LABELS: dict[str, tuple[str, str]] = {
    "add_measure": ("Insats tillagd", "Measure added"),
    "start_measure": ("Insats startad", "Measure started"),
    "complete_measure": ("Insats slutförd", "Measure completed"),
    "cancel_measure": ("Insats avbruten", "Measure cancelled"),
    "followup": ("Uppföljning efter avslut", "Follow-up after exit"),
    # Casework on the case's chain (cases/person.py, assignment.py, notes.py, documents.py,
    # corrections.py): only `correct` moves the state (back to before the step it corrects).
    "update_person": ("Personuppgifter ändrade", "Personal details changed"),
    "assign": ("Ansvarig handläggare ändrad", "Responsible officer changed"),
    "add_note": ("Anteckning", "Note"),
    "add_document": ("Dokument bifogat", "Document attached"),
    "correct": ("Rättelse", "Correction"),
    # A legal hold (bevarandebeslut) stops the case's erasure (gallring, cases/holds.py).
    "legal_hold": ("Gallringsstopp", "Legal hold"),
    "release_legal_hold": ("Gallringsstopp hävt", "Legal hold released"),
}
# The casework events by name (`CASEWORK.add_note`): code and queries take names from here.
CASEWORK = SimpleNamespace(**{name: name for name in ("update_person", "assign", "add_note", "add_document",
                                                      "correct", "legal_hold", "release_legal_hold")})


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


def stage_label(name: str, lang: str = "sv") -> str:
    """A stage's name ('module2.extended', 'assessment'), or a module's ('module2')."""
    stage = STAGE.get(name) or next((p for p in PARENTS if p.name == name), None)
    if stage is None:
        return name
    return stage.en if lang == "en" else stage.sv


# --- a measure's lifecycle (insatsens livscykel) -------------------------------------


@dataclass(frozen=True)
class MeasureAction:
    name: str                                  # start | complete | cancel
    sources: tuple[str, ...]
    dest: str
    stamp: str                                 # the measure's column that records when
    reasons: str | None = None                 # needs a reason code of this category (config/reasons.toml)
    offer: str = NEXT                          # ASIDE: the case page asks for a confirmation first


MEASURE_INITIAL = "planned"
OPEN_MEASURE_STATES = ("planned", "ongoing")
MEASURE_STATE_NAMES = OPEN_MEASURE_STATES + ("completed", "cancelled")
MEASURE_ACTIONS = (
    MeasureAction("start", ("planned",), "ongoing", "started_at"),
    MeasureAction("complete", ("ongoing",), "completed", "ended_at"),
    MeasureAction("cancel", OPEN_MEASURE_STATES, "cancelled", "ended_at", reasons="cancel_measure", offer=ASIDE),
)
MEASURE_ACTION = {a.name: a for a in MEASURE_ACTIONS}
LEFT_MODULE = "case_left_module"     # the cancel reason when the case leaves the measures' module
# The audit events of a measure's life, on the case's chain ("add_measure", "start_measure", ...).
MEASURE_EVENTS = ("add_measure",) + tuple(f"{a.name}_measure" for a in MEASURE_ACTIONS)
MEASURE_REASONS = {f"{a.name}_measure": a.reasons for a in MEASURE_ACTIONS if a.reasons}
