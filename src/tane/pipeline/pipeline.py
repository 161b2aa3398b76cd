"""A pipeline: nodes joined by the datasets they share, in dependency order."""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tane.errors import InvalidInput, PipelineError
from tane.pipeline.node import ALL_PARAMS, PARAMS_PREFIX, Node, is_param

Mapping_ = str | Iterable[str] | Mapping[str, str] | None


class Pipeline:
    """Nodes in dependency order. ``+`` joins pipelines, ``-`` removes nodes.

    Args:
        nodes: Nodes and pipelines (their nodes are taken).
        inputs: For a modular pipeline: free inputs that keep their names (a
            name or list) or are renamed (``{inner: outer}``).
        outputs: Likewise for outputs.
        parameters: Params that keep their names or are renamed
            (``{"params:lr": "params:model.lr"}``).
        tags: Tags added to every node.
        namespace: Prefix node names, and datasets and params not listed in
            ``inputs``/``outputs``/``parameters``, with ``namespace.``.

    Raises:
        PipelineError: Two nodes share a name or write one dataset, the nodes
            form a cycle, or a remapped name is not an input/output of the pipeline.
    """

    def __init__(
        self,
        nodes: Iterable[Node | Pipeline] | Pipeline,
        *,
        inputs: Mapping_ = None,
        outputs: Mapping_ = None,
        parameters: Mapping_ = None,
        tags: str | Iterable[str] | None = None,
        namespace: str | None = None,
    ) -> None:
        items = nodes.nodes if isinstance(nodes, Pipeline) else nodes
        flat: list[Node] = []
        for item in items:
            if isinstance(item, Pipeline):
                flat.extend(item.nodes)
            elif isinstance(item, Node):
                flat.append(item)
            else:
                raise InvalidInput(
                    f"a pipeline is made of nodes and pipelines, got {type(item).__name__}: "
                    "wrap functions with tane.pipeline.node(func, inputs, outputs)"
                )
        if any(x is not None for x in (inputs, outputs, parameters, namespace)) or tags:
            flat = _remap(flat, inputs, outputs, parameters, tags, namespace)
        self._nodes = _toposort(_dedupe(flat))

    # -- views -----------------------------------------------------------------

    @property
    def nodes(self) -> list[Node]:
        """Nodes in an order where every node comes after those it reads from."""
        return list(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def __repr__(self) -> str:
        return f"Pipeline({len(self._nodes)} nodes: {', '.join(n.name for n in self._nodes)})"

    def __add__(self, other: Pipeline | Node) -> Pipeline:
        return Pipeline([self, other])

    def __radd__(self, other: object) -> Pipeline:
        if other == 0:  # sum([...]) starts from 0
            return self
        if isinstance(other, (Pipeline, Node)):
            return Pipeline([other, self])
        return NotImplemented

    def __sub__(self, other: Pipeline | Node) -> Pipeline:
        drop = {n.name for n in (other.nodes if isinstance(other, Pipeline) else [other])}
        return Pipeline([n for n in self._nodes if n.name not in drop])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return {n.name for n in self._nodes} == {n.name for n in other._nodes}

    __hash__ = None  # type: ignore[assignment]

    def node(self, name: str) -> Node:
        """The node with this name; raise PipelineError with near matches if none."""
        for n in self._nodes:
            if n.name == name:
                return n
        raise PipelineError(_unknown("node", name, [n.name for n in self._nodes]))

    def all_inputs(self) -> set[str]:
        return {i for n in self._nodes for i in n.inputs}

    def all_outputs(self) -> set[str]:
        return {o for n in self._nodes for o in n.outputs}

    def inputs(self) -> set[str]:
        """Names read by some node and written by none (params included)."""
        return self.all_inputs() - self.all_outputs()

    def outputs(self) -> set[str]:
        """Names written by some node and read by none."""
        return self.all_outputs() - self.all_inputs()

    def datasets(self) -> set[str]:
        """Every dataset name the pipeline touches (params excluded)."""
        return {d for d in self.all_inputs() | self.all_outputs() if not is_param(d)}

    def producers(self) -> dict[str, Node]:
        """Dataset name -> the node writing it."""
        return {o: n for n in self._nodes for o in n.outputs}

    def dependencies(self) -> dict[str, set[str]]:
        """Node name -> names of the nodes it reads from."""
        producers = self.producers()
        return {
            n.name: {producers[i].name for i in n.inputs if i in producers} for n in self._nodes
        }

    def layers(self) -> list[list[Node]]:
        """Nodes grouped in generations: each only reads from earlier generations."""
        deps = self.dependencies()
        level: dict[str, int] = {}
        for n in self._nodes:
            level[n.name] = 1 + max((level[d] for d in deps[n.name]), default=-1)
        out: list[list[Node]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for n in self._nodes:
            out[level[n.name]].append(n)
        return out

    # -- filters ---------------------------------------------------------------

    def only_nodes(self, *names: str) -> Pipeline:
        self._check_names(names)
        wanted = set(names)
        return Pipeline([n for n in self._nodes if n.name in wanted])

    def from_nodes(self, *names: str) -> Pipeline:
        """These nodes and every node downstream of them."""
        self._check_names(names)
        deps = self.dependencies()
        keep = set(names)
        for n in self._nodes:  # topological: parents are decided first
            if keep & deps[n.name]:
                keep.add(n.name)
        return Pipeline([n for n in self._nodes if n.name in keep])

    def to_nodes(self, *names: str) -> Pipeline:
        """These nodes and every node upstream of them."""
        self._check_names(names)
        deps = self.dependencies()
        keep = set(names)
        for n in reversed(self._nodes):
            if n.name in keep:
                keep |= deps[n.name]
        return Pipeline([n for n in self._nodes if n.name in keep])

    def only_nodes_with_tags(self, *tags: str) -> Pipeline:
        """Nodes carrying any of these tags."""
        known = {t for n in self._nodes for t in n.tags}
        unknown = [t for t in tags if t not in known]
        if unknown:
            raise PipelineError(_unknown("tag", unknown[0], sorted(known)))
        wanted = set(tags)
        return Pipeline([n for n in self._nodes if n.tags & wanted])

    def only_namespace(self, namespace: str) -> Pipeline:
        found = [
            n
            for n in self._nodes
            if n.namespace and (n.namespace == namespace or n.namespace.startswith(namespace + "."))
        ]
        if not found:
            names = sorted({n.namespace for n in self._nodes if n.namespace})
            raise PipelineError(_unknown("namespace", namespace, names))
        return Pipeline(found)

    def filter(
        self,
        *,
        tags: Iterable[str] = (),
        from_nodes: Iterable[str] = (),
        to_nodes: Iterable[str] = (),
        node_names: Iterable[str] = (),
        namespace: str | None = None,
    ) -> Pipeline:
        """Apply every given filter (the intersection of what each keeps)."""
        result = self
        if node_names := list(node_names):
            result = result.only_nodes(*node_names)
        if from_nodes := list(from_nodes):
            result = result.from_nodes(*from_nodes)
        if to_nodes := list(to_nodes):
            result = result.to_nodes(*to_nodes)
        if tags := list(tags):
            result = result.only_nodes_with_tags(*tags)
        if namespace:
            result = result.only_namespace(namespace)
        if not result.nodes:
            raise PipelineError("the filters given leave no node to run")
        return result

    def _check_names(self, names: Iterable[str]) -> None:
        known = [n.name for n in self._nodes]
        for name in names:
            if name not in known:
                raise PipelineError(_unknown("node", name, known))

    def describe(self) -> str:
        """The nodes in order with what they read and write."""
        lines = []
        for n in self._nodes:
            lines.append(f"{n.name}: {', '.join(n.inputs) or '-'} -> {', '.join(n.outputs) or '-'}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Nodes and edges, for the UI and `tane pipeline show --json`."""
        return {
            "nodes": [
                {
                    "name": n.name,
                    "inputs": list(n.inputs),
                    "outputs": list(n.outputs),
                    "tags": sorted(n.tags),
                    "namespace": n.namespace,
                }
                for n in self._nodes
            ],
            "edges": sorted(
                (src, dst) for dst, srcs in self.dependencies().items() for src in srcs
            ),
        }


def pipeline(
    nodes: Iterable[Node | Pipeline] | Pipeline,
    *,
    inputs: Mapping_ = None,
    outputs: Mapping_ = None,
    parameters: Mapping_ = None,
    tags: str | Iterable[str] | None = None,
    namespace: str | None = None,
) -> Pipeline:
    """Kedro's ``pipeline()`` helper: the same as :class:`Pipeline`."""
    return Pipeline(
        nodes,
        inputs=inputs,
        outputs=outputs,
        parameters=parameters,
        tags=tags,
        namespace=namespace,
    )


# -- building ------------------------------------------------------------------


def _as_mapping(value: Mapping_) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {value: value}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {str(v): str(v) for v in value}


def _param_name(name: str) -> str:
    return name if name == ALL_PARAMS or name.startswith(PARAMS_PREFIX) else PARAMS_PREFIX + name


def _remap(
    nodes: list[Node],
    inputs: Mapping_,
    outputs: Mapping_,
    parameters: Mapping_,
    tags: str | Iterable[str] | None,
    namespace: str | None,
) -> list[Node]:
    inner = Pipeline(nodes)
    ins, outs = _as_mapping(inputs), _as_mapping(outputs)
    params = {_param_name(k): _param_name(v) for k, v in _as_mapping(parameters).items()}
    free, produced = inner.inputs(), inner.all_outputs()
    for name in ins:
        if is_param(name):
            raise PipelineError(
                f"input {name!r} is a parameter: list parameters under parameters=, not inputs="
            )
        if name not in free:
            raise PipelineError(
                f"input {name!r} is not a free input of the pipeline: "
                + _unknown("free input", name, sorted(d for d in free if not is_param(d)))
            )
    for name in outs:
        if name not in produced:
            raise PipelineError(
                f"output {name!r} is not written by the pipeline: "
                + _unknown("output", name, sorted(produced))
            )
    for name in params:
        if name not in free:
            raise PipelineError(
                f"parameter {name!r} is not read by the pipeline: "
                + _unknown("parameter", name, sorted(d for d in free if is_param(d)))
            )

    def rename(name: str) -> str:
        if is_param(name):
            if name in params:
                return params[name]
            if namespace and name != ALL_PARAMS:
                return f"{PARAMS_PREFIX}{namespace}.{name[len(PARAMS_PREFIX) :]}"
            return name
        if name in ins:
            return ins[name]
        if name in outs:
            return outs[name]
        return f"{namespace}.{name}" if namespace else name

    tag_list = [tags] if isinstance(tags, str) else list(tags or ())
    result = []
    for n in nodes:
        result.append(
            n.renamed(
                rename,
                name=f"{namespace}.{n.name}" if namespace else n.name,
                namespace=(f"{namespace}.{n.namespace}" if n.namespace else namespace)
                if namespace
                else n.namespace,
                tags=tag_list,
            )
        )
    return result


def _dedupe(nodes: list[Node]) -> list[Node]:
    """Drop repeats of the same node (``a + a``); refuse two nodes with one name."""
    seen: dict[str, Node] = {}
    out = []
    for n in nodes:
        other = seen.get(n.name)
        if other is None:
            seen[n.name] = n
            out.append(n)
        elif other != n:
            raise PipelineError(
                f"two nodes are named {n.name!r} ({other!r} and {n!r}): give one another "
                "name=, or put a copy of the pipeline under its own namespace="
            )
    writers: dict[str, str] = {}
    for n in out:
        for o in n.outputs:
            if o in writers:
                raise PipelineError(
                    f"dataset {o!r} is written by two nodes, {writers[o]!r} and {n.name!r}: "
                    "a dataset has one writer; rename one output"
                )
            writers[o] = n.name
    return out


def _toposort(nodes: list[Node]) -> list[Node]:
    """Stable topological order (declaration order among ready nodes); name any cycle."""
    producers = {o: n.name for n in nodes for o in n.outputs}
    deps = {n.name: {producers[i] for i in n.inputs if i in producers} for n in nodes}
    order, pending = stable_order([n.name for n in nodes], deps)
    if pending:
        raise PipelineError(f"the pipeline has a cycle: {_find_cycle(deps, pending)}")
    by_name = {n.name: n for n in nodes}
    return [by_name[name] for name in order]


def stable_order(keys: list[str], deps: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """Kahn's algorithm, ready keys leaving in the order given: (order, keys left in a cycle)."""
    index = {key: i for i, key in enumerate(keys)}
    waiting = {key: len(deps[key]) for key in keys}
    users: dict[str, list[str]] = {key: [] for key in keys}
    for key in keys:
        for dep in deps[key]:
            users[dep].append(key)
    ready = [index[key] for key in keys if waiting[key] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        key = keys[heapq.heappop(ready)]
        order.append(key)
        for user in users[key]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, index[user])
    return order, [key for key in keys if waiting[key] > 0]


def _find_cycle(deps: dict[str, set[str]], candidates: list[str]) -> str:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(deps[name]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for name in candidates:
        if name not in state:
            cycle = visit(name)
            if cycle:
                # deps point upstream: reverse to read in data-flow order
                return " -> ".join(reversed(cycle))
    return ", ".join(candidates)


def _unknown(what: str, name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
    listed = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
    return f"no {what} {name!r}{hint} (known: {listed or 'none'})"
