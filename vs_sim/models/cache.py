"""A SQLite cache of raw completions, and the model wrapper that uses it.

The cache is keyed by :attr:`Request.key` (model, messages, params and the sample
index ``repeat``) and stores only what the provider said: raw text, model name,
token usage, the original cost and when it was stored. It never stores parsed
objects (a better parser improves old runs for free) and never secrets (API keys
live on the model object and are not part of a request).

Concurrency: SQLite in WAL mode with a busy timeout, one connection per thread and
per process, so many threads and processes can share one cache file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .base import Completion, Model, Request, Usage
from .wrappers import ModelWrapper

# Each entry upgrades the schema by one version (PRAGMA user_version); append, never edit.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS completions (
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        text TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cost REAL,
        synthetic INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL
    ) WITHOUT ROWID
    """,
)

BUSY_TIMEOUT_MS = 30_000

_Row = tuple[str, str, int, int, float | None, int, float]
"""One stored completion: model, text, token counts, cost, synthetic, created."""


def vs_sim_home() -> Path:
    """Where vs_sim keeps its files: ``$VS_SIM_HOME``, else ``~/.cache/vs_sim``.

    ``$XDG_CACHE_HOME`` replaces ``~/.cache`` when it is set.
    """
    home = os.environ.get("VS_SIM_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "vs_sim"


def default_cache_path() -> Path:
    """The cache file remote models use unless told otherwise."""
    return vs_sim_home() / "cache.sqlite"


@dataclass(frozen=True)
class CacheEntry:
    """One stored raw completion."""

    key: str
    model: str
    text: str
    usage: Usage
    cost: float | None
    synthetic: bool
    created: float


@dataclass(frozen=True)
class CacheStats:
    """Entries in the file, and the hits and misses seen by this cache object."""

    entries: int
    hits: int
    misses: int


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to write-ahead logging, waiting while another process holds it.

    Two processes opening a new cache file at once race for this switch, and SQLite can
    answer "database is locked" at once instead of calling the busy handler; so wait and
    try again, up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


class ResponseCache:
    """Raw completions in a SQLite file, keyed by request key.

    Args:
        path: The SQLite file; parent folders are created.

    Example:
        >>> import tempfile, pathlib
        >>> from vs_sim.models import Completion, ResponseCache
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with ResponseCache(pathlib.Path(tmp) / "c.sqlite") as cache:
        ...         cache.put("k1", Completion(text="hi", model="m"))
        ...         print(cache.get("k1").text, cache.stats().entries)
        hi 1
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        # Every connection this object opened, with the thread that uses it.
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._hits = 0
        self._misses = 0
        self._connect()  # create the file and schema now, so errors surface here

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection in this process, opened on first use."""
        pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == pid:
            return conn
        if conn is not None:  # inherited over fork: never touch the parent's connection
            with self._lock:
                self._connections = []
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate(conn)
        self._local.conn = conn
        self._local.pid = pid
        with self._lock:
            # Threads come and go (complete_sync runs each call in a fresh one): close the
            # connections of threads that have ended, so they do not pile up.
            alive = []
            for thread, old in self._connections:
                if thread.is_alive():
                    alive.append((thread, old))
                else:
                    old.close()
            alive.append((threading.current_thread(), conn))
            self._connections = alive
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version >= len(MIGRATIONS):
            return
        conn.execute("BEGIN IMMEDIATE")  # one process migrates; others wait, then see it done
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            for number in range(version, len(MIGRATIONS)):
                conn.execute(MIGRATIONS[number])
            conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def get(self, key: str) -> CacheEntry | None:
        """The stored completion for ``key``, or ``None``; counts a hit or a miss."""
        row = self._row(key)
        if row is None:
            return None
        model, text, prompt_tokens, completion_tokens, cost, synthetic, created = row
        return CacheEntry(
            key=key,
            model=model,
            text=text,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            cost=cost,
            synthetic=bool(synthetic),
            created=created,
        )

    def _row(self, key: str) -> _Row | None:
        """The stored columns for ``key`` (a cache hit's replay needs no entry object)."""
        row: _Row | None = (
            self._connect()
            .execute(
                "SELECT model, text, prompt_tokens, completion_tokens, cost, synthetic, created "
                "FROM completions WHERE key = ?",
                (key,),
            )
            .fetchone()
        )
        if row is None:
            self._misses += 1
        else:
            self._hits += 1
        return row

    def put(self, key: str, completion: Completion) -> None:
        """Store the raw parts of ``completion`` under ``key``; the first answer stored wins."""
        self._connect().execute(
            "INSERT OR IGNORE INTO completions (key, model, text, prompt_tokens, "
            "completion_tokens, cost, synthetic, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                completion.model,
                completion.text,
                completion.usage.prompt_tokens,
                completion.usage.completion_tokens,
                completion.cost,
                int(completion.synthetic),
                time.time(),
            ),
        )

    def __contains__(self, key: object) -> bool:
        row = self._connect().execute("SELECT 1 FROM completions WHERE key = ?", (key,)).fetchone()
        return row is not None

    def __len__(self) -> int:
        (count,) = self._connect().execute("SELECT COUNT(*) FROM completions").fetchone()
        return int(count)

    def stats(self) -> CacheStats:
        """Entries in the file, plus hits and misses counted by this object."""
        return CacheStats(entries=len(self), hits=self._hits, misses=self._misses)

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        cursor = self._connect().execute("DELETE FROM completions")
        return int(cursor.rowcount)

    def close(self) -> None:
        """Close every connection this object opened; using it again reopens one."""
        with self._lock:
            connections, self._connections = self._connections, []
        pid = os.getpid()
        for _, conn in connections:
            conn.close()
        if getattr(self._local, "pid", None) == pid:
            self._local.conn = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"


