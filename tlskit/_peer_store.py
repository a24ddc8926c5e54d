"""Peer cache storage: records in memory, or in one sqlite3 file.

Both stores hold at most ``max_entries`` peers and drop the least recently
seen first. Neither has a lock of its own: `tlskit.PeerCache` serializes
every call with its lock.

The sqlite3 file may be shared by threads and processes. Each read-modify-
write of a record runs inside ``BEGIN IMMEDIATE``, which takes the file's
write lock before reading, so two processes recording the same peer, or
taking its first pin, cannot interleave. The file uses SQLite's default
rollback journal, and a busy file is waited for up to
`BUSY_TIMEOUT_SECONDS`. The file must be on a local file system, because
SQLite's locking is unreliable over NFS and SMB.

The schema version is SQLite's ``user_version``. A file that SQLite cannot
read, that fails ``PRAGMA quick_check``, that is another program's database,
or that has a schema version this tlskit does not know raises
`PeerCacheError`, and so does any later read or write that fails. The cache
never carries on without its file, because trust on first use relies on it.

After `os.fork` the child must not use the parent's sqlite3 connection: its
locks belong to the parent process. The child drops the connection without
closing it, since closing runs SQLite code against locks it does not hold,
and opens the file again on its next use.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, ContextManager, Iterator, List, Optional, Tuple

from ._errors import PolicyError, join_sentences
from ._peer_record import CertificateSummary, PeerRecord, from_timestamp

if TYPE_CHECKING:
    import sqlite3

SCHEMA_VERSION = 1

# A writer holds the lock for well under a millisecond, so 5 s means another
# process is stuck, not busy.
BUSY_TIMEOUT_SECONDS = 5.0

_SCHEMA = """
CREATE TABLE peers (
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    chain TEXT NOT NULL,
    tls_version TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    tofu_pin TEXT,
    PRIMARY KEY (host, port)
)
"""

_COLUMNS = "host, port, chain, tls_version, first_seen, last_seen, tofu_pin"

# SQLite keeps a schema as small as this one, CREATE TABLE text included, on
# the file's first page, which is at most 64 KiB. A damaged file that still
# contains this text was a tlskit cache. Every SQLite 3 file starts with the header.
_SCHEMA_MARK = _SCHEMA.strip().split("\n", 1)[0].encode("ascii") + b"\n    host TEXT NOT NULL"
_SCHEMA_SCAN_BYTES = 65536
_SQLITE_HEADER = b"SQLite format 3\x00"

# Connections that a forked child inherited and must neither use nor close.
_abandoned_connections: List[Any] = []


class PeerCacheError(PolicyError):
    """The peer cache file cannot be opened, read or written, or is not a tlskit cache.

    Attributes:
        path: the cache file.
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message, field="peer_cache")
        self.path = path


_NO_TRANSACTION = contextlib.nullcontext()


class MemoryStore:
    """Records in a dict, least recently saved first."""

    # Every save of the memory store is cheap, so last_seen is always exact.
    last_seen_resolution = 0.0

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._records: OrderedDict[Tuple[str, int], PeerRecord] = OrderedDict()

    def load(self, host: str, port: int) -> Optional[PeerRecord]:
        return self._records.get((host, port))

    def save(self, record: PeerRecord) -> None:
        key = (record.host, record.port)
        self._records[key] = record
        self._records.move_to_end(key)
        while len(self._records) > self.max_entries:
            self._records.popitem(last=False)

    def delete(self, host: str, port: Optional[int]) -> int:
        keys = [key for key in self._records if key[0] == host and port in (None, key[1])]
        for key in keys:
            del self._records[key]
        return len(keys)

    def records(self, host: Optional[str]) -> List[PeerRecord]:
        return [record for record in self._records.values() if host in (None, record.host)]

    def transaction(self) -> ContextManager[None]:
        # Nothing to lock, so a shared no-op context manager replaces one made per record.
        return _NO_TRANSACTION

    def close(self) -> None:
        pass

    def reopen_after_fork(self) -> None:
        pass


