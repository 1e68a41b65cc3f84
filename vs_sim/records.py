"""Pydantic models built without validation, for values the program made itself.

A conversation turn builds a dozen small records (candidates, a parse result, a
distribution, four log events) from values it has just computed and checked; pydantic's
validation of those cost more than the rest of the turn. :func:`trusted` and
:meth:`TrustedModel.trusted` build an instance directly. It equals (``==``) the validated
one and dumps to the same JSON, provided the values already have the exact types
validation would give (``float``, not ``int``, for a float field; model instances, not
dicts, for nested models; fresh lists and dicts). Anything a user wrote is validated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T", bound="TrustedModel")
_UNSET: Any = object()  # no value given (yet): a required field's place in a template
# What model_construct does, faster: a bare instance, then BaseModel's four slots set
# through their descriptors (pydantic's own __setattr__ would validate and track each field).
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def trusted(cls: type[_M], values: dict[str, Any], fields_set: set[str] | None = None) -> _M:
    """An instance of ``cls`` holding ``values``, without validating them.

    Args:
        cls: The model class (no private attributes, no extras).
        values: Every field's value, in the order the model declares them, each of the
            exact type validation gives; the instance keeps this dict as its ``__dict__``.
        fields_set: The fields the caller gave explicitly (``model_fields_set``); default:
            all of them.
    """
    record = _new(cls)
    _set_dict(record, values)
    _set_fields_set(record, set(values) if fields_set is None else fields_set)
    _set_extra(record, None)
    _set_private(record, None)
    return record


def trusted_each(cls: type[_M], rows: Iterable[dict[str, Any]]) -> list[_M]:
    """``[trusted(cls, values) for values in rows]`` in one loop, for the records a turn makes
    several of (a distribution's candidates): every field given in each, as for ``trusted``."""
    records = []
    for values in rows:
        record = _new(cls)
        _set_dict(record, values)
        _set_fields_set(record, set(values))
        _set_extra(record, None)
        _set_private(record, None)
        records.append(record)
    return records


class TrustedModel(BaseModel):
    """A model that hot paths may build with :meth:`trusted` (keyword fields, defaults filled)."""

    @classmethod
    def trusted(cls: type[_T], **fields: Any) -> _T:
        """Build an instance from values the caller made itself, skipping validation.

        Defaults are filled (default factories called, e.g. an event's ``t`` with the time
        now); the values must already have the declared types: nothing converts or checks
        them.

        Raises:
            TypeError: A field is unknown or a required one is missing (a bug in the caller).
        """
        shape = _SHAPES.get(cls) or _SHAPES.setdefault(cls, _Shape(cls))
        values = {**shape.template, **fields}  # declaration order: the order JSON keys take
        if len(values) != len(shape.template) or not shape.required <= fields.keys():
            unknown = sorted(fields.keys() - shape.template.keys())
            missing = sorted(shape.required - fields.keys())
            raise TypeError(f"{cls.__name__}.trusted(): unknown {unknown}, missing {missing}")
        for name, factory in shape.factories:
            if name not in fields:
                values[name] = factory()
        return trusted(cls, values, set(fields))


class _Shape:
    """What :meth:`TrustedModel.trusted` needs to know about a class, worked out once."""

    def __init__(self, cls: type[BaseModel]) -> None:
        self.template: dict[str, Any] = {}  # every field in declaration order (the JSON order)
        self.factories: list[tuple[str, Callable[[], Any]]] = []
        required: set[str] = set()
        for name, field in cls.model_fields.items():
            self.template[name] = _UNSET
            if field.is_required():
                required.add(name)
            elif field.default_factory is not None:  # lists and dicts: each record its own
                self.factories.append((name, field.default_factory))  # type: ignore[arg-type]
            else:
                self.template[name] = field.default
        self.required = frozenset(required)


_SHAPES: dict[type[BaseModel], _Shape] = {}
