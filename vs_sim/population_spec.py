"""The population spec: what a YAML population file (or a Python dict) may say.

Each attribute is sampled in one of five ways, chosen by the key it uses::

    sex:        {weights: {female: 51, male: 49}, quota: true}       # categorical
    age:        {distribution: normal, mean: 45, sd: 15, min: 18, max: 90, integer: true}
    age_bracket:{derive: {from: age, edges: [18, 30, 50, 65, 120],
                          labels: ["18-29", "30-49", "50-64", "65+"]}, internal: true}
    party:      {given: {age_bracket: {"18-29": {democrat: 30, republican: 20}, ...}}}
    country:    {value: US}                                          # constant

plus ``tables`` (joint tables sampled as whole rows) and ``people`` (rows of a CSV
file or a DataFrame used as personas as they are). Every error names the file and
the field path, e.g. ``us_adults.yaml: attributes.party.given.age_bracket``.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

__all__ = [
    "AttributeKind",
    "CategoricalAttr",
    "Condition",
    "ConditionalAttr",
    "ConstantAttr",
    "DerivedAttr",
    "JointTable",
    "NumericAttr",
    "PeopleSpec",
    "PopulationSpec",
    "parse_population_spec",
]

_FORBID = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Attr(BaseModel):
    model_config = _FORBID

    internal: bool = False
    """Used to condition or derive other attributes, but not given to the persona."""
    description: str = ""


class CategoricalAttr(_Attr):
    """Values drawn with the given weights; ``quota`` makes counts exact (largest remainder)."""

    weights: dict[Any, float]
    quota: bool = False


class ConditionalAttr(_Attr):
    """Weights per value of one parent attribute: ``given: {parent: {value: {choice: weight}}}``."""

    given: dict[str, dict[Any, dict[Any, float]]]

    @property
    def parent(self) -> str:
        return next(iter(self.given))

    @property
    def table(self) -> dict[Any, dict[Any, float]]:
        return self.given[self.parent]


class NumericAttr(_Attr):
    """A number from a distribution, optionally truncated to ``[min, max]`` and rounded.

    ``uniform`` takes ``low``/``high``; ``normal`` ``mean``/``sd``; ``lognormal`` ``mu``/
    ``sigma`` of the logarithm (the median is ``exp(mu)``); ``histogram`` ``edges`` and one
    weight per bin, uniform inside a bin (with ``integer``, bin ``[18, 25)`` gives 18–24).
    ``integer`` rounds to the nearest whole number. ``bins`` sets the report's bin edges.
    """

    distribution: Literal["uniform", "normal", "lognormal", "histogram"]
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = None
    mu: float | None = None
    sigma: float | None = None
    edges: list[float] | None = None
    weights: list[float] | None = None
    min: float | None = None
    max: float | None = None
    integer: bool = False
    bins: list[float] | None = None


class Derivation(BaseModel):
    """How a derived attribute is computed from another one."""

    model_config = _FORBID

    from_: str = Field(alias="from")
    edges: list[float] | None = None
    labels: list[Any] | None = None
    map: dict[Any, Any] | None = None


class DerivedAttr(_Attr):
    """Computed from another attribute: ``edges`` + ``labels`` (bins ``[lo, hi)``) or a ``map``."""

    derive: Derivation


class ConstantAttr(_Attr):
    """The same value for everyone."""

    value: Any


AttributeKind = CategoricalAttr | ConditionalAttr | NumericAttr | DerivedAttr | ConstantAttr

# The key that says which kind an attribute is, checked in this order.
_KINDS: tuple[tuple[str, type[_Attr]], ...] = (
    ("distribution", NumericAttr),
    ("given", ConditionalAttr),
    ("derive", DerivedAttr),
    ("value", ConstantAttr),
    ("weights", CategoricalAttr),
)


class JointTable(BaseModel):
    """Rows sampled whole: ``columns: [a, b]``, ``rows: [[a1, b1, weight], ...]``."""

    model_config = _FORBID

    columns: list[str]
    rows: list[list[Any]]
    description: str = ""


class Condition(BaseModel):
    """A test on one column: ``equals``, ``in``, ``min``, ``max`` (inclusive), ``not_missing``."""

    model_config = _FORBID

    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    min: float | None = None
    max: float | None = None
    not_missing: bool = False

    def holds(self, value: Any) -> bool:
        """Whether ``value`` passes; a missing value fails every test but ``equals: null``."""
        if "equals" in self.model_fields_set and value != self.equals:
            return False
        if value is None:
            return "equals" in self.model_fields_set and self.equals is None
        if self.in_ is not None and value not in self.in_:
            return False
        if self.min is not None or self.max is not None:
            if not isinstance(value, int | float) or isinstance(value, bool):
                return False
            if (self.min is not None and value < self.min) or (
                self.max is not None and value > self.max
            ):
                return False
        return True


class PeopleSpec(BaseModel):
    """Real people: rows of a CSV file (path relative to the spec) or of a DataFrame.

    Attributes:
        csv: The CSV file; empty cells are missing values.
        data: A pandas DataFrame or a list of mappings (Python specs only).
        id_column: The column that gives each persona's id (default ``p00001``, ...).
        columns: The columns to keep: a list, or a mapping ``file name: attribute name``
            that also renames (default: every column).
        filter: Conditions on the file's columns; rows failing one are left out.
        valid: Conditions on the file's columns; a cell failing its condition becomes
            missing (for entry errors such as an age of 3), the row stays.
        replace: Sample with replacement (otherwise ``n`` may not exceed the rows).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    csv: str | None = None
    data: Any = None
    id_column: str | None = None
    columns: list[str] | dict[str, str] | None = None
    filter: dict[str, Condition] = Field(default_factory=dict)
    valid: dict[str, Condition] = Field(default_factory=dict)
    replace: bool = False


