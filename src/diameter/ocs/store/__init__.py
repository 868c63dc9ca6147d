"""Storage of the OCS behind one interface: SQLite (default) and PostgreSQL (asyncpg).

The SQLite account cache and the work on a cached account (:mod:`.sqlite_cache`,
:mod:`.account_ops`) and the PostgreSQL committer's work per request (:mod:`.pg_decide`)
may be compiled extensions, built with the OCS's rating core;
``DIAMETER_PURE_PYTHON=1`` runs their Python source.
"""
from diameter.codec.source_switch import use_source as _use_source

_COMPILED_MODULES = ("account_ops", "sqlite_cache", "pg_decide")   # setup.py compiles these (with diameter.ocs's)

_use_source(__name__, __file__, _COMPILED_MODULES)

# the imports below come after the pure-Python switch
from .base import Storage, StorageError  # noqa: E402
from .queries import Target  # noqa: E402

__all__ = ["Storage", "StorageError", "Target", "open_storage"]


def open_storage(url: str | None, *, pool_size: int | None = None) -> Storage:
    """A storage for a URL: ``postgresql://...`` or ``sqlite:///path`` / a plain file path
    (default ``ocs.sqlite3``). Call ``await store.open()`` (or use ``async with``).
    `pool_size`: PostgreSQL connections of this instance (default 40).

    ``sqlite:///path?synchronous=NORMAL`` trades durability at power loss for less work per
    commit (see docs/ocs.md); the default, ``FULL``, syncs every commit."""
    if url and url.startswith(("postgres://", "postgresql://")):
        from .postgres import PostgresStorage
        return PostgresStorage(url, max_size=pool_size or 40)
    from .sqlite import SqliteStorage
    path = url or "ocs.sqlite3"
    synchronous = "FULL"
    if path.startswith("sqlite://"):
        path = path[len("sqlite:///"):] if path.startswith("sqlite:///") else path[len("sqlite://"):]
        path, _, query = path.partition("?")
        for part in filter(None, query.split("&")):
            key, _, value = part.partition("=")
            if key != "synchronous":
                raise StorageError(f"unknown SQLite URL parameter {key!r} (known: synchronous)")
            if value.upper() not in SYNCHRONOUS:
                raise StorageError(f"synchronous={value!r}: use one of {', '.join(SYNCHRONOUS)}")
            synchronous = value.upper()
    return SqliteStorage(path, synchronous=synchronous)


#: what ``?synchronous=`` may say: each keeps a committed answer through a SIGKILL of the
#: server (WAL); NORMAL may lose the last commits at a power loss or an OS crash
SYNCHRONOUS = ("FULL", "EXTRA", "NORMAL")
