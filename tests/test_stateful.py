"""Random trigger sequences, valid and invalid, against the real engine on a SQLite file and
against a reference model written from DOMAIN.md (tests/domain_reference.py), which
does not read the engine's process table.

After every step: the engine's state is the reference's and a state of the table; a
refused step (BadInput / NotPermitted / ConcurrentChange) changed nothing (state, version,
events, measures); a step that went through appended exactly one audit event, recording
the transition (and its skips); the case's chain verifies.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select

import domain_reference as ref
from identities import pnr
from etablera.models.database import make_engine, transaction, upgrade
from etablera.cases import audit, measures
import kit
from etablera.cases.audit import CASES, EVENTS
from etablera.statemachine.errors import BadInput, ConcurrentChange, NotPermitted
from etablera.statemachine.process import STATE

MEASURES = measures.MEASURES
MUNICIPALITIES = ("0581", "0180", "0380")       # only Norrköping (0581) has an agreement with tracks
GOOD_TRACKS = ("industri", "restaurang-storkok")  # open in 0581, prerequisites met by a 30-50 year old in group A
TRACKS = GOOD_TRACKS + ("utan-gymnasium", "no-such-track")   # utan-gymnasium needs no upper-secondary
FAST_TRACKS = ("chefs", "truck_drivers", "health_professions", "teachers")
PLANS = ("handlingsplan", "etableringsplan")

_clock = itertools.count()
_people = itertools.count()
START = datetime(2025, 1, 1, 9, 0, tzinfo=timezone.utc)


def tick() -> datetime:
    """A strictly increasing event time, shared by all examples (cases never go back in time)."""
    return START + timedelta(minutes=5 * next(_clock))


def next_person() -> str:
    n = next(_people)
    birth = date(1976, 1, 1) + timedelta(days=n % 5000)
    return pnr(birth.strftime("%Y%m%d"), serial=100 + n // 5000)


# Any text a person can type: a NUL or a lone surrogate is refused as bad input
# (tests/test_security_inputs.py), not stored.
notes = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=1, max_size=40).filter(lambda s: s.strip())


def valid_data(trigger: str, municipality: str):
    """A strategy for data that the contract accepts for `trigger`."""
    if trigger in ("hold_talk", "request_assessment", "resume"):
        return st.fixed_dictionaries({}, optional={"note": notes})
    if trigger == "establish_plan":
        return st.fixed_dictionaries({"plan": st.sampled_from(PLANS)}, optional={"note": notes})
    if trigger == "skip_module2":
        return st.fixed_dictionaries({"reason": st.sampled_from(ref.SKIP_REASONS), "note": notes})
    if trigger == "exit_direct":
        return st.fixed_dictionaries({"outcome": st.sampled_from(tuple(ref.OUTCOMES)),
                                      "reason": st.sampled_from(ref.SKIP_REASONS), "note": notes})
    if trigger == "complete_track":
        return st.fixed_dictionaries({"outcome": st.sampled_from(tuple(ref.OUTCOMES))}, optional={"note": notes})
    if trigger == "drop_track":
        return st.fixed_dictionaries({"reason": st.sampled_from(ref.DROP_REASONS)}, optional={"note": notes})
    if trigger == "pause":
        return st.fixed_dictionaries({"reason": st.sampled_from(ref.PAUSE_REASONS)}, optional={"note": notes})
    if trigger == "close":
        return st.fixed_dictionaries({"reason": st.sampled_from(ref.CLOSE_REASONS)}, optional={"note": notes})
    if trigger == "transfer":
        others = [m for m in MUNICIPALITIES if m != municipality]
        return st.fixed_dictionaries({"municipality": st.sampled_from(others)})
    if trigger == "decide":
        return st.sampled_from(tuple(ref.DECISIONS)).flatmap(_decision)
    raise AssertionError(trigger)


def _decision(decision: str):
    participants = st.lists(st.sampled_from(("individual", "employer")), unique=True).flatmap(
        lambda extra: st.permutations(["kommun", "af", *extra])).map(",".join)
    fields = {"decision": st.just(decision), "participants": participants, "note": notes}
    if decision == "local_track":
        fields["track"] = st.sampled_from(TRACKS)
    if decision == "fast_track":
        fields["fast_track"] = st.sampled_from(FAST_TRACKS)
    if decision in ("work", "studies", "fast_track"):
        fields["reason"] = st.sampled_from(ref.SKIP_REASONS)
    return st.fixed_dictionaries(fields)


GARBAGE = st.sampled_from(["nonsense!", "   ", "", "x" * 61, "0", "kommun", "1.5", "ÅÄÖ"])


@st.composite
def payload(draw, trigger: str, municipality: str):
    """(data, valid): valid data, or valid data broken in one way the contract refuses."""
    data = dict(draw(valid_data(trigger, municipality)))
    breakable = [k for k in data if k != "note"]
    required = [k for k in ref.REQUIRED[trigger] if k in data] + [k for k in ("track", "fast_track") if k in data]
    if data.get("decision") in ("work", "studies", "fast_track"):
        required.append("reason")
    if draw(st.integers(0, 3)) < 3:   # mostly valid (hypothesis favours 0), so that cases travel far
        return data, True
    ways = ["unknown_key"] + (["missing"] if required else []) + (["garbage"] if breakable else [])
    if trigger == "decide":
        ways += ["participants", "not_applicable"]
    way = draw(st.sampled_from(ways))
    if way == "unknown_key":
        data[draw(st.sampled_from(["bogus", "state", "person", "seq"]))] = "x"
    elif way == "missing":
        key = draw(st.sampled_from(required))
        if draw(st.booleans()):
            del data[key]
        else:
            data[key] = draw(st.sampled_from(["", "  "]))
    elif way == "garbage":
        key = draw(st.sampled_from(breakable))
        # a well-formed but unknown track id is a rule's refusal (exit 3), not bad input
        garbage = st.sampled_from(["nonsense!", "x" * 61, "", "a b"]) if key == "track" else GARBAGE
        data[key] = draw(garbage.filter(lambda g: g != data[key]))
    elif way == "participants":
        data["participants"] = draw(st.sampled_from(["kommun", "af", "individual,employer", "kommun,individual",
                                                     "af,kommun,boss"]))
    elif way == "not_applicable":
        # a field that only applies to another decision
        if data["decision"] != "local_track" and "track" not in data:
            data["track"] = "industri"
        elif data["decision"] != "fast_track":
            data["fast_track"] = "chefs"
    return data, False


class Refused(Exception):
    pass


class ProcessMachine(RuleBasedStateMachine):
    engine = None
    cases = Bundle("cases")

    def __init__(self):
        super().__init__()
        self.model: dict[int, dict] = {}
        self.measures: dict[int, dict] = {}   # measure id -> {"case": id, "state": ...}

    # --- the database as it is -----------------------------------------------------

    def snapshot(self, case_id: int) -> dict:
        with transaction(self.engine, write=False) as conn:
            case = conn.execute(select(CASES).where(CASES.c.id == case_id)).mappings().one()
            events = conn.execute(select(func.count()).select_from(EVENTS)
                                  .where(EVENTS.c.case_id == case_id)).scalar_one()
            last = conn.execute(select(EVENTS).where(EVENTS.c.case_id == case_id)
                                .order_by(EVENTS.c.seq.desc()).limit(1)).mappings().one()
            rows = conn.execute(select(MEASURES.c.id, MEASURES.c.state, MEASURES.c.version, MEASURES.c.due)
                                .where(MEASURES.c.case_id == case_id).order_by(MEASURES.c.id)).all()
        return {"state": case["state"], "version": case["version"], "municipality": case["municipality"],
                "paused_from": case["paused_from"], "last_seq": case["last_seq"], "events": events,
                "last": dict(last), "measures": {r.id: r.state for r in rows},
                "measure_rows": [tuple(r) for r in rows], "active": case["active"]}

    def check_case(self, case_id: int) -> dict:
        m = self.model[case_id]
        db = self.snapshot(case_id)
        assert db["state"] in STATE
        assert db["state"] == m["state"], (db["state"], m)
        assert db["municipality"] == m["municipality"]
        assert db["version"] == m["version"]
        assert db["events"] == db["last_seq"] == m["events"]
        assert db["last"]["to_state"] == db["state"]
        assert db["active"] == (m["state"] not in ref.TERMINAL)
        assert db["measures"] == {mid: x["state"] for mid, x in self.measures.items() if x["case"] == case_id}
        if m["state"] == ref.ON_HOLD:
            assert db["paused_from"] == m["paused_from"]
        with transaction(self.engine, write=False) as conn:
            _, _, breaks = audit.verify(conn, [case_id])
        assert not breaks, [str(b) for b in breaks]
        return db

    def expect_unchanged(self, case_id: int, before: dict, call, *errors):
        with pytest.raises(errors):
            call()
        after = self.snapshot(case_id)
        assert after == before, "a refused step changed something"
        self.check_case(case_id)

    def succeeded(self, case_id: int, before: dict, trigger: str, to_state: str, skipped=()) -> dict:
        m = self.model[case_id]
        m["version"] += 1
        m["events"] += 1
        after = self.snapshot(case_id)
        assert after["events"] == before["events"] + 1, "exactly one new audit event"
        last = after["last"]
        assert last["seq"] == before["last"]["seq"] + 1
        assert (last["trigger"], last["from_state"], last["to_state"]) == (trigger, before["state"], to_state)
        assert tuple(last["skipped"]) == tuple(skipped)
        if skipped:
            assert last["reason"] in ref.SKIP_REASONS and last["note"], "a skip is never silent"
        return after

    # --- rules ---------------------------------------------------------------------

    def _register(self, municipality: str) -> int:
        case_id = kit.register(self.engine, next_person(), municipality, date(2024, 12, 1), tick(), actor="prop")
        self.model[case_id] = {"state": "module1.registered", "paused_from": None, "municipality": municipality,
                               "version": 2, "events": 1}
        self.check_case(case_id)
        return case_id

    @initialize(target=cases)
    def first_case(self):
        return self._register("0581")

    @precondition(lambda self: len(self.model) < 3)
    @rule(target=cases, municipality=st.sampled_from(MUNICIPALITIES))
    def register(self, municipality):
        return self._register(municipality)

    @rule(case=cases, data=st.data(), stale=st.sampled_from([False] * 4 + [True]))
    def fire_anything(self, case, data, stale):
        """Any trigger (or none of the process), with data that may be broken, maybe back in time."""
        m = self.model[case]
        trigger = data.draw(st.sampled_from(ref.TRIGGERS + ("register", "jump", "")), label="trigger")
        if trigger in ref.TRIGGERS:
            raw, valid = data.draw(payload(trigger, m["municipality"]), label="data")
        else:
            raw, valid = {}, False
        self._fire(case, trigger, raw, valid, stale)

    @precondition(lambda self: any(m["state"] not in ref.TERMINAL for m in self.model.values()))
    @rule(data=st.data())
    def fire_forward(self, data):
        """A trigger the reference permits now, mostly one that moves the case on."""
        case = data.draw(st.sampled_from(sorted(c for c, m in self.model.items() if m["state"] not in ref.TERMINAL)))
        m = self.model[case]
        forward = sorted(ref.permitted(m["state"]) - {"pause", "close", "transfer", "exit_direct"})
        trigger = data.draw(st.sampled_from(forward * 4 + sorted(ref.permitted(m["state"]))), label="trigger")
        raw, valid = data.draw(payload(trigger, m["municipality"]), label="data")
        self._fire(case, trigger, raw, valid, data.draw(st.sampled_from([False] * 9 + [True]), label="stale"))

    def _fire(self, case, trigger, raw, valid, stale):
        m = self.model[case]
        before = self.snapshot(case)
        at = before["last"]["at"] - timedelta(minutes=1) if stale else tick()

        def call():
            return kit.advance(self.engine, case, trigger, at, actor="prop", **raw)

        if trigger not in ref.TRIGGERS and trigger != "register":
            return self.expect_unchanged(case, before, call, BadInput)
        dest = ref.dest(m["state"], trigger, raw, m["paused_from"]) if trigger in ref.TRIGGERS else None
        if trigger not in ref.permitted(m["state"]):
            return self.expect_unchanged(case, before, call, NotPermitted)
        if not valid or stale:
            return self.expect_unchanged(case, before, call, BadInput)
        assert dest is not None
        if raw.get("decision") == "local_track" and not (m["municipality"] == "0581" and raw["track"] in GOOD_TRACKS):
            return self.expect_unchanged(case, before, call, NotPermitted)
        event = call()
        value = raw.get(ref.SELECTOR.get(trigger, ""))
        after = self.succeeded(case, before, trigger, dest, ref.skips(m["state"], trigger, value))
        if trigger == "pause":
            m["paused_from"] = m["state"]
        if trigger == "resume":
            m["paused_from"] = None
        if trigger == "transfer":
            m["municipality"] = raw["municipality"]
            assert after["last"]["data"]["from_municipality"] == before["municipality"]
        m["state"] = dest
        for mid in event["data"].get("measures", []):     # a local track's components
            self.measures[mid] = {"case": case, "state": "planned", "module": "module3"}
        # leaving the process ends every open measure; dropping the track ends its own (DOMAIN.md)
        ending = ("module2", "module3") if dest in ref.TERMINAL else ("module3",) if trigger == "drop_track" else ()
        cancelled = sorted(mid for mid, x in self.measures.items()
                           if x["case"] == case and x["module"] in ending and x["state"] in ("planned", "ongoing"))
        assert event["data"].get("cancelled_measures", []) == cancelled
        for mid in cancelled:
            self.measures[mid]["state"] = "cancelled"
        assert event["seq"] == after["last"]["seq"]
        self.check_case(case)

    @rule(case=cases, kind=st.sampled_from(ref.MEASURE_TYPES + ("bogus", "SFI")))
    def add_measure(self, case, kind):
        m = self.model[case]
        before = self.snapshot(case)

        def call():
            return kit.add_measure(self.engine, case, kind, tick(), actor="prop")

        if kind not in ref.MEASURE_TYPES:
            return self.expect_unchanged(case, before, call, BadInput)
        if m["state"] not in ref.MEASURE_STATES:
            return self.expect_unchanged(case, before, call, NotPermitted)
        measure_id = call()
        self.measures[measure_id] = {"case": case, "state": "planned", "module": m["state"].split(".")[0]}
        self.succeeded(case, before, "add_measure", m["state"])
        self.check_case(case)

    @precondition(lambda self: self.measures)
    @rule(data=st.data(), action=st.sampled_from(("start", "complete", "cancel", "finish")),
          reason=st.sampled_from((None, None, "not_needed", "absence", "bogus", "")))
    def change_measure(self, data, action, reason):
        measure_id = data.draw(st.sampled_from(sorted(self.measures)), label="measure")
        measure = self.measures[measure_id]
        case = measure["case"]
        before = self.snapshot(case)

        def call():
            return kit.change_measure(self.engine, measure_id, action, tick(), actor="prop", reason=reason)

        lifecycle = {("planned", "start"): "ongoing", ("ongoing", "complete"): "completed",
                     ("planned", "cancel"): "cancelled", ("ongoing", "cancel"): "cancelled"}
        if action == "finish":
            return self.expect_unchanged(case, before, call, BadInput)
        if action == "cancel" and reason not in ref.CANCEL_REASONS:
            return self.expect_unchanged(case, before, call, BadInput)
        if action != "cancel" and reason:
            return self.expect_unchanged(case, before, call, BadInput)
        new = lifecycle.get((measure["state"], action))
        if new is None:
            return self.expect_unchanged(case, before, call, NotPermitted)
        assert call() == new
        measure["state"] = new
        self.succeeded(case, before, f"{action}_measure", self.model[case]["state"])
        self.check_case(case)

    @rule(case=cases, offset=st.sampled_from((-1, 1, 5)))
    def stale_version(self, case, offset):
        """An advance that read an older version is refused, whatever it asks for."""
        before = self.snapshot(case)
        self.expect_unchanged(case, before, lambda: kit.advance(
            self.engine, case, "pause", tick(), actor="prop", expect_version=before["version"] - offset,
            reason="illness"), ConcurrentChange)

    @invariant()
    def states_are_states(self):
        for case_id, m in self.model.items():
            assert m["state"] in STATE

    def teardown(self):
        if self.model:
            with transaction(self.engine, write=False) as conn:
                _, events, breaks = audit.verify(conn, list(self.model))
            assert not breaks, [str(b) for b in breaks]
            assert events == sum(m["events"] for m in self.model.values())


def test_random_trigger_sequences(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('stateful') / 'etablera.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    ProcessMachine.engine = engine
    try:
        run = ProcessMachine.TestCase
        run.settings = settings(max_examples=150, stateful_step_count=50, deadline=None,
                                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        run("runTest").runTest()
        with transaction(engine, write=False) as conn:
            cases, events, breaks = audit.verify(conn)
        assert cases > 0 and events > cases
        assert not breaks, [str(b) for b in breaks]
    finally:
        engine.dispose()
