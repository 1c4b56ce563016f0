"""The one `MetaData` every table of the schema is declared on (SQLAlchemy Core tables:
the application reads and writes them with Core statements, no ORM), and the `Index`
the tables declare their indexes with.

A table is on it once its module is imported (`models.load_all()` imports them all:
migrations, the full extract, tests).
"""

from sqlalchemy import Index as _Index
from sqlalchemy import MetaData
from sqlalchemy.util import PopulateDict

metadata = MetaData()


class Index(_Index):
    """SQLAlchemy's Index, whose dialect options (`postgresql_ops`, `sqlite_where`, ...)
    are checked when something first reads them (`create_all`'s DDL, alembic comparing
    the tables with a database; the migrations spell their own), not when the table is
    declared.

    SQLAlchemy checks each option against its dialect's module as the Index is made, so
    declaring the cases table imported the PostgreSQL dialect and its four drivers'
    modules on SQLite too: a fifth of `etablera case show` beyond importing SQLAlchemy
    itself (issue 17). The options read back the same; a misspelt one is refused at the
    first read instead of at import."""

    def _validate_dialect_kwargs(self, kwargs) -> None:
        if kwargs:
            self.__dict__["_unchecked_dialect_kw"] = dict(kwargs)

    @property
    def dialect_options(self) -> PopulateDict:
        options = self.__dict__.get("_dialect_options")
        if options is None:
            options = self.__dict__["_dialect_options"] = PopulateDict(self._kw_reg_for_dialect_cls)
            unchecked = self.__dict__.pop("_unchecked_dialect_kw", None)
            if unchecked:
                super()._validate_dialect_kwargs(unchecked)
        return options
