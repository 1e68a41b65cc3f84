"""Where streamed table rows go: a CSV file written as rows come, or a list in memory.

A :class:`RowSink` takes rows one at a time (``write`` returns the row's position) and lets
the writer replace or drop a row it has already written (``replace``): after a resume a
unit's later events can change a row written earlier (its conversation row, an answer
recorded again). Those changes are rare; :class:`CsvSink` keeps them aside and applies them
in one rewrite when it closes, so writing stays a plain append.

CSV cells holding lists or dicts are JSON text; ``None`` is an empty cell.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

Row = dict[str, Any]


class RowSink(Protocol):
    """Takes a table's rows in order; a written row may still be replaced or dropped."""

    def write(self, row: Row) -> int:
        """Append ``row``; returns its position (0 for the first row)."""
        ...

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        """Replace the row at ``index`` (written as ``old``) by ``row``; ``None`` drops it."""
        ...


def json_safe(value: Any) -> Any:
    """``value`` with tuples as lists and NaN/inf as ``None`` (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return json_safe(value.item())
    return value


_PLAIN = (str, int, float, bool)


def cell(value: Any) -> Any:
    """One CSV cell: lists and dicts as JSON text, ``None`` as empty."""
    if type(value) in _PLAIN:  # the common case, checked first: tables have millions of cells
        return value
    if value is None:
        return ""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(json_safe(value), ensure_ascii=False)
    return value


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = ()) -> None:
    """Rows as CSV with ``columns`` first, then any other keys in first-seen order."""
    with CsvSink(path, columns) as sink:
        for row in rows:
            sink.write(dict(row))


class ListSink:
    """Rows kept in a list (for tests and small tables); ``rows()`` skips dropped ones."""

    def __init__(self) -> None:
        self._rows: list[Row | None] = []

    def write(self, row: Row) -> int:
        self._rows.append(row)
        return len(self._rows) - 1

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        self._rows[index] = row

    def rows(self) -> list[Row]:
        """Every row still there, in order."""
        return [r for r in self._rows if r is not None]


class CsvSink:
    """A CSV table written row by row; the header is ``columns`` then new keys as they come.

    Rows go to ``<name>.part`` beside ``path`` as they are written; :meth:`close` puts the
    file in place (a plain rename unless a key came after the first row or a row was
    replaced, which take one rewrite). Until then an older ``path`` stays untouched.

    Args:
        path: The CSV file.
        columns: The fixed columns, first and in this order.
        keep_empty: Write the file (header only) even when no row came.
    """

    def __init__(self, path: Path, columns: Sequence[str] = (), *, keep_empty: bool = True):
        self.path = path
        self.keep_empty = keep_empty
        self.columns: list[str] = list(columns)
        self.count = 0
        self._first_header = list(self.columns)
        self._known = set(self.columns)
        self._changes: dict[int, Row | None] = {}
        self._part = path.with_name(path.name + ".part")
        self._handle = self._part.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        self._header_written = False

    def write(self, row: Row) -> int:
        if not self._known.issuperset(row):
            new = [k for k in row if k not in self._known]
            self.columns.extend(new)
            self._known.update(new)
        if not self._header_written:
            self._first_header = list(self.columns)
            self._writer.writerow(self._first_header)
            self._header_written = True
        self._writer.writerow(map(cell, map(row.get, self.columns)))
        self.count += 1
        return self.count - 1

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        if row is not None:
            new = [k for k in row if k not in self._known]
            self.columns.extend(new)
            self._known.update(new)
        self._changes[index] = row

    def close(self) -> Path | None:
        """Put the table in place; returns its path (``None`` if empty and not kept)."""
        if self._handle.closed:
            return self.path if self.path.exists() else None
        if not self._header_written and self.keep_empty:
            self._writer.writerow(self.columns)
            self._first_header = list(self.columns)
        self._handle.close()
        if self.count == 0 and not self.keep_empty:
            self._part.unlink()
            return None
        if self._changes or self.columns != self._first_header:
            self._rewrite()
        else:
            os.replace(self._part, self.path)
        return self.path

    def discard(self) -> None:
        """Drop what was written (an error happened): the older file stays."""
        if not self._handle.closed:
            self._handle.close()
        self._part.unlink(missing_ok=True)

    def _rewrite(self) -> None:
        """The part file with the full header, short rows padded, replaced rows applied."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        width = len(self.columns)
        with (
            self._part.open(newline="", encoding="utf-8") as src,
            tmp.open("w", newline="", encoding="utf-8") as dst,
        ):
            reader = csv.reader(src)
            writer = csv.writer(dst)
            next(reader, None)
            writer.writerow(self.columns)
            for index, cells in enumerate(reader):
                if index in self._changes:
                    row = self._changes[index]
                    if row is not None:
                        writer.writerow([cell(row.get(c)) for c in self.columns])
                    continue
                writer.writerow(cells + [""] * (width - len(cells)))
        os.replace(tmp, self.path)
        self._part.unlink()

    def __enter__(self) -> CsvSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


class Item:
    """Rows released together (a distribution's candidates, or one conversation row)."""

    __slots__ = ("final", "indices", "rows", "written")

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.final = False
        self.indices: list[int] | None = None
        self.written: list[Row] | None = None


class InOrder:
    """Releases items to a sink in the order they were opened, each once it is final.

    Rows that must wait for a later event (a distribution's candidates wait for its
    choice, a conversation row for its end) still reach the sink in log order; only the
    items opened since the oldest unfinished one are held.
    """

    def __init__(
        self, sink: RowSink | None, on_write: Callable[[Row], object] | None = None
    ) -> None:
        self.sink = sink
        self.on_write = on_write  # also keeps what was written, to compare with later
        self._pending: deque[Item] = deque()

    def open(self, rows: list[Row]) -> Item:
        item = Item(rows)
        self._pending.append(item)
        return item

    def finish(self, item: Item) -> None:
        item.final = True
        while self._pending and self._pending[0].final:
            done = self._pending.popleft()
            written = [dict(r) for r in done.rows]
            if self.on_write is not None:
                done.written = written
            if self.sink is not None:
                done.indices = [self.sink.write(r) for r in written]
            else:
                done.indices = list(range(len(written)))
            if self.on_write is not None:
                for r in written:
                    self.on_write(r)

    def close(self) -> None:
        for item in list(self._pending):
            self.finish(item)


class ProjectedSink:
    """A row sink keeping only some columns of each row (and every column name seen)."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.keys: set[str] = set()
        self._rows: list[Row | None] = []

    def write(self, row: Row) -> int:
        self.keys.update(row)
        self._rows.append({c: row.get(c) for c in self.columns})
        return len(self._rows) - 1

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        if row is not None:
            self.keys.update(row)
        self._rows[index] = {c: row.get(c) for c in self.columns} if row is not None else None

    def rows(self) -> list[Row]:
        return [r for r in self._rows if r is not None]
