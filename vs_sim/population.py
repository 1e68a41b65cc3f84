"""Populations: seeded samples of personas with realistic, non-independent attributes.

A :class:`Population` comes from a YAML file or a Python dict (see
:mod:`vs_sim.population_spec` for what a spec may say). ``sample(n, seed)`` returns
the same personas for the same seed on any machine: each attribute draws from its own
generator, ``derive_rng(seed, "population", name)``, so adding an attribute never
changes the others.

Example:
    >>> pop = Population.from_dict({
    ...     "template": "survey_respondent",
    ...     "attributes": {
    ...         "age": {"distribution": "uniform", "low": 18, "high": 90, "integer": True},
    ...         "sex": {"weights": {"female": 1, "male": 1}, "quota": True},
    ...     },
    ... })
    >>> people = pop.sample(4, seed=1)
    >>> [p.attributes["sex"] for p in people].count("female")
    2
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from .errors import AttributeValidationError, ConfigError
from .personas import BUILTIN_PERSONAS_DIR, Persona, PersonaLibrary, default_library
from .population_draws import (
    categorical_draw,
    conditional_draw,
    numeric_draw,
    quota_draw,
)
from .population_spec import (
    AttributeKind,
    CategoricalAttr,
    ConditionalAttr,
    DerivedAttr,
    NumericAttr,
    PeopleSpec,
    PopulationSpec,
    parse_population_spec,
)
from .seeds import derive_rng

if TYPE_CHECKING:
    from .population_report import PopulationReport

__all__ = ["Population"]

_INT = re.compile(r"[+-]?\d+")


BUILTIN_POPULATIONS_DIR = BUILTIN_PERSONAS_DIR / "populations"


def builtin_populations() -> list[str]:
    """Names of the shipped population specs (``us_adults``, ``p4g_persuadees``, ...)."""
    return sorted(p.stem for p in BUILTIN_POPULATIONS_DIR.glob("*.yaml"))


def find_population(value: str) -> Path:
    """A population file from a path or a built-in's name (a bare word such as ``us_adults``).

    Raises:
        ConfigError: no such built-in (listing them). A path is returned as it is.
    """
    if not re.search(r"[\\/]|\.ya?ml$", value):
        builtin = BUILTIN_POPULATIONS_DIR / f"{value}.yaml"
        if builtin.is_file():
            return builtin
        raise ConfigError(
            f"no built-in population {value!r} (built-in: {', '.join(builtin_populations())}); "
            "or give a file path ending in .yaml"
        )
    return Path(value)


class Population:
    """A population spec, ready to sample.

    Args:
        spec: The validated spec.
        base_dir: The folder a ``people.csv`` path is relative to.
        source: What to call the spec in error messages (usually its file name).
    """

    def __init__(
        self, spec: PopulationSpec, *, base_dir: Path | None = None, source: str = "<population>"
    ) -> None:
        self.spec = spec
        self.source = source
        self.base_dir = base_dir or Path.cwd()
        self._rows: list[dict[str, Any]] = []
        self._row_ids: list[str] | None = None
        self._people_columns: list[str] = []
        if spec.people is not None:
            self._load_people(spec.people)
        self._order = self._dependency_order()

    def __repr__(self) -> str:
        return f"Population({self.source!r}, template={self.template!r})"

    @classmethod
    def from_yaml(cls, path: str | Path) -> Population:
        """Load a population from a YAML file (errors name the file and field path)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read population file: {exc.strerror}", where=str(path)
            ) from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path.name}:{mark.line + 1}" if mark is not None else path.name
            raise ConfigError(
                f"not valid YAML: {getattr(exc, 'problem', exc)}", where=where
            ) from None
        spec = parse_population_spec(raw, source=path.name)
        return cls(spec, base_dir=path.resolve().parent, source=path.name)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, base_dir: str | Path | None = None, source: str = "<dict>"
    ) -> Population:
        """Build a population from a Python dict shaped like the YAML file."""
        spec = parse_population_spec(data, source=source)
        return cls(spec, base_dir=Path(base_dir) if base_dir else None, source=source)

    @property
    def template(self) -> str:
        """The persona template every sampled persona fills."""
        return self.spec.template

    @property
    def attribute_names(self) -> list[str]:
        """Every attribute the population sets, internal ones included, in spec order."""
        tables = [c for t in self.spec.tables for c in t.columns]
        return [*self._people_columns, *tables, *self.spec.attributes]

    @property
    def persona_attributes(self) -> list[str]:
        """The attributes each persona carries (internal attributes left out)."""
        return [
            n
            for n in self.attribute_names
            if not (n in self.spec.attributes and self.spec.attributes[n].internal)
        ]

    @property
    def people_rows(self) -> list[dict[str, Any]]:
        """The real people (after filter, renames and ``valid``), one dict per row."""
        return self._rows

    def _where(self, path: str) -> str:
        return f"{self.source}: {path}"

    # -- real people ------------------------------------------------------------------

    def _load_people(self, people: PeopleSpec) -> None:
        where = self._where("people")
        if people.csv is not None:
            path = Path(people.csv)
            if not path.is_absolute():
                path = self.base_dir / path
            try:
                with path.open(newline="", encoding="utf-8") as handle:
                    raw_rows: list[dict[str, Any]] = [dict(r) for r in csv.DictReader(handle)]
            except OSError as exc:
                raise ConfigError(
                    f"cannot read {path}: {exc.strerror}", where=f"{where}.csv"
                ) from None
            rows = _typed_columns(
                raw_rows, keep_as_text={people.id_column} if people.id_column else set()
            )
        else:
            rows = _records(people.data, where=f"{where}.data")
        header = list(rows[0]) if rows else []
        for field in ("filter", "valid"):
            for column in getattr(people, field):
                if column not in header:
                    raise ConfigError(f"no column {column!r} in the data", where=f"{where}.{field}")
        rows = [r for r in rows if all(c.holds(r[k]) for k, c in people.filter.items())]
        for row in rows:
            for column, condition in people.valid.items():
                if not condition.holds(row[column]):
                    row[column] = None
        if people.id_column is not None:
            if people.id_column not in header:
                raise ConfigError(f"no column {people.id_column!r}", where=f"{where}.id_column")
            self._row_ids = [str(r[people.id_column]) for r in rows]
        columns = people.columns if people.columns is not None else header
        mapping = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
        for column in mapping:
            if column not in header:
                raise ConfigError(f"no column {column!r} in the data", where=f"{where}.columns")
        self._people_columns = list(mapping.values())
        self._rows = [{new: r[old] for old, new in mapping.items()} for r in rows]
        if not self._rows:
            raise ConfigError("no rows left after the filter", where=where)
        taken = set(self._people_columns)
        for name in [*self.spec.attributes, *(c for t in self.spec.tables for c in t.columns)]:
            if name in taken:
                raise ConfigError(f"{name!r} is already a people column", where=self._where(name))

    # -- sampling -----------------------------------------------------------------------

    def _dependency_order(self) -> list[str]:
        """Attributes in an order where parents come first (spec order otherwise)."""
        known = set(self.attribute_names)
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "active":
                raise ConfigError(
                    "attributes depend on each other in a circle: " + " -> ".join((*trail, name)),
                    where=self._where(f"attributes.{name}"),
                )
            state[name] = "active"
            attr = self.spec.attributes[name]
            parent = _parent(attr)
            if parent is not None:
                if parent not in known:
                    field = "given" if isinstance(attr, ConditionalAttr) else "derive.from"
                    raise ConfigError(
                        f"unknown attribute {parent!r}",
                        where=self._where(f"attributes.{name}.{field}"),
                    )
                if parent in self.spec.attributes:
                    visit(parent, (*trail, name))
            state[name] = "done"
            order.append(name)

        for name in self.spec.attributes:
            visit(name, ())
        return order

    def sample_columns(self, n: int, seed: int) -> tuple[list[str], dict[str, list[Any]]]:
        """Ids and one list of values per attribute (internal ones included), vectorized."""
        if n < 0:
            raise ConfigError(f"n must be ≥ 0, got {n}", where=self._where("sample"))
        columns: dict[str, list[Any]] = {}
        ids = [f"p{i:0{max(5, len(str(n)))}d}" for i in range(1, n + 1)]
        if self.spec.people is not None:
            ids = self._sample_people(n, seed, columns) or ids
        for table in self.spec.tables:
            rng = derive_rng(seed, "population", "table", *table.columns)
            picks = categorical_draw([float(r[-1]) for r in table.rows], rng, n).tolist()
            for c, column in enumerate(table.columns):
                values = [row[c] for row in table.rows]
                columns[column] = [values[i] for i in picks]
        for name in self._order:
            attr = self.spec.attributes[name]
            rng = derive_rng(seed, "population", name)
            columns[name] = self._draw(name, attr, rng, n, columns)
        return ids, {k: columns[k] for k in self.attribute_names}

    def _sample_people(self, n: int, seed: int, columns: dict[str, list[Any]]) -> list[str] | None:
        people = self.spec.people
        assert people is not None
        rng = derive_rng(seed, "population", "people")
        total = len(self._rows)
        if people.replace:
            picks = rng.integers(0, total, size=n).tolist()
        else:
            if n > total:
                raise ConfigError(
                    f"asked for {n} people but only {total} rows (set replace: true to reuse rows)",
                    where=self._where("people"),
                )
            picks = sorted(rng.permutation(total)[:n].tolist())
        for column in self._people_columns:
            columns[column] = [self._rows[i][column] for i in picks]
        if self._row_ids is None:
            return None
        seen: dict[str, int] = {}
        ids = []
        for i in picks:
            base = self._row_ids[i]
            seen[base] = seen.get(base, 0) + 1
            ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
        return ids

    def _draw(
        self,
        name: str,
        attr: AttributeKind,
        rng: np.random.Generator,
        n: int,
        columns: Mapping[str, list[Any]],
    ) -> list[Any]:
        where = f"attributes.{name}"
        if isinstance(attr, CategoricalAttr):
            values = list(attr.weights)
            weights = list(attr.weights.values())
            draw = quota_draw if attr.quota else categorical_draw
            return [values[i] for i in draw(weights, rng, n).tolist()]
        if isinstance(attr, ConditionalAttr):
            return self._draw_conditional(attr, rng, columns[attr.parent], where)
        if isinstance(attr, NumericAttr):
            try:
                return numeric_draw(attr, rng, n)
            except ValueError as exc:
                raise ConfigError(str(exc), where=self._where(where)) from None
        if isinstance(attr, DerivedAttr):
            return self._derive(attr, columns[attr.derive.from_], where)
        return [attr.value] * n

    def _draw_conditional(
        self, attr: ConditionalAttr, rng: np.random.Generator, parents: list[Any], where: str
    ) -> list[Any]:
        table = attr.table
        keys = list(table)
        row_of = {_key(k): i for i, k in enumerate(keys)}
        values: list[Any] = []
        for weights in table.values():
            values.extend(v for v in weights if v not in values)
        matrix = np.array([[float(table[k].get(v, 0.0)) for v in values] for k in keys])
        groups = []
        for parent in parents:
            row = row_of.get(_key(parent))
            if row is None:
                raise ConfigError(
                    f"no weights for {attr.parent} = {parent!r} (the table has {keys})",
                    where=self._where(f"{where}.given.{attr.parent}"),
                )
            groups.append(row)
        picks = conditional_draw(matrix, np.asarray(groups, dtype=int), rng)
        return [values[i] for i in picks.tolist()]

    def _derive(self, attr: DerivedAttr, source: list[Any], where: str) -> list[Any]:
        d = attr.derive
        if d.map is not None:
            lookup = {_key(k): v for k, v in d.map.items()}
            out = []
            for value in source:
                if value is not None and _key(value) not in lookup:
                    raise ConfigError(
                        f"map has no entry for {d.from_} = {value!r}",
                        where=self._where(f"{where}.derive.map"),
                    )
                out.append(None if value is None else lookup[_key(value)])
            return out
        assert d.edges is not None and d.labels is not None
        labels, edges = d.labels, d.edges
        numbers = np.array([math.nan if v is None else float(v) for v in source], dtype=float)
        bins = np.searchsorted(np.asarray(edges, dtype=float), numbers, side="right") - 1
        bad = ~np.isnan(numbers) & ((bins < 0) | (bins >= len(labels)))
        if bad.any():
            value = numbers[np.argmax(bad)]
            raise ConfigError(
                f"{d.from_} = {value:g} is outside the edges [{edges[0]:g}, {edges[-1]:g})",
                where=self._where(f"{where}.derive.edges"),
            )
        return [
            None if math.isnan(x) else labels[b] for x, b in zip(numbers.tolist(), bins.tolist())
        ]

    def sample(self, n: int, seed: int) -> list[Persona]:
        """``n`` personas; the same seed gives the same personas on any machine.

        Ids are ``p00001``, ``p00002``, ... or, for real people, their ``id_column``.
        Raises:
            ConfigError: the spec cannot produce ``n`` personas (says where).
        """
        ids, columns = self.sample_columns(n, seed)
        names = self.persona_attributes
        rows = zip(*(columns[k] for k in names)) if names else iter([()] * n)
        return [
            Persona.model_construct(
                id=pid, template=self.template, attributes=dict(zip(names, row))
            )
            for pid, row in zip(ids, rows)
        ]

    def render(
        self, personas: Sequence[Persona], library: PersonaLibrary | None = None
    ) -> list[str]:
        """Each persona's prompt, validating and rendering with one compiled template."""
        library = library or default_library()
        templates = {name: library.get(name) for name in sorted({p.template for p in personas})}
        prompts = []
        for i, persona in enumerate(personas):
            try:
                prompts.append(templates[persona.template].render(persona.attributes))
            except AttributeValidationError as exc:
                raise AttributeValidationError(
                    f"personas[{i}] (id {persona.id!r}): {exc}"
                ) from None
        return prompts

    def report(self, personas: Sequence[Persona]) -> PopulationReport:
        """Sampled shares against the spec's targets, per attribute (see ``population_report``)."""
        from .population_report import build_report

        return build_report(self, personas)