class SqliteStore:
    """Records in one sqlite3 file, opened now so that a bad file fails at once.

    Raises:
        PeerCacheError: the file cannot be opened or is not a tlskit peer cache.
    """

    # Refreshing last_seen costs a write transaction, so an unchanged peer
    # seen again within a minute is not written.
    last_seen_resolution = 60.0

    def __init__(self, path: str, max_entries: int) -> None:
        self.path = path
        self.max_entries = max_entries
        self._db: Optional[sqlite3.Connection] = None
        self._connection()

    def load(self, host: str, port: int) -> Optional[PeerRecord]:
        with self._mapped_errors("read"):
            row = (
                self._connection()
                .execute(f"SELECT {_COLUMNS} FROM peers WHERE host = ? AND port = ?", (host, port))
                .fetchone()
            )
        return None if row is None else self._record_from_row(row)

    def save(self, record: PeerRecord) -> None:
        import json  # Deferred: only file-backed peer caches need it, and import tlskit stays light.

        chain = json.dumps([certificate.to_json() for certificate in record.chain])
        with self._mapped_errors("write"):
            db = self._connection()
            db.execute(
                f"INSERT OR REPLACE INTO peers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.host,
                    record.port,
                    chain,
                    record.tls_version,
                    record.first_seen.timestamp(),
                    record.last_seen.timestamp(),
                    record.tofu_pin,
                ),
            )
            db.execute(
                "DELETE FROM peers WHERE rowid IN "
                "(SELECT rowid FROM peers ORDER BY last_seen DESC LIMIT -1 OFFSET ?)",
                (self.max_entries,),
            )

    def delete(self, host: str, port: Optional[int]) -> int:
        with self._mapped_errors("write"):
            if port is None:
                cursor = self._connection().execute("DELETE FROM peers WHERE host = ?", (host,))
            else:
                cursor = self._connection().execute(
                    "DELETE FROM peers WHERE host = ? AND port = ?", (host, port)
                )
        return int(cursor.rowcount)

    def records(self, host: Optional[str]) -> List[PeerRecord]:
        query = f"SELECT {_COLUMNS} FROM peers"
        parameters: Tuple[Any, ...] = ()
        if host is not None:
            query += " WHERE host = ?"
            parameters = (host,)
        with self._mapped_errors("read"):
            rows = self._connection().execute(query + " ORDER BY host, port", parameters).fetchall()
        return [self._record_from_row(row) for row in rows]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the file's write lock, across processes, for a read-modify-write."""
        db = self._connection()
        with self._mapped_errors("lock"):
            db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with self._mapped_errors("roll back"):
                db.execute("ROLLBACK")
            raise
        with self._mapped_errors("commit"):
            db.execute("COMMIT")

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def reopen_after_fork(self) -> None:
        if self._db is not None:
            _abandoned_connections.append(self._db)
            self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        import sqlite3  # Deferred: most programs never persist the peer cache.

        with self._mapped_errors("open"):
            # Autocommit mode: transaction() issues BEGIN and COMMIT itself.
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
        try:
            with self._mapped_errors("open"):
                self._check_schema(db)
        except BaseException:
            db.close()
            raise
        return db

    def _check_schema(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            db.execute("BEGIN IMMEDIATE")
            try:
                self._create_schema(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        elif version != SCHEMA_VERSION:
            raise self._error(
                f"it has schema version {version}, and this tlskit reads version {SCHEMA_VERSION} only. "
                "Use the tlskit version that wrote it, or give this one another file."
            )
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise self._error(join_sentences(f"SQLite reports damage ({check})", _damage_hint(self.path)))

    def _create_schema(self, db: sqlite3.Connection) -> None:
        # Another process may have created the schema since the first look.
        if db.execute("PRAGMA user_version").fetchone()[0] != 0:
            return
        tables = db.execute("SELECT name FROM sqlite_master").fetchall()
        if tables:
            names = ", ".join(sorted(str(row[0]) for row in tables))
            raise self._error(
                f"it is an SQLite database of another program (objects: {names}). Give tlskit its own file."
            )
        db.execute(_SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _record_from_row(self, row: Tuple[Any, ...]) -> PeerRecord:
        import json

        host, port, chain, tls_version, first_seen, last_seen, tofu_pin = row
        try:
            summaries = tuple(CertificateSummary.from_json(item) for item in json.loads(chain))
            if not summaries:
                raise ValueError("the chain is empty")
            return PeerRecord(
                host=str(host),
                port=int(port),
                chain=summaries,
                tls_version=None if tls_version is None else str(tls_version),
                first_seen=from_timestamp(float(first_seen)),
                last_seen=from_timestamp(float(last_seen)),
                tofu_pin=None if tofu_pin is None else str(tofu_pin),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise self._error(
                f"the record of {host!r} port {port!r} is damaged ({exc}). "
                "Forget that host with 'tlskit cache forget', or delete the file."
            ) from exc

    @contextlib.contextmanager
    def _mapped_errors(self, action: str) -> Iterator[None]:
        import sqlite3

        try:
            yield
        except sqlite3.Error as exc:
            raise self._error(join_sentences(f"could not {action} it: {exc}", _hint(exc, self.path))) from exc

    def _error(self, reason: str) -> PeerCacheError:
        return PeerCacheError(f"invalid peer cache file {self.path!r}: {reason}", path=self.path)


def _hint(exc: Exception, path: str) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return _damage_hint(path)
    if "unable to open" in text:
        return "Check that its directory exists and that this user may read and write both."
    if "locked" in text:
        return f"Another process held the file's lock for more than {BUSY_TIMEOUT_SECONDS:g} s."
    if "readonly" in text:
        return "Make the file and its directory writable for this user."
    return "Check the file's permissions and free disk space."


def _damage_hint(path: str) -> str:
    """Return what to do with a file that SQLite cannot read, or reads as damaged.

    Deleting the file is suggested only when it is recognisably a tlskit
    cache, because a mistyped path can name any file.
    """
    start = _read_start(path)
    if _SCHEMA_MARK in start:
        return "It is a damaged tlskit peer cache. Delete it to start an empty cache"
    if start.startswith(_SQLITE_HEADER):
        what = "It is a damaged SQLite database without the tables of a tlskit peer cache"
    else:
        what = "It is not an SQLite database, so it is not a tlskit peer cache"
    return f"{what}. Check the path, or use a new file to start an empty cache"


def _read_start(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read(_SCHEMA_SCAN_BYTES)
    except OSError:
        return b""
