"""The process of DOMAIN.md written out by hand, independently of statemachine/process.py.

Tests compare the engine (and the declarative table) against this: if someone edits the
table by mistake, the two disagree. Nothing here imports the engine's routes.
"""

from __future__ import annotations

ACTIVE = ("module1.registered", "module1.talk_held", "module2.preparing", "module2.extended",
          "assessment.pending", "module3.in_track")
ON_HOLD = "on_hold"
TERMINAL = ("exited.work", "exited.own_business", "exited.studies", "exited.fast_track", "closed")
ALL_STATES = ACTIVE + (ON_HOLD,) + TERMINAL
MEASURE_STATES = ("module2.preparing", "module2.extended", "module3.in_track")

OUTCOMES = {"work": "exited.work", "own_business": "exited.own_business", "studies": "exited.studies"}
DECISIONS = {"local_track": "module3.in_track", "work": "exited.work", "studies": "exited.studies",
             "fast_track": "exited.fast_track", "extended_support": "module2.extended"}
SELECTOR = {"exit_direct": "outcome", "complete_track": "outcome", "decide": "decision"}
SAME = "<same>"              # transfer: the case stays where it is
PAUSED_FROM = "<paused_from>"  # resume: back where it was paused from

TRIGGERS = ("hold_talk", "establish_plan", "skip_module2", "request_assessment", "decide", "complete_track",
            "drop_track", "exit_direct", "pause", "resume", "close", "transfer")

TABLE: dict[str, dict[str, object]] = {
    "module1.registered": {"hold_talk": "module1.talk_held", "exit_direct": OUTCOMES},
    "module1.talk_held": {"establish_plan": "module2.preparing", "skip_module2": "assessment.pending",
                          "exit_direct": OUTCOMES},
    "module2.preparing": {"request_assessment": "assessment.pending", "exit_direct": OUTCOMES},
    "module2.extended": {"request_assessment": "assessment.pending", "exit_direct": OUTCOMES},
    "assessment.pending": {"decide": DECISIONS},
    "module3.in_track": {"complete_track": OUTCOMES, "drop_track": "module2.extended"},
    ON_HOLD: {"resume": PAUSED_FROM, "close": "closed"},
}
for _state in ACTIVE:
    TABLE[_state].update(pause=ON_HOLD, close="closed", transfer=SAME)
for _state in TERMINAL:
    TABLE[_state] = {}


def permitted(state: str) -> set[str]:
    return set(TABLE[state])


def dest(state: str, trigger: str, data: dict, paused_from: str | None = None) -> str | None:
    """Where `trigger` leads from `state` with `data`; None if it may not fire."""
    target = TABLE[state].get(trigger)
    if target is None:
        return None
    if isinstance(target, dict):
        return target.get(data.get(SELECTOR[trigger]))
    if target == SAME:
        return state
    if target == PAUSED_FROM:
        return paused_from
    return target


def skips(state: str, trigger: str, value: str | None = None) -> tuple[str, ...]:
    """Modules skipped by a transition (the only legal skips)."""
    if trigger == "skip_module2":
        return ("module2",)
    if trigger == "exit_direct":
        return ("module2", "module3") if state.startswith("module1.") else ("module3",)
    if trigger == "decide" and value in ("work", "studies", "fast_track"):
        return ("module3",)
    return ()


# Data each trigger requires (field -> where the CLI takes it from).
REQUIRED = {
    "hold_talk": (), "request_assessment": (), "resume": (),
    "establish_plan": ("plan",),
    "skip_module2": ("reason", "note"),
    "decide": ("decision", "participants", "note"),
    "complete_track": ("outcome",),
    "drop_track": ("reason",),
    "exit_direct": ("outcome", "reason", "note"),
    "pause": ("reason",), "close": ("reason",),
    "transfer": ("municipality",),
}

SKIP_REASONS = ("already_employed", "job_offer", "admitted_to_studies", "fast_track_match", "validated_skills",
                "own_business_ready", "previous_preparation", "other")
PAUSE_REASONS = ("parental_leave", "illness", "other")
CLOSE_REASONS = ("moved_abroad", "moved_no_transfer", "deceased", "declined", "other")
DROP_REASONS = ("needs_rehabilitation", "track_not_suitable", "track_discontinued", "other")
CANCEL_REASONS = ("not_needed", "absence", "health", "provider_cancelled", "case_left_module", "other")
MEASURE_TYPES = ("sfi", "civic_orientation", "career_guidance", "internship", "validation", "rehabilitation",
                 "motivation", "health", "labour_market_training", "other")
