"""The columnar GraphML writer: networkx reads back what it would from its own writer."""

from __future__ import annotations

import json
import math
import struct
import tempfile
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vs_sim.errors import ConfigError
from vs_sim.graph import ConversationGraph
from vs_sim.graphml import (
    Table,
    _json_text,
    _native_texts,
    read_marked,
    write_graphml,
    write_marked,
)


def read_back(path: Path) -> tuple[Any, Any, Any]:
    """Everything ``networkx.read_graphml`` finds, values with their types."""
    g = nx.read_graphml(path, force_multigraph=True)

    def typed(d: dict[str, Any]) -> str:
        return json.dumps({k: [type(v).__name__, v] for k, v in sorted(d.items())}, sort_keys=True)

    nodes = sorted((n, typed(d)) for n, d in g.nodes(data=True))
    edges = sorted((u, v, k, typed(d)) for u, v, k, d in g.edges(keys=True, data=True))
    return nodes, edges, typed(g.graph)


# Characters XML can hold: no surrogates, control characters or noncharacters (U+FFFE and
# U+FFFF are in "Cn"; networkx's own writer emits them raw and cannot read its file back).
_XML_TEXT = st.characters(blacklist_categories=("Cs", "Cc", "Cn"))
_native = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False),
    st.text(alphabet=_XML_TEXT),
    st.sampled_from(["a & b", "<tag>", 'say "hi"', "tab\there", "two\nlines", " padded "]),
)
_ids = st.one_of(
    st.text(alphabet=_XML_TEXT, min_size=1, max_size=6),
    st.sampled_from(['a"b', "x&y", "<n>", "new\nline", "t\tab"]),
)
_names = st.sampled_from(["text", "turn", "weight", "kind"])


@settings(max_examples=150, deadline=None)
@given(
    nodes=st.dictionaries(_ids, st.dictionaries(_names, _native, max_size=3), min_size=1),
    edge_data=st.dictionaries(_names, _native, max_size=3),
    graph_data=st.dictionaries(st.sampled_from(["schema", "title"]), _native, max_size=2),
)
def test_networkx_reads_back_what_it_reads_from_its_own_writer(
    nodes: dict[str, dict[str, Any]], edge_data: dict[str, Any], graph_data: dict[str, Any]
) -> None:
    g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    g.graph.update(graph_data)
    for node, data in nodes.items():
        g.add_node(node, **data)
    first, last = next(iter(nodes)), list(nodes)[-1]
    g.add_edge(first, last, key="next", **edge_data)
    g.add_edge(last, first, key="reply_to")
    # (attributes of mixed types get one key per type, in both writers)
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp) / "ours.graphml", Path(tmp) / "theirs.graphml"
        write_graphml(ours, g.graph, list(g.nodes(data=True)), list(g.edges(keys=True, data=True)))
        nx.write_graphml(g, theirs)
        assert read_back(ours) == read_back(theirs)


def test_values_listed_as_json_are_written_as_json_strings(tmp_path: Path) -> None:
    path = tmp_path / "g.graphml"
    write_graphml(
        path,
        {"conversations": {"c1": {"status": "completed"}}},
        [("a", {"tags": ["x", "y"], "note": None, "turn": 3})],
        [("a", "a", "self", {"meta": {"k": 1}})],
        as_json={"graph": {"conversations"}, "node": {"tags", "note"}, "edge": {"meta"}},
    )
    g = nx.read_graphml(path, force_multigraph=True)
    assert json.loads(g.graph["conversations"]) == {"c1": {"status": "completed"}}
    assert json.loads(g.nodes["a"]["tags"]) == ["x", "y"] and g.nodes["a"]["note"] == "null"
    assert g.nodes["a"]["turn"] == 3
    assert json.loads(g.edges["a", "a", "self"]["meta"]) == {"k": 1}


def test_a_value_graphml_cannot_hold_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="node attribute 'tags'"):
        write_graphml(tmp_path / "g.graphml", {}, [("a", {"tags": ["x"]})], [])


def test_conversation_graph_file_reads_back_like_the_networkx_written_one(
    tmp_path: Path,
) -> None:
    g = ConversationGraph()
    g.graph.add_node(
        "utt:c:0", type="utterance", text='He said "stop" & <left>', turn=0, probability=0.25
    )
    g.graph.add_node("agent:c:ana", type="agent", attributes={"age": 40}, role=None)
    g.graph.add_edge("agent:c:ana", "utt:c:0", key="spoke", kind="spoke")
    ours, theirs = tmp_path / "ours.graphml", tmp_path / "theirs.graphml"
    g.to_graphml(ours)
    nx.write_graphml(g._flat(), theirs)
    assert read_back(ours) == read_back(theirs)
    assert ConversationGraph.read_graphml(ours).graph.nodes["agent:c:ana"]["attributes"] == {
        "age": 40
    }


_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(_json_values, st.lists(st.text(), max_size=4)))
def test_json_values_are_written_as_json_dumps_writes_them(value: Any) -> None:
    assert _json_text(value) == json.dumps(value, ensure_ascii=True)


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


@settings(max_examples=200, deadline=None)
@given(
    floats=st.lists(st.floats(), min_size=1, max_size=20),
    ints=st.lists(st.integers(min_value=-(2**70), max_value=2**70), min_size=1, max_size=20),
)
def test_a_column_of_numbers_reads_back_bit_for_bit(floats: list[float], ints: list[int]) -> None:
    back = [float(text) for text in _native_texts(floats, float)]
    assert [bits(x) if not math.isnan(x) else "nan" for x in floats] == [
        bits(x) if not math.isnan(x) else "nan" for x in back
    ]
    assert [int(text) for text in _native_texts(ints, int)] == ints


def test_nan_infinity_and_escapes_read_back_as_from_the_networkx_writer(tmp_path: Path) -> None:
    g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    g.add_node("a", x=math.nan, t="1 < 2 & 3 > 2", b=True)
    g.add_node("b", x=math.inf, t="plain", b=False)
    g.add_node('q"uote', x=-math.inf, t="tab\there", b=True)
    g.add_edge("a", 'q"uote', key="k&1", w=1e-5)
    ours, theirs = tmp_path / "ours.graphml", tmp_path / "theirs.graphml"
    write_graphml(ours, g.graph, list(g.nodes(data=True)), list(g.edges(keys=True, data=True)))
    nx.write_graphml(g, theirs)
    assert repr(read_back(ours)) == repr(read_back(theirs))  # repr: nan == nan
    assert math.isnan(nx.read_graphml(ours).nodes["a"]["x"])


def test_a_text_column_is_escaped_value_by_value_even_with_a_nul_in_it() -> None:
    assert _native_texts(["a & b", "<x>", "plain"], str) == ["a &amp; b", "&lt;x&gt;", "plain"]
    assert _native_texts(["a&b", "x\x00y", ">"], str) == ["a&amp;b", "x\x00y", "&gt;"]


def test_text_xml_cannot_hold_is_kept_as_json_and_read_back(tmp_path: Path) -> None:
    # What networkx's own writer cannot round-trip (a noncharacter, a control character),
    # vs_sim's marked GraphML keeps: written as JSON text, restored on reading.
    texts = ["noncharacter \ufffe here", "bell \x07", "plain"]
    nodes = [Table([[f"n{i}" for i in range(3)]], ["text"], [texts])]
    path = tmp_path / "g.graphml"
    write_marked(path, {}, nodes, [])
    back = read_marked(path)
    assert [back.nodes[f"n{i}"]["text"] for i in range(3)] == texts
