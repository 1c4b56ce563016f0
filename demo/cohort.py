"""A synthetic cohort: realistic, backdated cases for demos, tests and benchmarks.
(A little over 400 lines: one case's script, its people and its playing through the engine
belong together; the bulk writer is demo/bulk.py.)

A case's life is first written as a *script* (register, then triggers and measure
changes at increasing times, stopping at "now"), from a per-case random generator so a
seed always gives the same cohort. A script can be played two ways:

- `play` runs it through the engine's use cases (service.py, measures.py), one
  transaction per action, exactly as an officer's commands would;
- `bulk.write_cohort` builds the same rows with the same pure functions (step, link,
  new_measure, ...) and inserts them in batches, which is what makes a million cases fast.

A test plays the same scripts both ways and compares the databases row by row. The
officers the cases name (`hKOMMUN-NN` at the municipality, `afKOMMUN-01` at AF) are
registered first as users (`register_officers`): a case names only officers that exist.
`register_recipients` gives them, and a coordinator per municipality, a mailbox each.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from etablera.models.agreements import AgreementBook, unmet_prerequisites
from etablera.models.configuration import Config, get_config
from etablera.models.identity import parse_identity
from etablera.statemachine.process import REGISTER, T
from etablera.models.timestamps import local_date

# Where the synthetic newcomers live: the municipalities with example agreements (and so
# local job tracks) are over-represented, the rest spread over the country.
MUNICIPALITY_WEIGHTS = {"0581": 14, "1493": 6, "1473": 3, "1447": 2, "0180": 14, "1480": 10, "1280": 9, "0380": 5,
                        "0580": 5, "1880": 4, "1980": 4, "0680": 3, "2480": 3, "1283": 3, "0181": 3, "0484": 2,
                        "0780": 2, "2180": 2, "2281": 2, "1780": 2, "0880": 1, "1380": 1, "1490": 1, "2580": 1}
MEASURE_MIX = {"sfi": 10, "civic_orientation": 8, "career_guidance": 5, "internship": 5, "validation": 3,
               "labour_market_training": 3, "health": 2, "motivation": 2, "rehabilitation": 1, "other": 1}
DECISION_MIX = {"local_track": 40, "work": 18, "studies": 10, "fast_track": 5, "extended_support": 27}
ACTORS_PER_MUNICIPALITY = 12
_ZONE = ZoneInfo("Europe/Stockholm")


@dataclass
class Action:
    kind: str                      # register | advance | add_measure | measure
    at: datetime
    args: dict = field(default_factory=dict)


@dataclass
class Script:
    index: int
    actor: str
    actions: list[Action]


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def demo_officers(municipalities=MUNICIPALITY_WEIGHTS) -> list[tuple[str, str, str]]:
    """(id, organisation, municipality) of every officer the synthetic cases may name."""
    return [(f"h{code}-{n:02d}", "kommun", code) for code in municipalities
            for n in range(1, ACTORS_PER_MUNICIPALITY + 1)] + [(f"af{code}-01", "af", code) for code in municipalities]


def register_officers(engine: Engine, officers: list[tuple[str, str, str]] | None = None) -> int:
    """Register the officers the synthetic cases name (all of them by default) as users
    without a password where they are not yet users. Returns how many were added."""
    from sqlalchemy import insert, select

    from etablera.models import User
    from etablera.models.database import transaction
    from etablera.models.timestamps import utcnow
    table = User
    wanted = {officer_id: (org, code) for officer_id, org, code in officers or demo_officers()}
    with transaction(engine) as conn:
        known = set(conn.execute(select(table.c.id).where(table.c.id.in_(list(wanted)))).scalars())
        new = [{"id": officer_id, "name": f"Handläggare {officer_id}", "role": "officer", "organisation": org,
                "municipality": code, "office": None, "password_hash": None, "email": None, "notify": None,
                "active": True, "created_at": utcnow()}
               for officer_id, (org, code) in wanted.items() if officer_id not in known]
        if new:
            conn.execute(insert(table), new)
    return len(new)


def demo_coordinators(municipalities=MUNICIPALITY_WEIGHTS) -> list[tuple[str, str, str]]:
    """(id, organisation, municipality) of a coordinator in each cohort municipality (the
    escalations and transfer notices go to them)."""
    return [(f"samordnare{code}", "kommun", code) for code in municipalities]


MAIL_DOMAIN = "example.org"        # reserved for examples (RFC 2606): no real person's address


def default_mailbox(engine: Engine) -> Path:
    """Where the demo's mailbox files go: beside the SQLite database file, else in the
    working directory."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:":
        return Path(database).absolute().parent / "demo-reminders"
    return Path.cwd() / "demo-reminders"


