"""Storage of the OCS behind one interface: SQLite (default) and PostgreSQL (asyncpg)."""

from .base import Storage, StorageError, open_storage
from .queries import Target

__all__ = ["Storage", "StorageError", "Target", "open_storage"]
