"""The one `MetaData` every table of the schema is declared on (SQLAlchemy Core tables:
the application reads and writes them with Core statements, no ORM).

A table is on it once its module is imported (`models.load_all()` imports them all:
migrations, the full extract, tests).
"""

from sqlalchemy import MetaData

metadata = MetaData()