class PopulationSpec(BaseModel):
    """A whole population: the template it fills and how each attribute is drawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str
    description: str = ""
    people: PeopleSpec | None = None
    tables: list[JointTable] = Field(default_factory=list)
    attributes: dict[str, AttributeKind] = Field(default_factory=dict)


def _path(parts: Sequence[Any]) -> str:
    return ".".join(str(p) for p in parts if p not in ("function-after", "function-before"))


def _raise_validation(exc: ValidationError, prefix: Sequence[Any], source: str) -> None:
    err = exc.errors()[0]
    loc = [*prefix, *err["loc"]]
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    raise ConfigError(msg, where=f"{source}: {_path(loc)}") from None


def _parse_attribute(name: str, raw: Any, source: str) -> AttributeKind:
    where = f"{source}: attributes.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError("expected a mapping", where=where)
    for key, kind in _KINDS:
        if key in raw:
            try:
                return kind.model_validate(dict(raw))  # type: ignore[return-value]
            except ValidationError as exc:
                _raise_validation(exc, ["attributes", name], source)
    keys = [k for k, _ in _KINDS]
    close = [difflib.get_close_matches(str(k), keys, n=1) for k in raw]
    hint = next((f" (did you mean {c[0]!r}?)" for c in close if c), "")
    raise ConfigError(f"say how to sample it with one of: {', '.join(keys)}{hint}", where=where)


def parse_population_spec(raw: Any, source: str = "<population>") -> PopulationSpec:
    """Validate a loaded YAML document or a Python dict into a :class:`PopulationSpec`.

    Raises:
        ConfigError: the first problem, with ``where`` set to ``source: field.path``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError("a population spec must be a mapping", where=source)
    raw_attributes = raw.get("attributes") or {}
    if not isinstance(raw_attributes, Mapping):
        raise ConfigError("expected a mapping of attribute names", where=f"{source}: attributes")
    attributes = {str(k): _parse_attribute(str(k), v, source) for k, v in raw_attributes.items()}
    try:
        spec = PopulationSpec.model_validate({**raw, "attributes": attributes})
    except ValidationError as exc:
        _raise_validation(exc, [], source)
        raise  # unreachable: _raise_validation always raises
    check_spec(spec, source)
    return spec


def check_weights(weights: Mapping[Any, float] | Sequence[float], where: str) -> None:
    """Weights must be finite, non-negative and not all zero."""
    items = list(weights.items()) if isinstance(weights, Mapping) else list(enumerate(weights))
    if not items:
        raise ConfigError("no weights given", where=where)
    for key, w in items:
        if not math.isfinite(w) or w < 0:
            raise ConfigError(f"weight {w} for {key!r} must be a finite number ≥ 0", where=where)
    if sum(w for _, w in items) <= 0:
        raise ConfigError("weights sum to zero", where=where)


def _check_edges(edges: Sequence[float], where: str) -> None:
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ConfigError("edges must be at least two increasing numbers", where=where)


