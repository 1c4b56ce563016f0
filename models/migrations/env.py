"""Alembic environment: runs on the connection `models.database.upgrade` hands over,
or on ETABLERA_DATABASE_URL when called from the alembic command line."""

from alembic import context

from etablera import models
from etablera.models.database import make_engine
from etablera.models.metadata import metadata

models.load_all()     # every table on the metadata, for autogenerate
target_metadata = metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine()
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


run()
