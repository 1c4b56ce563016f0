"""The process table is consistent and agrees with DOMAIN.md (written out independently in
domain_reference.py): its states, routes, skips and effects."""

from __future__ import annotations

import itertools

import pytest

import domain_reference as ref
from etablera.statemachine import process
from etablera.statemachine.diagram import mermaid
from etablera.statemachine.errors import NotPermitted
from etablera.statemachine.decide import next_state
from etablera.statemachine.process import CASE_TRIGGERS, STATE, STATES, TRIGGER, TRIGGERS


def test_states_are_exactly_the_contract():
    assert set(STATE) == set(ref.ALL_STATES)
    assert len(STATES) == len(STATE), "a state is listed twice"
    assert set(process.TERMINAL) == set(ref.TERMINAL)
    assert set(process.ACTIVE) == set(ref.ACTIVE)
    assert process.INITIAL == "module1.registered"
    for state in STATES:
        assert state.sv and state.en, f"{state.name} lacks a label"


def test_every_source_and_dest_is_a_state():
    for trigger in TRIGGERS:
        assert trigger.routes, f"{trigger.name} has no route"
        for route in trigger.routes:
            for source in route.sources:
                assert source in STATE, f"{trigger.name}: source {source} is not a state"
            assert route.dest is None or route.dest in STATE, f"{trigger.name}: dest {route.dest} is not a state"
            if route.match is not None:
                field, _ = route.match
                assert field == "paused_from" or field in {f.name for f in trigger.fields}, (
                    f"{trigger.name} selects its route on {field}, which it does not take")


def test_every_contract_trigger_exists():
    assert set(TRIGGER) == set(ref.TRIGGERS) | {"register"}
    assert len(TRIGGERS) == len(TRIGGER)
    assert TRIGGER["register"].routes[0].dest == "module1.registered"
    assert TRIGGER["register"].routes[0].sources == ()


def test_required_fields_match_the_contract():
    for name, required in ref.REQUIRED.items():
        fields = {f.name: f for f in TRIGGER[name].fields}
        always = {n for n, f in fields.items() if f.required and f.when is None}
        assert always == set(required), f"{name}: requires {sorted(always)}, contract says {sorted(required)}"
    participants = {f.name: f for f in TRIGGER["decide"].fields}["participants"]
    assert set(participants.must_include) == {"kommun", "af"}
    assert {f.name: f.reasons for f in TRIGGER["pause"].fields}["reason"] == "pause"
    assert {f.name: f.reasons for f in TRIGGER["close"].fields}["reason"] == "close"
    for name in ("skip_module2", "exit_direct"):
        assert {f.name: f.reasons for f in TRIGGER[name].fields}["reason"] == "skip"


def _selecting_values(trigger: str) -> list[dict]:
    """Every value that can select a route of `trigger`, plus nonsense and nothing."""
    if trigger in ("exit_direct", "complete_track"):
        return [{"outcome": v} for v in (*ref.OUTCOMES, "nonsense")] + [{}]
    if trigger == "decide":
        return [{"decision": v} for v in (*ref.DECISIONS, "nonsense")] + [{}]
    if trigger == "resume":
        return [{"paused_from": s} for s in ref.ALL_STATES] + [{"paused_from": None}]
    return [{}]


@pytest.mark.parametrize("trigger", [t.name for t in CASE_TRIGGERS])
def test_table_and_contract_agree(trigger):
    for state, facts in itertools.product(ref.ALL_STATES, _selecting_values(trigger)):
        route = process.route(state, trigger, facts)
        by_table = None if route is None else (route.dest or state)
        try:
            by_lookup = next_state(state, trigger, dict(facts))
        except NotPermitted as exc:
            by_lookup = None
            assert exc.code == "trigger_not_permitted" and exc.params["state"] == state, "the refusal names the state"
        expected = ref.dest(state, trigger, facts, paused_from=facts.get("paused_from"))
        if trigger == "resume" and facts.get("paused_from") not in ref.ACTIVE:
            expected = None     # a case is only ever paused from an active state
        assert by_lookup == by_table == expected, (state, trigger, facts, by_lookup, by_table, expected)
        if route is not None:
            value = facts.get(ref.SELECTOR.get(trigger, ""), None)
            assert tuple(route.skips) == ref.skips(state, trigger, value), (state, trigger, facts)


def test_each_trigger_is_permitted_only_where_the_contract_says():
    for state in ref.ALL_STATES:
        assert {t.name for t in process.permitted(state)} == ref.permitted(state), state
        routed = {trigger for (source, trigger) in process.ROUTES if source == state}
        assert routed == ref.permitted(state), state


