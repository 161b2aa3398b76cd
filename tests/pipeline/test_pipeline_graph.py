"""Nodes and pipelines: building, order, filters, namespaces and the errors of bad graphs."""

from __future__ import annotations

import pytest

from tane.errors import InvalidInput, PipelineError
from tane.pipeline import Pipeline, node, pipeline


def identity(x):
    return x


def join(a, b):
    return a + b


def two(x):
    return x, x


def diamond() -> Pipeline:
    return Pipeline(
        [
            node(join, ["b", "c"], "d", name="join"),
            node(identity, "a", "b", name="left"),
            node(identity, "a", "c", name="right", tags="fast"),
            node(identity, "d", "e", name="last", tags=["fast", "report"]),
        ]
    )


def test_nodes_come_in_dependency_order_keeping_declaration_order_among_ready_ones() -> None:
    pipe = diamond()
    assert [n.name for n in pipe.nodes] == ["left", "right", "join", "last"]
    assert pipe.inputs() == {"a"}
    assert pipe.outputs() == {"e"}
    assert [[n.name for n in layer] for layer in pipe.layers()] == [
        ["left", "right"],
        ["join"],
        ["last"],
    ]


def test_filters_select_upstream_downstream_tags_and_names() -> None:
    pipe = diamond()
    assert [n.name for n in pipe.from_nodes("right").nodes] == ["right", "join", "last"]
    assert [n.name for n in pipe.to_nodes("join").nodes] == ["left", "right", "join"]
    assert [n.name for n in pipe.only_nodes_with_tags("fast").nodes] == ["right", "last"]
    assert [n.name for n in pipe.filter(from_nodes=["left"], tags=["report"]).nodes] == ["last"]
    assert [n.name for n in pipe.filter(node_names=["left", "last"]).nodes] == ["left", "last"]


def test_an_unknown_node_or_tag_names_near_matches() -> None:
    with pytest.raises(PipelineError, match="no node 'jion'; did you mean 'join'"):
        diamond().from_nodes("jion")
    with pytest.raises(PipelineError, match="no tag 'fats'.*'fast'"):
        diamond().only_nodes_with_tags("fats")


def test_a_cycle_is_refused_and_named() -> None:
    with pytest.raises(PipelineError, match="cycle: .*first.*second.*first|cycle: .*second.*first"):
        Pipeline([node(identity, "x", "y", name="first"), node(identity, "y", "x", name="second")])


def test_two_writers_of_one_dataset_are_refused() -> None:
    with pytest.raises(PipelineError, match="'out' is written by two nodes, 'one' and 'two'"):
        Pipeline([node(identity, "a", "out", name="one"), node(identity, "b", "out", name="two")])


def test_two_nodes_with_one_name_are_refused_but_the_same_node_twice_is_one() -> None:
    n = node(identity, "a", "b")
    assert len(Pipeline([n]) + Pipeline([n])) == 1
    with pytest.raises(PipelineError, match="two nodes are named 'identity'"):
        Pipeline([n, node(identity, "c", "d")])


def test_node_arguments_are_checked_against_the_function() -> None:
    with pytest.raises(InvalidInput, match="cannot take inputs"):
        node(identity, ["a", "b"], "c")
    with pytest.raises(InvalidInput, match="reads and writes"):
        node(identity, "a", "a")
    with pytest.raises(InvalidInput, match="lists an output twice"):
        node(two, "a", ["b", "b"])
    with pytest.raises(InvalidInput, match="has no usable function name"):
        node(lambda x: x, "a", "b")
    assert node(lambda x: x, "a", "b", name="anon").name == "anon"


def test_outputs_are_mapped_from_tuples_and_dicts_with_clear_errors() -> None:
    assert node(two, "a", ["b", "c"]).call([1]) == {"b": 1, "c": 1}
    assert node(lambda x: {"k": x}, "a", {"k": "out"}, name="d").call([2]) == {"out": 2}
    with pytest.raises(PipelineError, match="declares 3 outputs .* returned 2 values"):
        node(two, "a", ["b", "c", "d"]).call([1])
    with pytest.raises(PipelineError, match="returned one int"):
        node(identity, "a", ["b", "c"]).call([1])
    kw = node(join, {"b": "y", "a": "x"}, "out")
    assert kw.call(["X", "Y"]) == {"out": "YX"}


def test_a_namespace_prefixes_nodes_datasets_and_params_except_the_mapped_ones() -> None:
    base = Pipeline(
        [
            node(join, ["raw", "params:rate"], "mid", name="step"),
            node(identity, "mid", "result", name="finish"),
        ]
    )
    ns = pipeline(
        base,
        namespace="eu",
        inputs={"raw": "raw_eu"},
        outputs={"result": "report_eu"},
        parameters={"params:rate": "params:rates.eu"},
        tags="regional",
    )
    step = ns.node("eu.step")
    assert step.inputs == ("raw_eu", "params:rates.eu")
    assert step.outputs == ("eu.mid",)
    assert ns.node("eu.finish").outputs == ("report_eu",)
    assert step.namespace == "eu" and "regional" in step.tags
    # The same pipeline twice under two namespaces does not collide.
    both = pipeline(base, namespace="a") + pipeline(base, namespace="b")
    assert len(both) == 4
    assert ns.only_namespace("eu") == ns
    plain_ns = pipeline(base, namespace="us")
    assert plain_ns.node("us.step").inputs == ("us.raw", "params:us.rate")


def test_remapping_names_that_are_not_free_inputs_or_outputs_is_refused() -> None:
    base = Pipeline([node(identity, "a", "b", name="n1"), node(identity, "b", "c", name="n2")])
    with pytest.raises(PipelineError, match="input 'b' is not a free input"):
        pipeline(base, inputs={"b": "x"})
    with pytest.raises(PipelineError, match="output 'zz' is not written"):
        pipeline(base, outputs={"zz": "x"})
    with pytest.raises(PipelineError, match="is a parameter"):
        pipeline(base, inputs={"params:x": "y"})


def test_sum_and_difference_of_pipelines() -> None:
    a = Pipeline([node(identity, "a", "b", name="n1")])
    b = Pipeline([node(identity, "b", "c", name="n2")])
    total = sum([a, b], Pipeline([]))
    assert [n.name for n in total.nodes] == ["n1", "n2"]
    assert [n.name for n in (total - b).nodes] == ["n1"]
    assert total.to_json()["edges"] == [("n1", "n2")]


def test_a_large_chain_orders_quickly_and_correctly() -> None:
    nodes = [node(identity, f"d{i}", f"d{i + 1}", name=f"n{i}") for i in range(2000)]
    pipe = Pipeline(list(reversed(nodes)))
    assert [n.name for n in pipe.nodes] == [f"n{i}" for i in range(2000)]
