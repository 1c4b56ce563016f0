"""The hand-rolled baseline: a python-transitions machine over etablera's states for the
same steps, an SQLAlchemy ORM model of the case and of its history, one session commit
per step with its history row (the same SQLite settings as etablera's: WAL,
synchronous=NORMAL). The machine is built once; each step loads the case in a new
session, attaches it to the machine in its stored state, fires the trigger, adds the
history row and commits, with the ORM's version counter as the optimistic lock."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from transitions import Machine

STATES = ["module1.registered", "module1.talk_held", "module2.preparing", "on_hold", "module3.in_track"]
TRANSITIONS = [
    {"trigger": "hold_talk", "source": "module1.registered", "dest": "module1.talk_held"},
    {"trigger": "establish_plan", "source": "module1.talk_held", "dest": "module2.preparing"},
    {"trigger": "pause", "source": "module2.preparing", "dest": "on_hold"},
    {"trigger": "resume", "source": "on_hold", "dest": "module2.preparing"},
    {"trigger": "start_track", "source": "module2.preparing", "dest": "module3.in_track"},
]


class Base(DeclarativeBase):
    pass


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person: Mapped[str] = mapped_column(String(12))
    municipality: Mapped[str] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(40), index=True)
    plan: Mapped[str | None] = mapped_column(String(40), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


class History(Base):
    __tablename__ = "history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict] = mapped_column(JSON)


class Orm:
    name = "transitions + SQLAlchemy ORM"

    def __init__(self, path: Path):
        self.engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _pragmas)
        event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        Base.metadata.create_all(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.machine = Machine(model=None, states=STATES, transitions=TRANSITIONS, initial="module1.registered",
                               auto_transitions=False, model_attribute="state")

    def register(self, person: str, municipality: str) -> int:
        with self.sessions() as session:
            case = Case(person=person, municipality=municipality, state="module1.registered")
            session.add(case)
            session.flush()
            session.add(History(case_id=case.id, trigger="register", from_state="", to_state=case.state,
                                at=datetime.now(timezone.utc), data={}))
            session.commit()
            return case.id

    def step(self, case_id: int, step: str, data: dict) -> None:
        with self.sessions() as session:
            case = session.get(Case, case_id)
            before = case.state
            self.machine.add_model(case, initial=before)
            try:
                case.trigger(step)          # raises MachineError when the step is not allowed here
            finally:
                self.machine.remove_model(case)
            if "plan" in data:
                case.plan = data["plan"]
            session.add(History(case_id=case.id, trigger=step, from_state=before, to_state=case.state,
                                at=datetime.now(timezone.utc), data=data))
            session.commit()

    def registers(self, people: list[str], municipality: str) -> list[int]:
        return [self.register(person, municipality) for person in people]

    def steps(self, ids: list[int], step: str, data: dict, _k: int) -> None:
        for case_id in ids:
            self.step(case_id, step, dict(data))

    def where(self, case_id: int) -> str:
        with self.sessions() as session:
            return session.get(Case, case_id).state

    def close(self) -> None:
        self.engine.dispose()


def _pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None         # BEGIN IMMEDIATE comes from the engine's begin event
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
