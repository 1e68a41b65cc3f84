"""A finished (or running) run opened for analysis: its tables as DataFrames, its figures.

:func:`open_run` takes a run folder or an ``events.jsonl`` file. Every table is rebuilt from
the event log (the truth); ``summary.json`` and ``scenario.yaml`` only add what the log does
not hold. pandas is imported when a table is first asked for, never at import time.

Memory follows what is asked for, not the log's size: a table is built by streaming the log
(only that table is kept), and :meth:`Run.summary`, :meth:`Run.shares`, :meth:`Run.digest`
(what reports show) keep only counts. :attr:`Run.events` loads every event, for those who
want them; once loaded, tables are built from them instead of the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingDependency
from ..events import Event, RunStarted, read_events
from . import rows as R
from .digest import DONATION_PREFIX, RunDigest
from .shares import ShareTally, reference_share
from .sinks import ProjectedSink
from .stream import TableStream

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from ..graph import ConversationGraph
    from ..tasks.questionnaire import Questionnaire
    from ..tasks.survey_reference import Reference, ReferenceComparison
    from .survey_tally import SurveyTally

LOG_NAME = "events.jsonl"


def require_pandas(feature: str = "vs_sim.analysis tables") -> Any:
    """The pandas module, or a :class:`MissingDependency` naming the ``analysis`` extra."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependency("pandas", extra="analysis", feature=feature) from None
    return pd


def open_run(path: str | os.PathLike[str]) -> Run:
    """Open a run folder (holding ``events.jsonl``) or an event log file for analysis.

    Raises:
        ConfigError: Nothing there, a folder without an event log, or a file that is not one.
    """
    p = Path(path)
    if p.is_dir():
        log = p / LOG_NAME
        if not log.is_file():
            raise ConfigError(f"no {LOG_NAME} in this folder (is it a run folder?)", where=str(p))
        return Run(log)
    if not p.is_file():
        raise ConfigError("no run folder or event log here", where=str(p))
    _check_first_event(p)
    return Run(p)


def _check_first_event(path: Path) -> None:
    """Refuse a file that is not an event log (a scenario YAML, say) before reading it all."""
    from ..events import parse_event

    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                parse_event(line)
            except ValueError:  # pydantic's ValidationError is one
                raise ConfigError(
                    "not an event log (give a run folder or its events.jsonl)",
                    where=f"{path}:{lineno}",
                ) from None
            return
    raise ConfigError(
        "the file holds no events (give a run folder or its events.jsonl)", where=str(path)
    )


