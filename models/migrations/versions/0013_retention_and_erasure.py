"""retention and erasure (gallring): erasable values sealed in the audit chain, legal
holds, the protocol of each run

Revision ID: 0013
Revises: 0014
Create Date: 2026-12-05 00:00:00

- `audit_events.salts`: each erasable value's salt, outside the hash (cases/sealing.py).
  Every chain that holds erasable values (a registration's details, a change of them, a
  note on an event) and is intact is sealed now: its events get salts and their hashes
  and the case's head are recomputed, so every value can be erased later and the chain
  still verifies. A chain already broken is left as it is (verify goes on reporting it).
  An anchor (`etablera audit anchor`) made before this migration names the old heads of
  the chains sealed here: make a new anchor right after upgrading.
- The audit trail's UPDATE trigger and the access log's DELETE trigger let a gallring
  run's own transaction through (a row of `gallring_runs` with `erasing` true, which no
  other transaction sees before it commits, and the run clears it before committing):
  an audit event may change only in `note`, `data` and `salts` (the chain finds any
  other change), an access-log row may be deleted. Everything else stays refused.
- `legal_holds`, `gallring_runs`, `gallring_protocol`, `gallring_erasures`.
"""
import sqlalchemy as sa
from alembic import op

from etablera.models.timestamps import UTCDateTime

revision = '0013'
down_revision = '0014'
branch_labels = None
depends_on = None

# The columns of an audit event that a gallring run never changes.
FIXED = ("id", "case_id", "seq", "at", "recorded_at", "actor", "trigger", "from_state", "to_state", "municipality",
         "reason", "prev_hash", "hash")


def upgrade() -> None:
    op.add_column('audit_events', sa.Column('salts', sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        'legal_holds',
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), primary_key=True),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('since', UTCDateTime(), nullable=False),
        sa.Column('placed_by', sa.String(length=60), nullable=False),
    )
    op.create_table(
        'gallring_runs',
        sa.Column('run_id', sa.String(length=36), primary_key=True),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.Column('erasing', sa.Boolean(), nullable=False),
    )
    op.create_table(
        'gallring_protocol',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('run_id', sa.String(length=36), sa.ForeignKey('gallring_runs.run_id'), nullable=False),
        sa.Column('category', sa.String(length=20), nullable=False),
        sa.Column('rule', sa.String(), nullable=False),
        sa.Column('period', sa.String(length=40), nullable=False),
        sa.Column('ended_before', sa.Date(), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.Column('items', sa.Integer(), nullable=False),
    )
    op.create_index('ix_gallring_protocol_run_id', 'gallring_protocol', ['run_id'])
    op.create_table(
        'gallring_erasures',
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), primary_key=True),
        sa.Column('category', sa.String(length=20), primary_key=True),
        sa.Column('run_id', sa.String(length=36), sa.ForeignKey('gallring_runs.run_id'), nullable=False),
        sa.Column('last_seq', sa.Integer(), nullable=False),
    )
    _drop_update_guards()
    _seal_chains(op.get_bind())
    _gated_guards()


def downgrade() -> None:
    _drop_gated_guards()
    _restore_guards()
    for table in ('gallring_erasures', 'gallring_protocol', 'gallring_runs', 'legal_holds'):
        op.drop_table(table)
    op.execute("ALTER TABLE audit_events DROP COLUMN salts")       # the sealed hashes stay (verify reads them)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _drop_update_guards() -> None:
    """Migration 0001's UPDATE/DELETE guards of the audit trail and the access log."""
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")
    else:
        for name in ("audit_events_no_update", "audit_events_no_delete", "access_log_no_update",
                     "access_log_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _gated_guards() -> None:
    if _postgres():
        same = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in FIXED)
        op.execute(f"""
            CREATE OR REPLACE FUNCTION etablera_gallring_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF EXISTS (SELECT 1 FROM gallring_runs WHERE erasing) THEN
                IF TG_TABLE_NAME = 'access_log' AND TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                IF TG_TABLE_NAME = 'audit_events' AND TG_OP = 'UPDATE' THEN
                  IF {same} AND NEW.skipped::text = OLD.skipped::text THEN RETURN NEW; END IF;
                END IF;
              END IF;
              RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
            END $$""")
        for table in ("audit_events", "access_log"):          # 0001's name, the gated function
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION etablera_gallring_only()")
        return
    erasing = "EXISTS (SELECT 1 FROM gallring_runs WHERE erasing = 1)"
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FIXED + ("skipped",))
    op.execute("CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
               "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END")
    op.execute(f"CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
               f"WHEN NOT {erasing} OR {changed} "
               f"BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END")
    op.execute("CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
               "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END")
    op.execute(f"CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log WHEN NOT {erasing} "
               f"BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END")


def _drop_gated_guards() -> None:
    if _postgres():
        for table in ("audit_events", "access_log"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS etablera_gallring_only()")
    else:
        _drop_update_guards()


def _restore_guards() -> None:
    """Migration 0001's guards, as it made them."""
    for table in ("audit_events", "access_log"):
        if _postgres():
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION etablera_append_only()")
        else:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def _seal_chains(conn) -> None:
    """Give every intact chain's erasable values their salts (cases/sealing.py: the hash
    then covers their commitments) and recompute its hashes and head."""
    from etablera.cases.audit import GENESIS, HASHED, event_hash
    from etablera.cases.sealing import erasable, new_salts

    events = sa.table("audit_events", *[sa.column(c) for c in ("id", *HASHED, "salts", "prev_hash", "hash")])
    events.c.data.type = sa.JSON()
    events.c.skipped.type = sa.JSON()
    events.c.salts.type = sa.JSON(none_as_null=True)
    events.c.at.type = UTCDateTime()
    events.c.recorded_at.type = UTCDateTime()
    cases = sa.table("cases", sa.column("id"), sa.column("last_hash"))
    candidates = [r[0] for r in conn.execute(
        sa.select(events.c.case_id).where(sa.or_(events.c.note.is_not(None),
                                                 events.c.trigger.in_(("register", "update_person"))))
        .distinct().order_by(events.c.case_id))]
    for start in range(0, len(candidates), 500):
        batch = candidates[start:start + 500]
        chains: dict[int, list[dict]] = {}
        for row in conn.execute(sa.select(events).where(events.c.case_id.in_(batch))
                                .order_by(events.c.case_id, events.c.seq)).mappings():
            chains.setdefault(row["case_id"], []).append(dict(row))
        for case_id, chain in chains.items():
            if not any(erasable(e) for e in chain) or not _intact(chain, GENESIS, event_hash):
                continue
            prev, old_head = GENESIS, chain[-1]["hash"]
            for event in chain:
                if event["salts"] is None:
                    event["salts"] = new_salts(event)
                digest = event_hash(prev, event)
                if (digest, prev, event["salts"]) != (event["hash"], event["prev_hash"], None):
                    conn.execute(events.update().where(events.c.id == event["id"])
                                 .values(salts=event["salts"], prev_hash=prev, hash=digest))
                prev = digest
            conn.execute(cases.update().where(cases.c.id == case_id, cases.c.last_hash == old_head)
                         .values(last_hash=prev))


def _intact(chain: list[dict], genesis: str, event_hash) -> bool:
    prev = genesis
    for expected, event in enumerate(chain, start=1):
        if event["seq"] != expected or event["prev_hash"] != prev or event_hash(prev, event) != event["hash"]:
            return False
        prev = event["hash"]
    return True