def register_recipients(engine: Engine, mailbox: Path) -> dict:
    """Give the demo's officers and coordinators somewhere for their reminders: each user
    an e-mail address ID@example.org and, as no mail server is at hand, a mailbox file of
    their own, `file:MAILBOX/ID.log` (the notify URL, which comes before the address), so
    that the next `etablera deadlines check` shows each reminder reaching the officer
    responsible for its case and the escalations reaching the municipality's coordinator.
    Officers are registered first where missing; a user who is a login already keeps their
    role, scope and password. Returns {mailbox, users}."""
    from sqlalchemy import bindparam, select, update

    from etablera.models import User
    from etablera.models.database import transaction
    from etablera.models.timestamps import utcnow
    table = User
    register_officers(engine)
    mailbox = mailbox.absolute()
    coordinators = demo_coordinators()
    with transaction(engine) as conn:
        known = set(conn.execute(select(table.c.id).where(table.c.id.in_([c[0] for c in coordinators]))).scalars())
        new = [{"id": user_id, "name": f"Samordnare {code} (demo)", "role": "coordinator", "organisation": org,
                "municipality": code, "office": None, "password_hash": None, "email": None, "notify": None,
                "active": True, "created_at": utcnow()}
               for user_id, org, code in coordinators if user_id not in known]
        if new:
            conn.execute(table.insert(), new)
        ids = [officer_id for officer_id, _, _ in demo_officers()] + [c[0] for c in coordinators]
        conn.execute(update(table).where(table.c.id == bindparam("user_id"))
                     .values(email=bindparam("address"), notify=bindparam("url")),
                     [{"user_id": user_id, "address": f"{user_id}@{MAIL_DOMAIN}",
                       "url": f"file:{mailbox / (user_id + '.log')}"} for user_id in ids])
    return {"mailbox": str(mailbox), "users": len(ids)}


def _luhn(nine: str) -> int:
    total = 0
    for i, ch in enumerate(nine):
        v = int(ch) * (2 - i % 2)
        total += v - 9 if v > 9 else v
    return (10 - total % 10) % 10


BIRTH_SPAN_DAYS = 15_500          # coprime with the multiplier below: a bijection on index % span


