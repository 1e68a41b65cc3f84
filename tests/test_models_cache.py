"""The SQLite response cache: round trips, concurrency across threads and processes, defaults."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from vs_sim.models import CachedModel, Completion, Request, ResponseCache, Usage, build_model
from vs_sim.models.cache import MIGRATIONS, _use_wal, default_cache_path


def completion(text: str, **fields: object) -> Completion:
    return Completion(text=text, model="openai/m", **fields)  # type: ignore[arg-type]


def test_round_trip_keeps_raw_text_usage_cost_and_origin(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        stored = completion(
            'Sure! {"responses": [ünïcode ✓',
            usage=Usage(prompt_tokens=12, completion_tokens=34),
            cost=0.0042,
            synthetic=True,
        )
        cache.put("k", stored)
        entry = cache.get("k")
        assert entry is not None
        assert (entry.text, entry.model, entry.usage, entry.cost, entry.synthetic) == (
            stored.text,
            "openai/m",
            stored.usage,
            0.0042,
            True,
        )
        assert entry.created > 0
        assert cache.get("missing") is None
        assert cache.stats().entries == 1
        assert (cache.stats().hits, cache.stats().misses) == (1, 1)
        assert "k" in cache and "missing" not in cache


def test_first_answer_stored_wins(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cache.put("k", completion("first"))
        cache.put("k", completion("second"))
        assert cache.get("k").text == "first"  # type: ignore[union-attr]
        assert len(cache) == 1


def test_entries_survive_reopening_and_clear_empties(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "c.sqlite"
    with ResponseCache(path) as cache:
        cache.put("k", completion("kept"))
    with ResponseCache(path) as cache:
        assert cache.get("k").text == "kept"  # type: ignore[union-attr]
        assert cache.clear() == 1
        assert len(cache) == 0


def test_close_then_reuse_reopens(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put("k", completion("v"))
    cache.close()
    assert cache.get("k").text == "v"  # type: ignore[union-attr]
    cache.close()


def test_schema_version_and_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    ResponseCache(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = {row[1] for row in conn.execute("PRAGMA table_info(completions)")}
        assert columns == {
            "key",
            "model",
            "text",
            "prompt_tokens",
            "completion_tokens",
            "cost",
            "synthetic",
            "created",
        }
    finally:
        conn.close()


def test_many_threads_write_one_cache(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c.sqlite") as cache:

        def write(worker: int) -> None:
            for i in range(50):
                cache.put(f"{worker}-{i}", completion(f"text {worker}-{i}"))

        threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(cache) == 400
        assert cache.get("7-49").text == "text 7-49"  # type: ignore[union-attr]


WRITER = textwrap.dedent(
    """
    import sys
    from vs_sim.models import Completion, ResponseCache, Usage
    path, worker = sys.argv[1], sys.argv[2]
    with ResponseCache(path) as cache:
        for i in range(200):
            cache.put(
                f"{worker}-{i}",
                Completion(text=f"answer {worker} {i}", model="m", usage=Usage(prompt_tokens=i)),
            )
    """
)


def test_two_processes_writing_at_once_corrupt_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name], stderr=subprocess.PIPE)
        for name in ("a", "b")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()
    with ResponseCache(path) as cache:
        assert len(cache) == 400
        for name in ("a", "b"):
            for i in range(200):
                entry = cache.get(f"{name}-{i}")
                assert entry is not None
                assert entry.text == f"answer {name} {i}" and entry.usage.prompt_tokens == i
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_default_cache_lives_under_vs_sim_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VS_SIM_HOME", str(tmp_path / "home"))
    assert default_cache_path() == tmp_path / "home" / "cache.sqlite"
    model = build_model("openai/some-model")
    try:
        assert isinstance(model, CachedModel)
        assert model.cache.path == tmp_path / "home" / "cache.sqlite"
        assert model.cache.path.exists()
    finally:
        model.close()  # type: ignore[attr-defined]


def test_default_home_without_vs_sim_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VS_SIM_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "vs_sim" / "cache.sqlite"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert default_cache_path() == tmp_path / "user" / ".cache" / "vs_sim" / "cache.sqlite"


def test_connections_of_finished_threads_are_closed(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cache.put("k", completion("v"))
        texts: list[str] = []
        for _ in range(20):  # like complete_sync in a notebook: one short-lived thread per call
            thread = threading.Thread(target=lambda: texts.append(cache.get("k").text))  # type: ignore[union-attr]
            thread.start()
            thread.join()
        assert texts == ["v"] * 20
        assert len(cache._connections) <= 2  # this thread's, and at most the last worker's


def test_the_same_model_name_at_two_servers_never_shares_answers(tmp_path: Path) -> None:
    from vs_sim.testing.scripted import ScriptedModel

    request = Request(model="openai/local", messages=({"role": "user", "content": "hi"},))

    async def ask(namespace: str, reply: str) -> tuple[str, bool, str | None]:
        inner = ScriptedModel(name="openai/local", replies=[reply])
        with ResponseCache(tmp_path / "c.sqlite") as cache:
            model = CachedModel(inner, cache, namespace=namespace)
            done = await model.acomplete(request)
        return done.text, done.cached, done.request_key

    assert asyncio.run(ask("http://127.0.0.1:8000/v1", "first server")) == (
        "first server",
        False,
        request.key,
    )
    # another server under the same name: a miss, not the first server's answer
    assert asyncio.run(ask("http://127.0.0.1:9000/v1", "second server"))[:2] == (
        "second server",
        False,
    )
    # the first server again: a hit, reported under the request's own key
    assert asyncio.run(ask("http://127.0.0.1:8000/v1", "unused")) == (
        "first server",
        True,
        request.key,
    )


class _Flaky:
    """A connection whose journal-mode switch is refused ``locked`` times first."""

    def __init__(self, locked: int, message: str = "database is locked") -> None:
        self.locked, self.message, self.calls = locked, message, 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.locked:
            raise sqlite3.OperationalError(self.message)


def test_a_new_file_opened_by_two_processes_at_once_waits_for_the_wal_switch() -> None:
    # Two processes opening a new cache file race for the switch to WAL, and SQLite can
    # answer "database is locked" without waiting; the cache waits and tries again.
    conn = _Flaky(locked=3)
    _use_wal(conn)  # type: ignore[arg-type]
    assert conn.calls == 4
    other = _Flaky(locked=1, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        _use_wal(other)  # type: ignore[arg-type]
    assert other.calls == 1
