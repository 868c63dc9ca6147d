"""Storage of the OCS behind one interface: SQLite (default) and PostgreSQL (asyncpg).

The SQLite account cache and the work on a cached account (:mod:`.sqlite_cache`,
:mod:`.account_ops`) may be compiled extensions, built with the OCS's rating core;
``DIAMETER_PURE_PYTHON=1`` runs their Python source.
"""
from diameter.codec.source_switch import use_source as _use_source

_COMPILED_MODULES = ("account_ops", "sqlite_cache")   # setup.py compiles these (with diameter.ocs's)

_use_source(__name__, __file__, _COMPILED_MODULES)

# the imports below come after the pure-Python switch
from .base import Storage, StorageError  # noqa: E402
from .queries import Target  # noqa: E402

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