def check_spec(spec: PopulationSpec, source: str) -> None:
    """The checks pydantic cannot express: weights, parameters, names and references."""
    names: dict[str, str] = {}
    for t, table in enumerate(spec.tables):
        where = f"{source}: tables[{t}]"
        if not table.columns or len(set(table.columns)) != len(table.columns):
            raise ConfigError("columns must be distinct names", where=f"{where}.columns")
        for r, row in enumerate(table.rows):
            if len(row) != len(table.columns) + 1:
                raise ConfigError(
                    f"expected {len(table.columns)} values and a weight, got {len(row)} items",
                    where=f"{where}.rows[{r}]",
                )
            if not isinstance(row[-1], int | float) or isinstance(row[-1], bool):
                raise ConfigError(
                    "the last item of a row is its weight", where=f"{where}.rows[{r}]"
                )
        check_weights([float(row[-1]) for row in table.rows], f"{where}.rows")
        for column in table.columns:
            if column in names:
                raise ConfigError(f"{column!r} is already set by {names[column]}", where=where)
            names[column] = f"tables[{t}]"
    for name, attr in spec.attributes.items():
        where = f"{source}: attributes.{name}"
        if name in names:
            raise ConfigError(f"{name!r} is already set by {names[name]}", where=where)
        names[name] = f"attributes.{name}"
        _check_attribute(attr, where)
    known = set(names)
    for name, attr in spec.attributes.items():
        parent = _parent_of(attr)
        if parent is not None and parent not in known and spec.people is None:
            hint = difflib.get_close_matches(parent, sorted(known), n=1)
            raise ConfigError(
                f"unknown attribute {parent!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""),
                where=f"{source}: attributes.{name}.{_parent_field(attr)}",
            )
    if spec.people is not None:
        people = spec.people
        if (people.csv is None) == (people.data is None):
            raise ConfigError("give exactly one of csv or data", where=f"{source}: people")


def _parent_of(attr: AttributeKind) -> str | None:
    if isinstance(attr, ConditionalAttr):
        return attr.parent
    if isinstance(attr, DerivedAttr):
        return attr.derive.from_
    return None


def _parent_field(attr: AttributeKind) -> str:
    return "given" if isinstance(attr, ConditionalAttr) else "derive.from"


def _check_attribute(attr: AttributeKind, where: str) -> None:
    if isinstance(attr, CategoricalAttr):
        check_weights(attr.weights, f"{where}.weights")
    elif isinstance(attr, ConditionalAttr):
        if len(attr.given) != 1:
            raise ConfigError(
                "given must name exactly one parent attribute", where=f"{where}.given"
            )
        table_where = f"{where}.given.{attr.parent}"
        if not attr.table:
            raise ConfigError("no weights given", where=table_where)
        for value, weights in attr.table.items():
            check_weights(weights, f"{table_where}.{value}")
    elif isinstance(attr, NumericAttr):
        _check_numeric(attr, where)
    elif isinstance(attr, DerivedAttr):
        d = attr.derive
        if (d.edges is None) == (d.map is None):
            raise ConfigError("give either edges (with labels) or map", where=f"{where}.derive")
        if d.edges is not None:
            _check_edges(d.edges, f"{where}.derive.edges")
            if d.labels is None or len(d.labels) != len(d.edges) - 1:
                raise ConfigError(
                    f"give one label per bin ({len(d.edges) - 1})", where=f"{where}.derive.labels"
                )


def _need(attr: NumericAttr, fields: Sequence[str], where: str) -> None:
    for field in fields:
        if getattr(attr, field) is None:
            raise ConfigError(f"{attr.distribution} needs {field!r}", where=f"{where}.{field}")


def _check_numeric(attr: NumericAttr, where: str) -> None:
    if attr.distribution == "uniform":
        _need(attr, ("low", "high"), where)
        assert attr.low is not None and attr.high is not None
        if attr.high <= attr.low:
            raise ConfigError("high must be larger than low", where=f"{where}.high")
    elif attr.distribution == "normal":
        _need(attr, ("mean", "sd"), where)
        if (attr.sd or 0) <= 0:
            raise ConfigError("sd must be positive", where=f"{where}.sd")
    elif attr.distribution == "lognormal":
        _need(attr, ("mu", "sigma"), where)
        if (attr.sigma or 0) <= 0:
            raise ConfigError("sigma must be positive", where=f"{where}.sigma")
    else:
        _need(attr, ("edges", "weights"), where)
        assert attr.edges is not None and attr.weights is not None
        _check_edges(attr.edges, f"{where}.edges")
        if len(attr.weights) != len(attr.edges) - 1:
            raise ConfigError(
                f"give one weight per bin ({len(attr.edges) - 1})", where=f"{where}.weights"
            )
        check_weights(attr.weights, f"{where}.weights")
        if attr.min is not None or attr.max is not None:
            raise ConfigError("a histogram is bounded by its edges; drop min/max", where=where)
    if attr.min is not None and attr.max is not None and attr.min >= attr.max:
        raise ConfigError("min must be smaller than max", where=f"{where}.min")
    if attr.bins is not None:
        _check_edges(attr.bins, f"{where}.bins")