def _parent(attr: AttributeKind) -> str | None:
    if isinstance(attr, ConditionalAttr):
        return attr.parent
    if isinstance(attr, DerivedAttr):
        return attr.derive.from_
    return None


def _key(value: Any) -> Any:
    """A lookup key where 1, 1.0 and "1" differ from True (YAML keys are often strings)."""
    return (
        type(value) is bool,
        str(value) if not isinstance(value, float) or not value.is_integer() else str(int(value)),
    )


def _parse_cell(text: str) -> Any:
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _typed_columns(rows: list[dict[str, Any]], keep_as_text: set[str]) -> list[dict[str, Any]]:
    """CSV text to values: numbers become numbers, whole-number columns become ints."""
    if not rows:
        return rows
    parsed = [
        {k: (v if k in keep_as_text else _parse_cell(v or "")) for k, v in r.items()} for r in rows
    ]
    for column in rows[0]:
        if column in keep_as_text:
            continue
        values = [r[column] for r in parsed if r[column] is not None]
        if values and all(isinstance(v, int | float) and float(v).is_integer() for v in values):
            for r in parsed:
                if r[column] is not None:
                    r[column] = int(r[column])
    return parsed


def _records(data: Any, where: str) -> list[dict[str, Any]]:
    """Rows of a DataFrame or a list of mappings, with NaN as None and numpy scalars as Python."""
    if hasattr(data, "to_dict"):
        records = data.to_dict("records")
    elif isinstance(data, Sequence) and all(isinstance(r, Mapping) for r in data):
        records = [dict(r) for r in data]
    else:
        raise ConfigError("expected a pandas DataFrame or a list of mappings", where=where)
    out = []
    for record in records:
        row = {}
        for key, value in record.items():
            if hasattr(value, "item") and not isinstance(value, str | bytes):
                value = value.item()
            if isinstance(value, float) and math.isnan(value):
                value = None
            row[str(key)] = value
        out.append(row)
    return out