class CachedModel(ModelWrapper):
    """Serve repeated requests from a :class:`ResponseCache`; call ``inner`` on a miss.

    A hit is replayed with ``cached=True``, ``latency=0.0`` and ``cost=0.0`` (nothing
    was paid now) and the stored usage. Identical requests in flight at once are sent
    once: the later ones wait for the first and are served like hits.

    Args:
        inner: The model to call on a miss.
        cache: Where completions are stored.
        namespace: Mixed into every cache key, e.g. the server's address, so two servers
            that serve a model under the same name (a local llama.cpp, then another
            checkpoint behind another port) never answer for each other.
    """

    def __init__(self, inner: Model, cache: ResponseCache, *, namespace: str = "") -> None:
        super().__init__(inner)
        self.cache = cache
        self.namespace = namespace
        self._inflight: dict[str, asyncio.Future[Completion]] = {}

    def cache_key(self, request: Request) -> str:
        """The key ``request`` is stored under (the request key, or it mixed with the namespace)."""
        if not self.namespace:
            return request.key
        text = f"{self.namespace}\x1f{request.key}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @staticmethod
    def _replay(row: _Row, request_key: str) -> Completion:
        """A hit, replayed: the stored text and usage, nothing paid now, no time taken."""
        model, text, prompt_tokens, completion_tokens, _, synthetic, _ = row
        return Completion(
            text=text,
            model=model,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            cost=0.0,
            latency=0.0,
            cached=True,
            synthetic=bool(synthetic),
            request_key=request_key,
        )

    async def acomplete(self, request: Request) -> Completion:
        """Return the cached completion for ``request``, or call ``inner`` and store it."""
        key = self.cache_key(request)
        while True:
            row = self.cache._row(key)
            if row is not None:
                return self._replay(row, request.key)
            pending = self._inflight.get(key)
            if pending is None or pending.get_loop() is not asyncio.get_running_loop():
                break
            await asyncio.wait([pending])  # raises only if *this* task is cancelled
            if pending.cancelled():
                continue  # the first caller gave up; try again ourselves
            error = pending.exception()
            if error is not None:
                raise error
            shared = pending.result()
            return shared.model_copy(update={"cached": True, "latency": 0.0, "cost": 0.0})
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            completion = await self.inner.acomplete(request)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        future.set_result(completion)  # before storing: waiters must never hang
        self.cache.put(key, completion)
        return completion

    def _close_own(self) -> None:
        self.cache.close()

    def __repr__(self) -> str:
        return f"CachedModel({self.inner!r}, {self.cache!r})"