def synthetic_person(index: int, today: date, coordination: bool) -> tuple[str, date]:
    """A valid identity number unique to `index` (for index < 15.5 million): the birth
    date walks a 42-year span in a scrambled order and the serial counts the laps.
    Everyone is 17–64 years old at any registration in the last four years."""
    oldest = date(today.year - 64, today.month, 1) + timedelta(days=40)
    birth = oldest + timedelta(days=(index * 7919) % BIRTH_SPAN_DAYS)
    serial = 1 + (index // BIRTH_SPAN_DAYS) % 999
    day = birth.day + (60 if coordination else 0)
    short = f"{birth:%y%m}{day:02d}{serial:03d}"
    return f"{birth.year}{birth:%m}{day:02d}{serial:03d}{_luhn(short)}", birth


# Names as a municipality's newcomers carry them (and a few Swedish ones): with å/ä/ö, ş, ğ,
# ı and accents, so that the folded name search ("ozlem" finds "Özlem") has work to do.
GIVEN_NAMES = ("Özlem", "Ahmad", "Fatima", "Mohammed", "Amira", "Hassan", "Leyla", "Yusuf", "Şükrü", "Aylin",
               "Nguyễn Thị", "Mariam", "Ali", "Zainab", "Omar", "Hiba", "Karim", "Rahel", "Dawit", "Selam",
               "Tigist", "Abdi", "Hodan", "Ibrahim", "Noor", "Samir", "Lina", "Rami", "Dina", "José",
               "Inés", "Anna", "Erik", "Åsa", "Sören", "Björn", "Maja", "Olena", "Dmytro", "Kateryna")
FAMILY_NAMES = ("Yılmaz", "Öztürk", "Şahin", "Al-Hassan", "Ahmed", "Mohammadi", "Hosseini", "Karimi", "Haile",
                "Tesfaye", "Abdullahi", "Warsame", "Nguyễn", "Trần", "Muñoz", "García", "Ibrahim", "Khalil",
                "Haddad", "Nasser", "Mustafa", "Rahimi", "Bakr", "Osman", "Yousef", "Andersson", "Östlund",
                "Åberg", "Lindqvist", "Shevchenko", "Kovalenko", "Bondarenko", "Ağaoğlu", "Çelik", "Doğan")
LANGUAGES = ("arabiska", "dari", "tigrinja", "somaliska", "turkiska", "ukrainska", "persiska", "kurdiska",
             "vietnamesiska", "spanska")


def synthetic_details(index: int, seed: int) -> dict:
    """The person's name, language and interpreter need for script `index` (its own random
    stream: adding them changed no other draw of the cohort)."""
    rng = random.Random(seed * 7_000_003 + index)
    details = {"given_name": rng.choice(GIVEN_NAMES), "family_name": rng.choice(FAMILY_NAMES),
               "language": rng.choice(LANGUAGES)}
    if rng.random() < 0.6:                  # as a form gives it: the flag only when set
        details["interpreter"] = True
    return details


class _Clock:
    """Moves a case's time forward in working hours, never past `now`."""

    def __init__(self, rng: random.Random, start: date, now: datetime):
        self.rng, self.now = rng, now
        self.at = self._office_hours(start)

    def _office_hours(self, day: date) -> datetime:
        local = datetime(day.year, day.month, day.day, self.rng.randint(8, 15), self.rng.randint(0, 59), tzinfo=_ZONE)
        return local.astimezone(timezone.utc)

    def after(self, low: int, high: int) -> datetime | None:
        """A moment `low`–`high` days later, or None when that is after now."""
        day = local_date(self.at) + timedelta(days=self.rng.randint(low, high))
        moment = max(self._office_hours(day), self.at)
        if moment > self.now:
            return None
        self.at = moment
        return moment


def script(index: int, seed: int, now: datetime, config: Config, book: AgreementBook) -> Script:
    """One case's life, from registration up to now (deterministic in index and seed)."""
    rng = random.Random(seed * 1_000_003 + index)
    today = local_date(now)
    person, birth = synthetic_person(index, today, coordination=rng.random() < 0.1)
    permit = today - timedelta(days=rng.randint(20, 4 * 365))
    reception = permit + timedelta(days=rng.randint(0, 60)) if rng.random() < 0.7 else None
    municipality = _pick(rng, MUNICIPALITY_WEIGHTS)
    start = min(max(reception or permit, permit) + timedelta(days=rng.randint(1, 20)), today)
    clock = _Clock(rng, start, now)
    clock.at = min(clock.at, now)
    age = parse_identity(person).age_on(local_date(clock.at))
    # Under 20 only target group B admits; between 20 and 24 some lack upper-secondary school.
    no_upper_secondary = age < 20 or (age <= 24 and rng.random() < 0.5)
    officer = f"h{municipality}-{rng.randint(1, ACTORS_PER_MUNICIPALITY):02d}"
    actions = [Action(REGISTER.name, clock.at, {
        "person": person, "municipality": municipality, "permit_date": permit, "reception_date": reception,
        "no_upper_secondary": no_upper_secondary, "kommun_officer": officer, "af_officer": f"af{municipality}-01",
        **synthetic_details(index, seed)})]
    group = config.target_group_for(age, no_upper_secondary).code
    _life(rng, clock, actions, book, municipality, birth, group, no_upper_secondary)
    return Script(index, officer, actions)


def _life(rng, clock, actions, book, municipality, birth, group, no_upper_secondary) -> None:
    """Append the case's triggers after registration until a terminal state or now."""
    measures: list[str] = []         # state of each measure added so far, by position
    paused_once = False

    def advance(trigger, low, high, **raw):
        moment = clock.after(low, high)
        if moment is None:
            return False
        actions.append(Action("advance", moment, {"trigger": trigger, "raw": raw}))
        return True

    def measure_work(count: int, span: int) -> bool:
        for _ in range(count):
            moment = clock.after(0, span)
            if moment is None:
                return False
            actions.append(Action("add_measure", moment, {"type": _pick(rng, MEASURE_MIX)}))
            measures.append("planned")
        for position, current in enumerate(measures):
            if current != "planned" or rng.random() < 0.15:
                continue
            moment = clock.after(1, 14)
            if moment is None:
                return False
            actions.append(Action("measure", moment, {"position": position, "action": "start"}))
            measures[position] = "ongoing"
            ending = "cancel" if rng.random() < 0.1 else "complete"
            moment = clock.after(20, 120)
            if moment is None:
                return False
            actions.append(Action("measure", moment, {"position": position, "action": ending,
                                                      "reason": "not_needed" if ending == "cancel" else None}))
            measures[position] = ending
        return True

    def maybe_pause() -> bool:
        nonlocal paused_once
        if paused_once or rng.random() > 0.08:
            return True
        paused_once = True
        if not advance(T.pause, 5, 60, reason=rng.choice(["parental_leave", "illness", "other"])):
            return False
        return advance(T.resume, 30, 240)

    if rng.random() < 0.04:                       # moved before anything happened
        advance(T.close, 10, 200, reason=rng.choice(["moved_abroad", "moved_no_transfer", "declined"]))
        return
    if not advance(T.hold_talk, 7, 45) or not maybe_pause():
        return
    roll = rng.random()
    if roll < 0.05:
        advance(T.exit_direct, 10, 90, outcome=rng.choice(["work", "studies"]), reason="job_offer",
                note="Har fått anställning före modul 2")
        return
    if roll < 0.10:
        if not advance(T.skip_module2, 5, 30, reason=rng.choice(["validated_skills", "fast_track_match"]),
                       note="Validerad yrkeskompetens, går direkt till gemensam bedömning"):
            return
    else:
        if not advance(T.establish_plan, 3, 30, plan="handlingsplan"):
            return
        if not measure_work(rng.randint(1, 3), 25) or not maybe_pause():
            return
        if rng.random() < 0.05:
            advance(T.exit_direct, 30, 200, outcome="work", reason="job_offer", note="Anställd under modul 2")
            return
        if rng.random() < 0.03:
            others = {code: w for code, w in MUNICIPALITY_WEIGHTS.items() if code != municipality}
            advance(T.transfer, 30, 200, municipality=_pick(rng, others))
            return
        if not advance(T.request_assessment, 120, 420):
            return
    for _round in range(2):
        decision = _pick(rng, DECISION_MIX)
        raw = {"decision": decision, "participants": "kommun,af,individual",
               "note": "Gemensam bedömning med individen"}
        if decision == "local_track":
            track = _open_track(rng, book, municipality, local_date(clock.at), birth, group, no_upper_secondary)
            if track is None:
                decision = raw["decision"] = "extended_support"
            else:
                raw["track"] = track
                raw["participants"] = "kommun,af,individual,employer"
        if decision in ("work", "studies"):
            raw["reason"] = "job_offer" if decision == "work" else "admitted_to_studies"
        if decision == "fast_track":
            raw["reason"] = "fast_track_match"
            raw["fast_track"] = rng.choice(["chefs", "health_professions", "teachers", "electricians"])
        if not advance(T.decide, 5, 20, **raw):
            return
        if decision in ("work", "studies", "fast_track"):
            return
        if decision == "local_track":
            if rng.random() < 0.1:
                advance(T.drop_track, 30, 120, reason="track_not_suitable")
                return
            advance(T.complete_track, 150, 330, outcome=rng.choice(["work"] * 6 + ["studies", "own_business"]))
            return
        # extended support: more measures, then a new joint assessment
        if not measure_work(rng.randint(1, 2), 30) or not advance(T.request_assessment, 90, 240):
            return


def _open_track(rng, book: AgreementBook, municipality: str, on: date, birth: date, group: str,
                no_upper_secondary: bool):
    agreement = book.agreement_for(municipality, on)
    if agreement is None:
        return None
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    fitting = [t.id for t in agreement.open_tracks
               if not unmet_prerequisites(t, age=age, target_group=group, no_upper_secondary=no_upper_secondary)]
    return rng.choice(fitting) if fitting else None


def scripts(count: int, seed: int, now: datetime, first_index: int = 0, config: Config | None = None):
    config = config or get_config()
    book = AgreementBook.load()
    for index in range(first_index, first_index + count):
        yield script(index, seed, now, config, book)


def play(engine: Engine, plan: Script, config: Config | None = None) -> int:
    """Run a script through the engine's use cases, as officers' commands would."""
    from etablera.access.principal import operator
    from etablera.cases import measures as measure_cases
    from etablera.cases import service

    config = config or get_config()
    who = operator(plan.actor, via="demo")
    first = plan.actions[0].args
    register_officers(engine, [(first["kommun_officer"], "kommun", first["municipality"]),
                               (first["af_officer"], "af", first["municipality"])])
    case_id = None
    measure_ids: list[int] = []
    for action in plan.actions:
        if action.kind == REGISTER.name:
            case_id = service.register(engine, who, at=action.at, config=config, **action.args)
        elif action.kind == "advance":
            event = service.advance(engine, who, case_id, action.args["trigger"], dict(action.args["raw"]),
                                    at=action.at, config=config)
            measure_ids += event["data"].get("measures", [])
        elif action.kind == "add_measure":
            measure_ids.append(measure_cases.add_measure(engine, who, case_id, action.args["type"], at=action.at,
                                                         config=config))
        else:
            measure_cases.change_measure(engine, who, measure_ids[action.args["position"]], action.args["action"],
                                         reason=action.args.get("reason"), at=action.at, config=config)
    return case_id


def walkthrough(engine: Engine, echo=print, lang: str = "sv") -> list[int]:
    """The README's demo: a few cases walked through the process, states and history printed."""
    from etablera.access.principal import operator
    from etablera.cases import queries

    now = datetime.now(timezone.utc)
    seed = random.SystemRandom().randint(1, 10**9)     # fresh people on every run
    wanted = {"exited.work", "exited.studies", "module3.in_track", "assessment.pending", "on_hold", "closed",
              "module2.preparing"}
    shown, ids = set(), []
    t = (lambda sv, en: en) if lang == "en" else (lambda sv, en: sv)     # noqa: E731
    for plan in scripts(400, seed, now, first_index=14_000_000 + seed % 1_000_000):
        final = _final_state(plan)
        if final in shown or final not in wanted or len(plan.actions) < 3:
            continue
        shown.add(final)
        case_id = play(engine, plan)
        ids.append(case_id)
        doc, events = queries.view_case(engine, operator("demo", via="demo"), case_id, lang=lang, history=True)
        place = doc["municipality_name"] or doc["municipality"]
        echo(t(f"\n== Ärende {case_id} ({place}), målgrupp {doc['target_group']}: {doc['state_label']} ==",
               f"\n== Case {case_id} ({place}), target group {doc['target_group']}: {doc['state_label']} =="))
        for event in events:
            line = f"  {event['seq']:>2}. {event['at'][:16]}  {event['trigger']:<18} → {event['to_state_label']}"
            if event["skipped"]:
                line += f"   ({t('hoppar över', 'skips')} {', '.join(event['skipped'])}: {event['reason_label']})"
            echo(line)
        if len(shown) == len(wanted):
            break
    tries = f"etablera case show {ids[0]}; etablera case events {ids[0]}; etablera audit skips; etablera process diagram"
    echo(t(f"\n{len(ids)} demoärenden skrivna. Prova: {tries}", f"\n{len(ids)} demo cases written. Try: {tries}"))
    return ids


def _final_state(plan: Script) -> str:
    """Where a script ends, by the process table (no database needed)."""
    from etablera.statemachine.process import INITIAL, route

    state, paused_from = INITIAL, None
    for action in plan.actions:
        if action.kind != "advance":
            continue
        taken = route(state, action.args["trigger"], {**action.args["raw"], "paused_from": paused_from})
        if taken.effects.clock == "stop":
            paused_from = state
        state = taken.dest or state
    return state
