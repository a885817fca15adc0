"""SQL backend: SQLite (embedded default) and PostgreSQL through SQLAlchemy Core."""

from memstore.backends.sql.database import Database

__all__ = ["Database"]
