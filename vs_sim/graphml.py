"""GraphML: a writer that formats whole columns of values at a time, and vs_sim's way of
keeping every attribute (values GraphML cannot hold are written as marked JSON).

``networkx.write_graphml`` builds an ElementTree element for every node, edge and value,
indents the tree, then serializes it: about 0.6 ms per conversation turn of a run's graph.
This module writes the same document (the same keys, ids, types and values, so
``networkx.read_graphml`` reads back the same graph) as text. Elements of one shape (the
same attribute names in the same order) form a :class:`Table`: each attribute is one
column, typed, escaped and formatted by a few C-level calls for the whole column, not per
value. Values must be GraphML types (``str``, ``int``, ``float``, ``bool``), except
attributes listed in ``as_json``, which are written as JSON strings.

:func:`write_marked` chooses those attributes itself (dicts, lists, ``None``, mixed types,
strings XML cannot hold) and lists them in the graph's ``vs_sim_json`` attribute, so
:func:`read_marked` restores every value with its type.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, groupby, repeat
from json.encoder import encode_basestring_ascii
from operator import itemgetter
from typing import Any

import networkx as nx
import orjson

from .errors import ConfigError

Scope = str
"""``graph``, ``node`` or ``edge``."""
MARK = "vs_sim_json"
"""The graph attribute that lists, per scope, the attributes written as JSON."""

_TYPES: dict[type, str] = {bool: "boolean", int: "long", float: "double", str: "string"}
"""GraphML ``attr.type`` per Python type, as networkx writes them (and reads them back)."""

_HEADER = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)
_SKIPPED_GRAPH_KEYS = ("node_default", "edge_default")  # networkx keeps these out of the data
_ATTRIBUTE_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#09;",
    }
)
_ATTRIBUTE_SPECIAL = ("&", "<", ">", '"', "\n", "\r", "\t")
_TEXT_SPECIAL = ("&", "<", ">")
_XML_UNSAFE = (*(chr(c) for c in range(0x20) if c not in (0x09, 0x0A)), "\ufffe", "\uffff")
"""Characters XML cannot hold, plus ``\\r`` (XML parsers turn it into ``\\n``)."""


def _holds_any(text: str, chars: tuple[str, ...]) -> bool:
    """Whether ``text`` holds any of ``chars`` (a substring scan per character: about 20
    times faster than one scan with a regex character class, on a column of text)."""
    return any(c in text for c in chars)


_JSON = "json"  # the stand-in type of attributes written as JSON


class Table:
    """Elements of one shape (the same attribute names, in the same order) as columns.

    Attributes:
        ids: The id columns: ``[nodes]`` for nodes, ``[sources, targets, keys]`` for edges.
        names: The attribute names.
        columns: One list of values per name.
        types: The set of Python types in each column.
    """

    __slots__ = ("columns", "ids", "names", "types")

    def __init__(self, ids: list[list[Any]], names: Sequence[Any], columns: list[list[Any]]):
        self.ids = ids
        self.names = tuple(names)
        self.columns = columns
        self.types = [set(map(type, column)) for column in columns]

    @classmethod
    def of_dicts(cls, ids: list[list[Any]], dicts: Sequence[Mapping[Any, Any]]) -> Table:
        """The attribute dicts of elements of one shape (the first dict's names)."""
        names = tuple(dicts[0]) if dicts else ()
        return cls(ids, names, [list(map(itemgetter(n), dicts)) for n in names])

    @classmethod
    def of_records(cls, records: Sequence[Mapping[Any, Any]], id_names: Sequence[str]) -> Table:
        """Node-link records of one shape: the ``id_names`` fields, then the attributes."""
        ids = [list(map(itemgetter(n), records)) for n in id_names]
        names = [n for n in records[0] if n not in id_names] if records else []
        return cls(ids, names, [list(map(itemgetter(n), records)) for n in names])


def tables(items: Iterable[tuple[Any, ...]], n_ids: int) -> list[Table]:
    """``(id, ..., attributes)`` tuples (as networkx yields them) as tables, one per run of
    elements of one shape, in order."""
    found = []
    for _, run in groupby(items, key=lambda item: tuple(item[-1])):
        parts = list(zip(*run))
        found.append(Table.of_dicts([list(p) for p in parts[:n_ids]], parts[n_ids]))
    return found


def record_tables(records: Iterable[Mapping[Any, Any]], id_names: Sequence[str]) -> list[Table]:
    """Node-link records (``id_names`` fields, then the attributes) as tables, one per run of
    records of one length; records of one length must have the same names, in one order."""
    return [Table.of_records(list(run), id_names) for _, run in groupby(records, key=len)]


def json_names(found: Iterable[Table]) -> set[str]:
    """Attribute names GraphML cannot hold as they are, to be written as JSON: a value that
    is not a GraphML type, values of more than one type, or a string XML cannot hold."""
    seen: dict[Any, set[type]] = {}
    for table in found:
        for name, column, kinds in zip(table.names, table.columns, table.types):
            seen.setdefault(name, set()).update(kinds)
            if kinds == {str} and _holds_any("".join(column), _XML_UNSAFE):
                seen[name].add(object)  # not native, whatever else the column holds
    return {name for name, kinds in seen.items() if len(kinds) > 1 or not kinds <= _TYPES.keys()}


class _Keys:
    """The ``<key>`` declarations: one per (scope, name, type), numbered in first-seen order
    (element by element, each element's attributes in order, as networkx numbers them).

    ``ids[scope][(name, python type)]`` is the key's id (``_JSON`` stands for the type of an
    attribute written as JSON).
    """

    def __init__(self) -> None:
        self.ids: dict[Scope, dict[tuple[Any, object], str]] = {"graph": {}, "node": {}, "edge": {}}
        self.declared: list[str] = []

    def scan(self, scope: Scope, table: Table, as_json: set[str]) -> None:
        ids = self.ids[scope]
        new: list[tuple[int, int, Any, object]] = []  # (first element, column, name, kind)
        for position, (name, column, kinds) in enumerate(
            zip(table.names, table.columns, table.types)
        ):
            if name in as_json:
                firsts: dict[object, int] = {_JSON: 0}
            elif len(kinds) == 1:
                firsts = {next(iter(kinds)): 0}
            else:
                firsts = {}
                for i, value in enumerate(column):
                    firsts.setdefault(type(value), i)
            new += [(i, position, name, k) for k, i in firsts.items() if (name, k) not in ids]
        for _, _, name, kind in sorted(new, key=lambda item: item[:2]):
            xml_type = "string" if kind is _JSON else _TYPES.get(kind)  # type: ignore[call-overload]
            if xml_type is None:
                raise ConfigError(
                    f"GraphML cannot hold a {kind.__name__} value",  # type: ignore[attr-defined]
                    where=f"{scope} attribute {name!r}",
                )
            key_id = ids[name, kind] = f"d{len(self.declared)}"
            self.declared.append(
                f'  <key id="{key_id}" for="{scope}" attr.name="{_attr(str(name))}" '
                f'attr.type="{xml_type}" />\n'
            )


def _attr(text: str) -> str:
    """``text`` escaped as an XML attribute value (as ElementTree escapes it)."""
    return text.translate(_ATTRIBUTE_ESCAPES) if _holds_any(text, _ATTRIBUTE_SPECIAL) else text


def _text(text: str) -> str:
    """``text`` escaped as XML character data (as ElementTree escapes it)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _json_text(value: Any) -> str:
    """``value`` as ``json.dumps`` writes it (ASCII only, so XML can hold it); the usual
    values (``None``, str, int, a list of str, an empty dict) without its machinery."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)  # what json.dumps does with a str
    if kind is int:
        return int.__repr__(value)
    if kind is list and all(type(v) is str for v in value):  # e.g. addressed_to
        return "[" + ", ".join(map(encode_basestring_ascii, value)) + "]"
    if kind is dict and not value:
        return "{}"
    return json.dumps(value, ensure_ascii=True)


def _id_texts(column: list[Any]) -> list[str]:
    """Ids (node ids, edge ends and keys) as escaped attribute values."""
    texts = column if set(map(type, column)) == {str} else list(map(str, column))
    if not _holds_any("".join(texts), _ATTRIBUTE_SPECIAL):
        return texts
    return list(map(_attr, texts))


def _native_texts(column: list[Any], kind: type) -> list[str]:
    """A column of one GraphML type as XML character data."""
    if kind is str:
        # Escape the whole column at once, "\x00" separating the values (XML cannot hold
        # it, so no value has it, unless the caller did not ask for such values as JSON).
        joined = "\x00".join(column)
        if not _holds_any(joined, _TEXT_SPECIAL):
            return column
        texts = _text(joined).split("\x00")
        return texts if len(texts) == len(column) else list(map(_text, column))
    if kind is float or kind is int:
        # orjson writes the shortest digits that read back the same float (as repr does),
        # for a whole column in one call; NaN and inf (null in JSON), big ints: str().
        try:
            encoded = orjson.dumps(column)
        except orjson.JSONEncodeError:
            encoded = b"null"
        if b"null" not in encoded:
            return encoded.decode()[1:-1].split(",")
    return list(map(str, column))


def _column_pieces(
    name: Any, column: list[Any], kinds: set[type], as_json: set[str], ids: Mapping[Any, str]
) -> tuple[str | list[str], list[str]]:
    """The ``<data>`` key id (one for the column, or one per value) and the value texts."""
    if name in as_json:
        texts = ["null"] * len(column) if kinds == {type(None)} else list(map(_json_text, column))
        return ids[name, _JSON], _native_texts(texts, str)
    if len(kinds) == 1:
        kind = next(iter(kinds))
        return ids[name, kind], _native_texts(column, kind)
    keys = [ids[name, type(v)] for v in column]  # mixed types: one key per type
    return keys, [_text(v) if type(v) is str else str(v) for v in column]


def _rows(
    table: Table,
    head: list[str | list[str]],
    tail: str,
    indent: str,
    as_json: set[str],
    ids: Mapping[Any, str],
) -> Iterator[str]:
    """The text of every element of ``table``, as pieces: ``head`` opens an element (a
    ``str`` is the same for all, a list has one text per element), ``tail`` closes it."""
    pieces = list(head)

    def add(piece: str | list[str]) -> None:
        if isinstance(piece, str) and pieces and isinstance(pieces[-1], str):
            pieces[-1] += piece  # one constant piece instead of two
        else:
            pieces.append(piece)

    if not table.names:
        add(" />\n")
    else:
        add(">\n" if head else "")
        for name, column, kinds in zip(table.names, table.columns, table.types):
            key, texts = _column_pieces(name, column, kinds, as_json, ids)
            add(f'{indent}<data key="')
            add(key)
            add('">')
            add(texts)
            add("</data>\n")
        add(tail)
    return chain.from_iterable(zip(*(repeat(p) if isinstance(p, str) else p for p in pieces)))


def write_tables(
    path: str | os.PathLike[str],
    graph: Mapping[Any, Any],
    nodes: Sequence[Table],
    edges: Sequence[Table],
    *,
    directed: bool = True,
    as_json: Mapping[Scope, set[str]] | None = None,
) -> None:
    """Write a (multi)graph given as tables; see :func:`write_graphml`."""
    marks = as_json or {}
    graph_json, node_json, edge_json = (marks.get(s, set()) for s in ("graph", "node", "edge"))
    graph_data = {k: v for k, v in graph.items() if k not in _SKIPPED_GRAPH_KEYS}
    graph_table = Table.of_dicts([[None]], [graph_data])
    keys = _Keys()
    keys.scan("graph", graph_table, graph_json)
    for table in nodes:
        keys.scan("node", table, node_json)
    for table in edges:
        keys.scan("edge", table, edge_json)

    out: list[Iterable[str]] = [[_HEADER, *keys.declared]]
    out.append([f'  <graph edgedefault="{"directed" if directed else "undirected"}">\n'])
    if graph_data:
        out.append(_rows(graph_table, [], "", "    ", graph_json, keys.ids["graph"]))
    for table in nodes:
        head: list[str | list[str]] = ['    <node id="', _id_texts(table.ids[0]), '"']
        out.append(_rows(table, head, "    </node>\n", "      ", node_json, keys.ids["node"]))
    for table in edges:
        source, target, key = map(_id_texts, table.ids)
        head = ['    <edge source="', source, '" target="', target, '" id="', key, '"']
        out.append(_rows(table, head, "    </edge>\n", "      ", edge_json, keys.ids["edge"]))
    out.append(["  </graph>\n</graphml>\n"])
    text = "".join(chain.from_iterable(out))
    with open(path, "wb") as f:
        f.write(text.encode("utf-8", errors="xmlcharrefreplace"))


def write_graphml(
    path: str | os.PathLike[str],
    graph: Mapping[Any, Any],
    nodes: Iterable[tuple[Any, Mapping[Any, Any]]],
    edges: Iterable[tuple[Any, Any, Any, Mapping[Any, Any]]],
    *,
    directed: bool = True,
    as_json: Mapping[Scope, set[str]] | None = None,
) -> None:
    """Write a (multi)graph as GraphML, as ``networkx.write_graphml`` would.

    Args:
        path: The file to write.
        graph: The graph's own attributes.
        nodes: ``(node, attributes)`` pairs; node ids are written with ``str``.
        edges: ``(source, target, key, attributes)``; the key becomes the edge's ``id``.
        directed: The graph's ``edgedefault``.
        as_json: Per scope (``graph``, ``node``, ``edge``), attribute names whose values are
            written as JSON strings (their GraphML type is ``string``).

    Raises:
        ConfigError: A value that is not a GraphML type and not listed in ``as_json``.
    """
    write_tables(
        path, graph, tables(nodes, 1), tables(edges, 3), directed=directed, as_json=as_json
    )


# -- every attribute kept: values GraphML cannot hold as marked JSON --------------------------
def _marks(
    graph: Mapping[Any, Any], nodes: Iterable[Table], edges: Iterable[Table]
) -> tuple[dict[Any, Any], dict[Scope, set[str]]]:
    """The graph's attributes with the :data:`MARK` of the names to write as JSON (per
    scope), and those names."""
    own = {k: v for k, v in graph.items() if k != MARK}
    marks = {
        "node": json_names(nodes),
        "edge": json_names(edges),
        "graph": json_names(tables([(None, own)], 1)),
    }
    own[MARK] = json.dumps({scope: sorted(names) for scope, names in marks.items()})
    return own, marks


def write_marked(
    path: str | os.PathLike[str],
    graph: Mapping[Any, Any],
    nodes: Sequence[Table],
    edges: Sequence[Table],
) -> None:
    """Write GraphML that keeps every attribute: what GraphML cannot hold as it is (see
    :func:`json_names`) is written as JSON and listed in the graph's :data:`MARK`."""
    own, marks = _marks(graph, nodes, edges)
    write_tables(path, own, nodes, edges, as_json=marks)


def read_marked(path: str | os.PathLike[str]) -> nx.MultiDiGraph[Any]:
    """Read :func:`write_marked` output, restoring every attribute's value and type."""
    raw = nx.read_graphml(str(path), force_multigraph=True)
    marks = json.loads(raw.graph.pop(MARK, "{}"))
    for added in _SKIPPED_GRAPH_KEYS:  # networkx's own, not ours
        if added not in marks.get("graph", []):
            raw.graph.pop(added, None)
    g: nx.MultiDiGraph[Any] = nx.MultiDiGraph()
    g.graph.update(_decode(raw.graph, set(marks.get("graph", []))))
    node_json, edge_json = set(marks.get("node", [])), set(marks.get("edge", []))
    for n, d in raw.nodes(data=True):
        g.add_node(n, **_decode(d, node_json))
    for u, v, k, d in raw.edges(keys=True, data=True):
        g.add_edge(u, v, key=k, **_decode(d, edge_json))
    return g


def flat_copy(g: nx.MultiDiGraph[Any]) -> nx.MultiDiGraph[Any]:
    """A copy of ``g`` with only GraphML-legal values (for writers such as GEXF): the others
    as JSON, listed in the graph's :data:`MARK` as :func:`write_marked` lists them."""
    own, marks = _marks(
        g.graph, tables(g.nodes(data=True), 1), tables(g.edges(keys=True, data=True), 3)
    )
    flat: nx.MultiDiGraph[Any] = nx.MultiDiGraph()
    flat.graph.update(_encode(own, marks["graph"]))
    for n, d in g.nodes(data=True):
        flat.add_node(n, **_encode(d, marks["node"]))
    for u, v, k, d in g.edges(keys=True, data=True):
        flat.add_edge(u, v, key=k, **_encode(d, marks["edge"]))
    return flat


def _encode(d: Mapping[Any, Any], names: set[str]) -> dict[Any, Any]:
    return {k: json.dumps(v, ensure_ascii=True) if k in names else v for k, v in d.items()}


def _decode(d: Mapping[Any, Any], names: set[str]) -> dict[Any, Any]:
    return {k: json.loads(v) if k in names else v for k, v in d.items()}
