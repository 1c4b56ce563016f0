"""SpiffWorkflow doing etablera's steps: process.bpmn (user tasks) run by SpiffWorkflow's
BPMN engine, each case's workflow kept serialized (BpmnWorkflowSerializer's JSON) in a
SQLite row, as SpiffWorkflow-based applications persist it. Registration creates the
workflow, runs it to its first user task and stores it with a history row; each step
loads the case's workflow, deserializes it, completes the ready user task with the
step's data, runs the engine on, and stores the new serialization with a history row,
in one committed transaction (the same SQLite settings as etablera's: WAL,
synchronous=NORMAL)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

BPMN = Path(__file__).with_name("process.bpmn")
SCHEMA = (
    "CREATE TABLE workflows (id INTEGER PRIMARY KEY, person TEXT NOT NULL, municipality TEXT NOT NULL, "
    "task TEXT, serialization TEXT NOT NULL, version INTEGER NOT NULL)",
    "CREATE TABLE history (id INTEGER PRIMARY KEY, workflow_id INTEGER NOT NULL REFERENCES workflows(id), "
    "seq INTEGER NOT NULL, task TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX history_workflow ON history (workflow_id, seq)",
)


class Spiff:
    name = "SpiffWorkflow"

    def __init__(self, path: Path):
        parser = BpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec("introduction")
        self.serializer = BpmnWorkflowSerializer()
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000", "foreign_keys=ON"):
            self.db.execute(f"PRAGMA {pragma}")
        for statement in SCHEMA:
            self.db.execute(statement)

    def register(self, person: str, municipality: str) -> int:
        workflow = BpmnWorkflow(self.spec)
        workflow.do_engine_steps()
        ready = _ready(workflow)
        now = datetime.now(timezone.utc).isoformat()
        self.db.execute("BEGIN IMMEDIATE")
        case_id = self.db.execute(
            "INSERT INTO workflows (person, municipality, task, serialization, version) VALUES (?, ?, ?, ?, 1)",
            (person, municipality, ready.task_spec.bpmn_id, self.serializer.serialize_json(workflow))).lastrowid
        self.db.execute("INSERT INTO history (workflow_id, seq, task, at, actor, data) VALUES (?, 1, ?, ?, ?, ?)",
                        (case_id, "register", now, "bench", "{}"))
        self.db.execute("COMMIT")
        return case_id

    def step(self, case_id: int, step: str, data: dict) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        serialization, version = self.db.execute("SELECT serialization, version FROM workflows WHERE id = ?",
                                                 (case_id,)).fetchone()
        workflow = self.serializer.deserialize_json(serialization)
        task = _ready(workflow)
        if task.task_spec.bpmn_id != step:
            self.db.execute("ROLLBACK")
            raise ValueError(f"case {case_id}: {step} is not ready ({task.task_spec.bpmn_id} is)")
        task.data.update(data)
        task.run()
        workflow.do_engine_steps()
        self.db.execute("UPDATE workflows SET serialization = ?, task = ?, version = ? WHERE id = ? AND version = ?",
                        (self.serializer.serialize_json(workflow), _ready(workflow).task_spec.bpmn_id, version + 1,
                         case_id, version))
        self.db.execute("INSERT INTO history (workflow_id, seq, task, at, actor, data) VALUES (?, ?, ?, ?, ?, ?)",
                        (case_id, version + 1, step, datetime.now(timezone.utc).isoformat(), "bench",
                         json.dumps(data)))
        self.db.execute("COMMIT")

    def registers(self, people: list[str], municipality: str) -> list[int]:
        return [self.register(person, municipality) for person in people]

    def steps(self, ids: list[int], step: str, data: dict, _k: int) -> None:
        for case_id in ids:
            self.step(case_id, step, dict(data))

    def where(self, case_id: int) -> str:
        return self.db.execute("SELECT task FROM workflows WHERE id = ?", (case_id,)).fetchone()[0]

    def close(self) -> None:
        self.db.close()


def _ready(workflow: BpmnWorkflow):
    return workflow.get_next_task(state=TaskState.READY, manual=True)

