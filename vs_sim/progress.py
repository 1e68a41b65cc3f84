"""The live progress bar of a run: units done, turns, calls, tokens, cost and errors."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .run_stats import RunStats


class RunProgress:
    """A live ``rich`` bar of units, turns, calls, tokens, cost and errors (terminals only)."""

    def __init__(self, wanted: bool, label: str, total: int) -> None:
        self.enabled = False
        self._stats: RunStats | None = None
        self._label = label
        self._total = total
        self._last = 0.0
        if not wanted:
            return
        from rich.console import Console

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.enabled = True
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._task = self._progress.add_task(label, total=total, stats="")

    def __bool__(self) -> bool:
        return self.enabled

    def attach(self, stats: RunStats) -> None:
        self._stats = stats

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or self._stats is None or (not force and now - self._last < 0.1):
            return
        self._last = now
        s = self._stats
        done = s.completed + s.failed + s.skipped
        text = (
            f"turns {s.turns} · calls {s.calls} ({s.cache_hits} cached) · "
            f"tokens {s.prompt_tokens + s.completion_tokens:,} · ${s.cost:.4f} · "
            f"errors {s.failed + s.call_errors}"
        )
        self._progress.update(self._task, completed=done, stats=text)

    def __enter__(self) -> RunProgress:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.refresh(force=True)
            self._progress.stop()