class Run:
    """A run's event log with tables, shares, its graph and its summary.

    Each table is read from the log when first asked for and cached; the DataFrame
    methods return copies, so changing one does not change the next. Given ``columns``,
    a table method returns only those (read from the cached table, else streamed from the
    log and not kept): the way to look at a big run's tables without holding them.

    Args:
        log_path: The ``events.jsonl`` file.
        events: Its events, already read (then the file is not read again).
        digest: Its :meth:`digest`, already gathered.
        shares: Answer shares already tallied from it, by ``by`` (``None``: overall).
        survey: A survey tally of it, for :meth:`reference_comparison` by its ``by``.

    Attributes:
        log_path: The ``events.jsonl`` file.
        folder: The folder it is in (where ``summary.json``, ``scenario.yaml`` may sit).
    """

    def __init__(
        self,
        log_path: str | os.PathLike[str],
        *,
        events: Sequence[Event] | None = None,
        digest: RunDigest | None = None,
        shares: Mapping[str | None, ShareTally] | None = None,
        survey: SurveyTally | None = None,
    ) -> None:
        self.log_path = Path(log_path)
        self.folder = self.log_path.parent
        self._events: list[Event] | None = list(events) if events is not None else None
        self._rows: dict[str, list[R.Row]] = {}
        self._frames: dict[str, Any] = {}
        self._graph: ConversationGraph | None = None
        self._digest = digest
        self._started: tuple[RunStarted | None] | None = None
        self._shares: dict[str | None, ShareTally] = dict(shares or {})
        self._survey = survey

    def __repr__(self) -> str:
        return f"Run({str(self.log_path)!r})"

    # -- the log -----------------------------------------------------------------------------
    @property
    def events(self) -> list[Event]:
        """Every event, in log order (read from the file once, then kept)."""
        if self._events is None:
            self._events = list(read_events(self.log_path))
        return self._events

    def _stream(self) -> Iterable[Event]:
        """The events: the loaded list, else straight from the file (nothing kept)."""
        return self._events if self._events is not None else read_events(self.log_path)

    def _table(self, name: str) -> list[R.Row]:
        if name not in self._rows:
            self._rows[name] = R.table_rows(self._stream(), name)[name]
        return self._rows[name]

    def _frame(self, name: str, columns: Sequence[str] | None) -> pd.DataFrame:
        pd = require_pandas()
        if columns is not None and name not in self._frames:
            return self._narrow(name, list(columns))
        if name not in self._frames:
            rows = self._table(name)
            names = list(R.TABLE_COLUMNS[name])
            extra = [c for row in rows for c in row if c not in names]
            names += list(dict.fromkeys(extra))
            self._frames[name] = pd.DataFrame(rows, columns=names)
            self._rows.pop(name, None)  # the frame holds them now
        frame = self._frames[name]
        if columns is not None:
            R.check_columns(name, list(columns), set(frame.columns))
            return frame[list(columns)].copy()
        return frame.copy()

    def _narrow(self, name: str, columns: list[str]) -> pd.DataFrame:
        """Only ``columns`` of a table, streamed from the log (not kept)."""
        pd = require_pandas()
        sink = ProjectedSink(columns)
        stream = TableStream({name: sink})
        stream.feed_all(self._stream())
        stream.close()
        R.check_columns(name, columns, sink.keys)
        return pd.DataFrame(sink.rows(), columns=columns)

    @property
    def started(self) -> RunStarted | None:
        """The run's first ``run_started`` event (its seed, config and synthetic flag)."""
        if self._started is None:
            events = iter(self._stream())
            try:
                found = next((e for e in events if isinstance(e, RunStarted)), None)
            finally:
                close = getattr(events, "close", None)
                if callable(close):
                    close()  # stop reading the file
            self._started = (found,)
        return self._started[0]

    @property
    def config(self) -> dict[str, Any]:
        """The run's recorded configuration (``run_started.config``; empty if none)."""
        started = self.started
        return dict(started.config) if started else {}

    def digest(self) -> RunDigest:
        """The figures summaries and reports show (counts, calls per model, the first
        failed calls and conversations, transcripts), read in one pass and kept."""
        if self._digest is None:
            self._digest = RunDigest.read(self._stream())
        return self._digest

    # -- tables ------------------------------------------------------------------------------
    def personas(self, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per participant of each conversation, its attributes as columns."""
        return self._frame("personas", columns)

    def utterances(self, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per utterance: speaker, text, probability, rank, entropy (bits), method."""
        return self._frame("utterances", columns)

    def candidates(self, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every candidate of every distribution, chosen or not, with rank and probability."""
        return self._frame("candidates", columns)

    def choices(self, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per draw from a distribution: index, rank, probability, rule, text."""
        return self._frame("choices", columns)

    def calls(self, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per model call: tokens, cost, latency, cache hit, retries, error."""
        return self._frame("calls", columns)

    def answers(self, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per respondent × question with the drawn value and persona attributes."""
        return self._frame("answers", columns)

    def conversations(self, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per conversation: task, status, end reason, turns, answers, duration."""
        return self._frame("conversations", columns)

    # -- summary, scenario, graph ------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts, calls, cache hits, tokens, cost, elapsed seconds and the synthetic flag.

        Computed from the log; keys only ``summary.json`` has are added, and its
        ``elapsed`` (the runner's wall-clock time) is preferred when present.
        """
        out = dict(self.digest().summary)
        file = self.folder / "summary.json"
        if file.is_file():
            try:
                saved = json.loads(file.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"not valid JSON: {exc.msg}", where=f"{file}:{exc.lineno}"
                ) from None
            if isinstance(saved, Mapping):
                for key, value in saved.items():
                    if key not in out or key == "elapsed":
                        out[key] = value
        return out

    def scenario(self) -> dict[str, Any] | None:
        """The run's ``scenario.yaml`` as data, or ``None`` when the folder has none."""
        file = self.folder / "scenario.yaml"
        if not file.is_file():
            return None
        import yaml

        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{file}:{mark.line + 1}" if mark is not None else str(file)
            raise ConfigError(f"not valid YAML: {exc}", where=where) from None
        return dict(data) if isinstance(data, Mapping) else None

    def graph(self) -> ConversationGraph:
        """The conversation graph (agents, utterances, alternatives not taken), built once."""
        if self._graph is None:
            from ..graph import ConversationGraph

            self._graph = ConversationGraph.from_events(self._stream())
        return self._graph

    # -- surveys -----------------------------------------------------------------------------
    def questionnaire(self) -> Questionnaire | None:
        """The questionnaire a survey run logged in its ``run_started`` config, if any."""
        data = self.config.get("questionnaire")
        if not isinstance(data, Mapping):
            return None
        from ..tasks.questionnaire import Questionnaire

        return Questionnaire.from_dict(data, where=f"{self.log_path} (run_started.config)")

    def answer_shares(self, question_id: str | None = None, by: str | None = None) -> pd.DataFrame:
        """Sampled answer shares per question and option (and per value of attribute ``by``).

        Columns: ``question_id``, ``by``'s column, ``option``, ``count``, ``asked``,
        ``sampled``. See :mod:`vs_sim.analysis.shares` for the exact definition.
        """
        return self.shares(question_id, by).drop(columns=["soft"])

    def soft_shares(self, question_id: str | None = None, by: str | None = None) -> pd.DataFrame:
        """Mean verbalized probability per question and option (and per ``by`` value).

        Columns: ``question_id``, ``by``'s column, ``option``, ``asked``, ``soft``.
        """
        return self.shares(question_id, by).drop(columns=["count", "sampled"])

    def shares(
        self,
        question_id: str | None = None,
        by: str | None = None,
        reference: Reference | None = None,
    ) -> pd.DataFrame:
        """Sampled and soft shares side by side, plus a ``reference`` column when given.

        Args:
            question_id: Only this question.
            by: A persona attribute (e.g. ``party``): one block of rows per value.
            reference: Human shares (:func:`vs_sim.tasks.load_reference`); the column is NaN
                where the reference has no distribution for that question (and group).

        Raises:
            ConfigError: ``by`` is not an attribute of any respondent.
        """
        pd = require_pandas()
        column = R.attribute_column(by) if by else None
        questionnaire = self.questionnaire()
        tally = self._share_tally(by, questionnaire)
        if column and tally.count and column not in tally.keys:
            known = sorted(tally.keys - set(R.TABLE_COLUMNS["answers"]))
            raise ConfigError(
                f"no respondent has attribute {by!r}; known: {', '.join(known) or 'none'}",
                where="by",
            )
        rows = tally.rows(question_id)
        columns = ["question_id", *([column] if column else []), "option", "count", "asked"]
        frame = pd.DataFrame(rows, columns=[*columns, "sampled", "soft"])
        if reference is not None:
            if questionnaire is None:
                raise ConfigError(
                    "this run logged no questionnaire to match the reference's options to",
                    where=str(self.log_path),
                )
            options = {q.id: q.option_texts for q in questionnaire.questions}
            found = [reference_share(reference, options, r, by, column) for r in rows]
            frame["reference"] = [math.nan if v is None else v for v in found]
        return frame

    def _share_tally(self, by: str | None, questionnaire: Questionnaire | None) -> ShareTally:
        """Shares by ``by``, tallied from the answer rows (kept per ``by``)."""
        if by not in self._shares:
            tally = ShareTally(by, questionnaire)
            stream = TableStream({"answers": tally})
            stream.feed_all(self._stream())
            stream.close()
            self._shares[by] = tally
        return self._shares[by]

    def question_ids(self) -> list[str]:
        """The questions answered, in the order they were first answered."""
        return list(self.digest().question_ids)

    def reference_comparison(self, reference: Reference) -> ReferenceComparison:
        """A survey run's answers compared with ``reference`` (overall and by the
        reference's groups), tallied in one pass over the log.

        Raises:
            ConfigError: The run logged no questionnaire.
        """
        from .survey_tally import SurveyTally

        if self._survey is not None and set(reference.group_attributes) <= set(self._survey.by):
            return self._survey.compare(reference)
        questionnaire = self.questionnaire()
        if questionnaire is None:
            raise ConfigError(
                "this run logged no questionnaire to compare a reference with",
                where=str(self.log_path),
            )
        tally = SurveyTally(questionnaire, by=reference.group_attributes)
        tally.feed_all(self._stream())
        return tally.compare(reference)

    def reference(
        self, path: str | os.PathLike[str] | None = None, *, notes: list[str] | None = None
    ) -> Reference | None:
        """Human reference shares for a survey run, checked against its questionnaire.

        Rows for questions of the scenario's questionnaire that this run did not ask
        (``survey.questions`` picked some) are left out, as the scenario run does.

        Args:
            path: A reference file (CSV or JSON, see :mod:`vs_sim.tasks.survey_reference`).
                Default: the file ``scenario.yaml`` or the run config names under a
                ``reference`` key, looked up beside the run, then from the current folder;
                ``None`` when nothing names one or it is not there.
            notes: When given, a note naming the questions left out is appended to it.

        Raises:
            ConfigError: The run logged no questionnaire, or the file is invalid.
        """
        import dataclasses

        from ..tasks.survey_reference import load_reference

        asked = self.questionnaire()
        file = Path(path) if path is not None else self.find_reference_file()
        if file is None:
            return None
        if asked is None:
            raise ConfigError(
                "this run logged no questionnaire to check a reference against",
                where=str(self.log_path),
            )
        loaded = load_reference(file, self._scenario_questionnaire() or asked)
        kept = tuple(d for d in loaded.distributions if d.question_id in asked.ids)
        left_out = sorted({d.question_id for d in loaded.distributions} - set(asked.ids))
        if left_out and notes is not None:
            notes.append(
                f"{file}: left out the reference rows of {len(left_out)} question(s) this run "
                f"did not ask: {', '.join(left_out)}"
            )
        return dataclasses.replace(loaded, distributions=kept)

    def _scenario_questionnaire(self) -> Questionnaire | None:
        """The whole questionnaire ``scenario.yaml`` names (the run may have asked a part)."""
        from pydantic import ValidationError

        from ..tasks.questionnaire import Questionnaire, load_questionnaire

        survey = (self.scenario() or {}).get("survey")
        written = survey.get("questionnaire") if isinstance(survey, Mapping) else None
        try:
            if isinstance(written, str) and (self.folder / written).is_file():
                return load_questionnaire(self.folder / written)
            if isinstance(written, Mapping):
                return Questionnaire.model_validate(written)
        except (ConfigError, ValidationError):
            pass  # changed since the run: check against the questions the run logged
        return None

    def find_reference_file(self) -> Path | None:
        """The reference file the scenario or run config names, if it can be found."""
        names = _find_key(self.scenario() or {}, "reference") + _find_key(self.config, "reference")
        for name in names:
            for base in (self.folder, Path.cwd()):
                candidate = base / name
                if candidate.is_file():
                    return candidate
        return None

    # -- persuasion --------------------------------------------------------------------------
    def donation_questions(self) -> list[str]:
        """Question ids read as donations (``donation``, ``donation_from_text``, ...)."""
        return [q for q in self.digest().question_ids if q.startswith(DONATION_PREFIX)]

    def donations(self, question_id: str = DONATION_PREFIX) -> npt.NDArray[np.float64]:
        """The numeric values drawn for a donation question (dollars, log order).

        Unmatched, skipped and non-numeric answers are left out; out-of-range ones are kept
        (filter with ``(x >= 0) & (x <= 2)`` for the PersuasionForGood range).
        """
        import numpy as np

        if question_id.startswith(DONATION_PREFIX):
            values = self.digest().donations.get(question_id, [])
        else:
            values = [
                float(row["value"])
                for row in self._table("answers")
                if row["question_id"] == question_id
                and row["matched"]
                and not row["skipped"]
                and isinstance(row["value"], int | float)
                and not isinstance(row["value"], bool)
            ]
        return np.asarray(values, dtype=np.float64)


def _find_key(data: Any, key: str) -> list[str]:
    """Every string value stored under ``key`` anywhere in nested dicts and lists."""
    found: list[str] = []
    if isinstance(data, Mapping):
        for k, v in data.items():
            if k == key and isinstance(v, str):
                found.append(v)
            elif k == key and isinstance(v, Mapping) and isinstance(v.get("path"), str):
                found.append(v["path"])
            else:
                found.extend(_find_key(v, key))
    elif isinstance(data, list):
        for item in data:
            found.extend(_find_key(item, key))
    return found
