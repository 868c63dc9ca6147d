"""Storage of the OCS behind one interface: SQLite (default) and PostgreSQL (asyncpg)."""

from .base import Storage, StorageError
from .queries import Target

__all__ = ["Storage", "StorageError", "Target", "open_storage"]


def open_storage(url: str | None, *, pool_size: int | None = None) -> Storage:
    """A storage for a URL: ``postgresql://...`` or ``sqlite:///path`` / a plain file path
    (default ``ocs.sqlite3``). Call ``await store.open()`` (or use ``async with``).
    `pool_size`: PostgreSQL connections of this instance (default 40)."""
    if url and url.startswith(("postgres://", "postgresql://")):
        from .postgres import PostgresStorage
        return PostgresStorage(url, max_size=pool_size or 40)
    from .sqlite import SqliteStorage
    path = url or "ocs.sqlite3"
    if path.startswith("sqlite:///"):
        path = path[len("sqlite:///"):]
    elif path.startswith("sqlite://"):
        path = path[len("sqlite://"):]
    return SqliteStorage(path)