def test_effects_name_real_columns_fields_and_rules():
    from etablera.models import Case
    from etablera.statemachine.rules import RULES
    columns = set(Case.c.keys())
    for trigger in TRIGGERS:
        fields = {f.name for f in trigger.fields}
        for route in trigger.routes:
            effects = route.effects
            for column, field in effects.sets:
                assert column in columns and field in fields, (trigger.name, column, field)
            assert set(effects.clears) <= columns, trigger.name
            assert {column for _, column in effects.records} <= columns, trigger.name
            assert {c for pair in effects.carries for c in pair} | set(effects.dates) <= columns, trigger.name
            assert set(effects.rules) <= set(RULES), trigger.name
            assert set(effects.ends_measures) <= set(process.MEASURE_MODULES), trigger.name
            assert effects.clock in (None, "stop", "restart"), trigger.name


def test_leaving_the_process_ends_every_measure_and_leaving_a_track_ends_its_components():
    for trigger in CASE_TRIGGERS:
        for route in trigger.routes:
            for source in route.sources:
                dest = route.dest or source
                if STATE[dest].terminal:
                    assert set(route.effects.ends_measures) == {"module2", "module3"}, (trigger.name, dest)
                elif process.module_of(source) == "module3" and process.module_of(dest) == "module2":
                    assert route.effects.ends_measures == ("module3",), (trigger.name, dest)
                else:
                    assert route.effects.ends_measures == (), (trigger.name, source, dest)


def test_stages_flags_and_labels():
    assert {s.stage for s in STATES if s.stage} == set(process.STAGE)
    assert set(process.EXIT_STATES) == {s for s in ref.TERMINAL if s != "closed"}
    assert set(process.FOLLOWED_UP) == set(ref.OUTCOMES.values())
    for stage in process.STAGES:
        assert process.stage_label(stage.name, "sv") == stage.sv and process.stage_label(stage.name, "en") == stage.en
    # entering a stage: the route's destination lies in another stage, except a resume
    assert process.route("module1.talk_held", "establish_plan", {}).enters_stage("module1.talk_held") == \
        "module2.preparing"
    assert process.route("module1.registered", "hold_talk", {}).enters_stage("module1.registered") is None
    assert process.route("on_hold", "resume", {"paused_from": "module3.in_track"}).enters_stage("on_hold") is None


def test_terminal_states_permit_nothing():
    for state in ref.TERMINAL:
        assert process.permitted(state) == ()
        assert STATE[state].terminal
        for trigger in ref.TRIGGERS:
            with pytest.raises(NotPermitted, match="nothing"):
                next_state(state, trigger, {"outcome": "work", "decision": "work", "paused_from": "module2.preparing"})


def test_skips_only_where_the_contract_allows():
    skipping = set()
    for trigger in TRIGGERS:
        for route in trigger.routes:
            if route.skips:
                value = route.match[1] if route.match else None
                skipping.add((trigger.name, value))
                assert set(route.skips) <= {"module2", "module3"}
    assert {t for t, _ in skipping} == {"skip_module2", "exit_direct", "decide"}
    assert {v for t, v in skipping if t == "decide"} == {"work", "studies", "fast_track"}
    # A skipping route always asks for a reason code and a written justification / rationale.
    for name in ("skip_module2", "exit_direct", "decide"):
        fields = {f.name for f in TRIGGER[name].fields}
        assert {"reason", "note"} <= fields, name
    note = {f.name: f for f in TRIGGER["decide"].fields}["note"]
    assert note.required


def test_measures_only_in_module2_and_3():
    assert set(process.MEASURE_STATES) == set(ref.MEASURE_STATES)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_diagram_mentions_every_state_and_trigger(lang):
    text = mermaid(lang)
    assert text.startswith("stateDiagram-v2")
    for state in STATES:
        assert state.name.replace(".", "_") in text, state.name
        assert (state.en if lang == "en" else state.sv) in text
    for trigger in TRIGGERS:
        assert trigger.name in text, trigger.name
    # every edge of the contract is drawn
    for state, triggers in ref.TABLE.items():
        for trigger in triggers:
            if trigger == "resume":
                continue
            assert f"{state.replace('.', '_')} --> " in text


def test_diagram_command(capsys, monkeypatch):
    from etablera.interfaces.cli.main import main
    main(["process", "diagram"])
    out = capsys.readouterr().out
    assert out.startswith("stateDiagram-v2")
    for state in STATES:
        assert state.name.replace(".", "_") in out
    for trigger in TRIGGERS:
        assert trigger.name in out
