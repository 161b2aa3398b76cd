"""Running pipelines: runners, caching, failures, retries and run-scoped outputs."""

from __future__ import annotations

import hashlib
import importlib
import json
import sqlite3
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tane.errors import PipelineError
from tane.pipeline import DataCatalog, Pipeline, node
from tane.pipeline.cache import NodeCache
from tane.pipeline.runner import NodeFailed, run

NODES = """
import json
from pathlib import Path

CALLS = Path(__file__).with_suffix(".calls")


def note(name):
    with CALLS.open("a") as fh:
        fh.write(name + "\\n")


def calls():
    return CALLS.read_text().split() if CALLS.exists() else []


def helper(x):
    return x * 2


def clean(rows, params):
    note("clean")
    return [helper(r) * params["scale"] for r in rows]


def total(values):
    note("total")
    return sum(values)


def describe(total, label):
    note("describe")
    return {"label": label, "total": total}


def flaky(values, attempts_file):
    note("flaky")
    path = Path(attempts_file)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    if count < 1:
        raise RuntimeError("transient")
    return len(values)


def threads(values):
    import os

    return os.environ.get("OMP_NUM_THREADS")


def broken(values):
    note("broken")
    raise ValueError("bad values")
"""


@pytest.fixture
def mod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Node functions in a real module (process workers import it by name)."""
    name = f"nodes_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / f"{name}.py").write_text(textwrap.dedent(NODES))
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


def make_pipeline(mod: ModuleType) -> Pipeline:
    return Pipeline(
        [
            node(mod.clean, ["raw", "params:prep"], "cleaned", name="clean"),
            node(mod.total, "cleaned", "sum", name="total"),
            node(mod.describe, ["sum", "params:label"], "report", name="describe"),
        ]
    )


def make_catalog(tmp_path: Path) -> DataCatalog:
    raw = tmp_path / "data" / "raw.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    if not raw.exists():
        raw.write_text("[1, 2, 3]")
    return DataCatalog.from_config(
        {
            "raw": {"type": "json.JSONDataset", "filepath": "data/raw.json"},
            "report": {"type": "json.JSONDataset", "filepath": "data/report.json"},
        },
        base_dir=tmp_path,
    )


def report(root: Path) -> dict:
    return json.loads((root / "data" / "report.json").read_text())


PARAMS = {"prep": {"scale": 10}, "label": "run"}


def test_a_pipeline_runs_in_order_and_saves_its_outputs(tmp_path: Path, mod: ModuleType) -> None:
    result = run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS)
    assert result.ran == ["clean", "total", "describe"]
    assert report(tmp_path) == {"label": "run", "total": 120}
    writes = {r.dataset: r for r in result.lineage if r.direction == "write"}
    assert writes["report"].node == "describe" and writes["report"].hash
    reads = [r for r in result.lineage if r.direction == "read" and r.dataset == "raw"]
    assert reads and reads[0].hash and reads[0].path.endswith("raw.json")


def test_free_memory_outputs_are_returned_and_nothing_is_needed_in_a_catalog(
    mod: ModuleType,
) -> None:
    pipe = Pipeline([node(mod.total, "values", "sum", name="total")])
    catalog = DataCatalog()
    from tane.pipeline.datasets import MemoryDataset

    catalog.add("values", MemoryDataset([1, 2, 3]))
    assert run(pipe, catalog).outputs == {"sum": 6}


def test_a_second_run_with_nothing_changed_is_all_cached(tmp_path: Path, mod: ModuleType) -> None:
    cache = NodeCache(tmp_path / "cache")
    run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    before = mod.calls()
    second = run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    assert second.cached == ["clean", "total", "describe"]
    assert mod.calls() == before


def test_changing_a_param_reruns_only_the_nodes_that_read_it_and_what_follows(
    tmp_path: Path, mod: ModuleType
) -> None:
    cache = NodeCache(tmp_path / "cache")
    run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    result = run(
        make_pipeline(mod),
        make_catalog(tmp_path),
        params={**PARAMS, "label": "renamed"},
        cache=cache,
    )
    assert result.cached == ["clean", "total"]
    assert result.ran == ["describe"]
    assert report(tmp_path)["label"] == "renamed"


def test_an_upstream_rerun_with_identical_output_leaves_downstream_cached(
    tmp_path: Path, mod: ModuleType
) -> None:
    cache = NodeCache(tmp_path / "cache")
    run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    # Same content written again: new mtime, same hash.
    (tmp_path / "data" / "raw.json").write_text("[1, 2, 3]")
    result = run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    assert result.cached == ["clean", "total", "describe"]
    (tmp_path / "data" / "raw.json").write_text("[1, 2, 4]")
    result = run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    assert result.ran == ["clean", "total", "describe"]


def test_editing_a_helper_reruns_the_node_that_calls_it(tmp_path: Path, mod: ModuleType) -> None:
    cache = NodeCache(tmp_path / "cache")
    run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    path = Path(mod.__file__)
    path.write_text(path.read_text().replace("return x * 2", "return x * 3"))
    from tane.pipeline import _fingerprint

    _fingerprint._memo.clear()
    reloaded = importlib.reload(mod)
    result = run(make_pipeline(reloaded), make_catalog(tmp_path), params=PARAMS, cache=cache)
    assert result.ran == ["clean", "total", "describe"]
    assert report(tmp_path)["total"] == 180


def test_a_deleted_output_or_a_corrupt_cache_means_recompute_never_a_wrong_output(
    tmp_path: Path, mod: ModuleType
) -> None:
    cache = NodeCache(tmp_path / "cache")
    run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    (tmp_path / "data" / "report.json").unlink()
    result = run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    assert result.ran == ["describe"]
    assert (tmp_path / "data" / "report.json").exists()
    index = sqlite3.connect(tmp_path / "cache" / "index.db")
    with index:
        index.execute("UPDATE entries SET data = '{not json'")
        index.execute("UPDATE objects SET data = x'00'")
    index.close()
    result = run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    assert result.ran == ["clean", "total", "describe"]
    # Objects damaged after an entry was written are detected when loaded.
    index = sqlite3.connect(tmp_path / "cache" / "index.db")
    with index:
        index.execute("UPDATE objects SET data = x'00'")
    index.close()
    result = run(
        make_pipeline(mod),
        make_catalog(tmp_path),
        params={**PARAMS, "label": "again"},
        cache=cache,
    )
    assert report(tmp_path) == {"label": "again", "total": 120}


def test_retries_repeat_a_failing_node(tmp_path: Path, mod: ModuleType) -> None:
    attempts = tmp_path / "attempts"
    pipe = Pipeline([node(mod.flaky, ["values", "params:file"], "n", name="flaky", retries=2)])
    catalog = DataCatalog()
    from tane.pipeline.datasets import MemoryDataset

    catalog.add("values", MemoryDataset([1, 2]))
    result = run(pipe, catalog, params={"file": str(attempts)})
    assert result.outputs == {"n": 2}
    assert result.nodes[0].attempts == 2


def test_a_failure_names_the_node_its_inputs_and_how_to_resume(
    tmp_path: Path, mod: ModuleType
) -> None:
    pipe = Pipeline(
        [
            node(mod.clean, ["raw", "params:prep"], "cleaned", name="clean"),
            node(mod.broken, "cleaned", "never", name="broken"),
        ]
    )
    with pytest.raises(NodeFailed) as info:
        run(pipe, make_catalog(tmp_path), params=PARAMS, resume_hint="tane run -p demo")
    text = str(info.value)
    assert "node 'broken' failed: ValueError: bad values" in text
    assert "cleaned (list of 3)" in text
    assert "tane run -p demo --from-nodes broken" in text
    assert info.value.node == "broken"


def test_an_input_nobody_provides_is_named_before_anything_runs(
    tmp_path: Path, mod: ModuleType
) -> None:
    pipe = Pipeline([node(mod.total, "raww", "sum", name="total")])
    with pytest.raises(PipelineError, match="input 'raww' of node 'total'.*did you mean 'raw'"):
        run(pipe, make_catalog(tmp_path))
    assert mod.calls() == []


def test_a_missing_param_is_named(tmp_path: Path, mod: ModuleType) -> None:
    with pytest.raises(PipelineError, match="parameter 'params:prep'.*no 'prep'"):
        run(make_pipeline(mod), make_catalog(tmp_path), params={"label": "x"})


@pytest.mark.parametrize("runner", ["thread", "process"])
def test_parallel_runners_give_the_same_results_and_use_the_cache(
    tmp_path: Path, mod: ModuleType, runner: str
) -> None:
    cache = NodeCache(tmp_path / "cache")
    fan = Pipeline(
        [node(mod.total, "values", f"sum{i}", name=f"total{i}") for i in range(6)]
        + [node(mod.describe, ["sum0", "params:label"], "report", name="describe")]
    )
    from tane.pipeline.datasets import MemoryDataset

    def catalog() -> DataCatalog:
        cat = make_catalog(tmp_path)
        cat.add("values", MemoryDataset([1, 2, 3]))
        return cat

    result = run(fan, catalog(), params=PARAMS, runner=runner, jobs=2, cache=cache)
    assert sorted(result.ran) == sorted([f"total{i}" for i in range(6)] + ["describe"])
    assert result.outputs == {f"sum{i}": 6 for i in range(1, 6)}
    assert report(tmp_path)["total"] == 6
    again = run(fan, catalog(), params=PARAMS, runner=runner, jobs=2, cache=cache)
    assert len(again.cached) == 7
    assert again.outputs == result.outputs


def test_isolated_runs_write_to_their_own_folder_and_leave_the_catalog_paths_alone(
    tmp_path: Path, mod: ModuleType
) -> None:
    cache = NodeCache(tmp_path / "cache")
    scoped = tmp_path / "scoped" / "run1"
    run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache, isolate=scoped)
    assert not (tmp_path / "data" / "report.json").exists()
    written = list(scoped.rglob("report.json"))
    assert len(written) == 1
    # An ordinary run afterwards takes the cached result and puts it where the catalog says.
    result = run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    assert result.cached == ["clean", "total", "describe"]
    assert (tmp_path / "data" / "report.json").read_text() == written[0].read_text()


def test_unpicklable_memory_outputs_run_again_when_needed(tmp_path: Path) -> None:
    import threading

    def make_lock(x):
        return threading.Lock()

    def use(lock, x):
        return x

    pipe = Pipeline(
        [node(make_lock, "x", "lock", name="make"), node(use, ["lock", "x"], "y", name="use")]
    )
    from tane.pipeline.datasets import MemoryDataset

    cache = NodeCache(tmp_path / "cache")
    cat = DataCatalog()
    cat.add("x", MemoryDataset(1))
    first = run(pipe, cat, cache=cache)
    second = run(pipe, cat, cache=cache)
    assert first.outputs == second.outputs == {"y": 1}
    assert second.ran == ["make", "use"]


def test_process_workers_share_the_cores_among_native_thread_pools(
    mod: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    from tane.pipeline.datasets import MemoryDataset

    cat = DataCatalog()
    cat.add("values", MemoryDataset([1]))
    pipe = Pipeline([node(mod.threads, "values", "n", name="threads")])
    result = run(pipe, cat, runner="process", jobs=2)
    assert result.outputs == {"n": str(max(1, (os.cpu_count() or 1) // 2))}


@pytest.mark.parametrize("keep", [True, False])
def test_memory_outputs_are_made_again_only_when_a_node_that_runs_needs_them(
    tmp_path: Path, mod: ModuleType, keep: bool
) -> None:
    cache = NodeCache(tmp_path / "cache")
    pipe = Pipeline(
        [
            node(mod.clean, ["raw", "params:prep"], "cleaned", name="clean", cache_memory=keep),
            node(mod.total, "cleaned", "sum", name="total"),
            node(mod.describe, ["sum", "params:label"], "report", name="describe"),
        ]
    )
    run(pipe, make_catalog(tmp_path), params=PARAMS, cache=cache)
    assert run(pipe, make_catalog(tmp_path), params=PARAMS, cache=cache).ran == []
    calls = len(mod.calls())
    # `total` must run (its code changed): it needs `cleaned`, kept or made again.
    changed = Pipeline(
        [
            node(mod.clean, ["raw", "params:prep"], "cleaned", name="clean", cache_memory=keep),
            node(mod.helper, "cleaned", "sum", name="total"),
            node(mod.describe, ["sum", "params:label"], "report", name="describe"),
        ]
    )
    result = run(changed, make_catalog(tmp_path), params=PARAMS, cache=cache)
    assert result.ran == ["total", "describe"]
    assert result.cached == ["clean"]
    made_again = mod.calls()[calls:].count("clean")
    assert made_again == (0 if keep else 1)
    assert report(tmp_path)["total"] == [20, 40, 60, 20, 40, 60]


HELD = """
import re
from datetime import timedelta


class Coder:
    def codes(self, values):
        return sorted(values)


CODER = Coder()
PATTERN = re.compile(r"1")
SHIFT = timedelta(days=1)


def use(values):
    return [CODER.codes(values), bool(PATTERN.search("1")), SHIFT.days]
"""

RELATIVE = """
def use(values):
    from .helpers import bump

    return bump(values)
"""


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> str:
    name = f"pkg_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "code" / name
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    for file, text in files.items():
        (root / file).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    return name


def _rerun_after_edit(tmp_path: Path, module: str, edit: Callable[[], None]) -> list[str]:
    from tane.pipeline import _fingerprint
    from tane.pipeline.datasets import MemoryDataset

    cache = NodeCache(tmp_path / "cache")

    def once() -> list[str]:
        _fingerprint._memo.clear()
        for name in [m for m in sys.modules if m.startswith(module.split(".", maxsplit=1)[0])]:
            del sys.modules[name]
        mod = importlib.import_module(module)
        cat = DataCatalog()
        cat.add("values", MemoryDataset([3, 1, 2]))
        return run(Pipeline([node(mod.use, "values", "out", name="use")]), cat, cache=cache).ran

    assert once() == ["use"]
    assert once() == []
    edit()
    return once()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("return sorted(values)", "return sorted(values, reverse=True)"),
        ('re.compile(r"1")', 're.compile(r"9")'),
        ("timedelta(days=1)", "timedelta(days=7)"),
    ],
)
def test_objects_the_code_holds_count_by_their_class_and_their_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    pkg = _package(tmp_path, monkeypatch, {"nodes.py": HELD})
    path = tmp_path / "code" / pkg / "nodes.py"
    ran = _rerun_after_edit(
        tmp_path, f"{pkg}.nodes", lambda: path.write_text(path.read_text().replace(old, new))
    )
    assert ran == ["use"]


def test_a_relative_import_inside_a_node_counts_the_imported_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = _package(
        tmp_path,
        monkeypatch,
        {"nodes.py": RELATIVE, "helpers.py": "def bump(v):\n    return [x + 1 for x in v]\n"},
    )
    helpers = tmp_path / "code" / pkg / "helpers.py"
    ran = _rerun_after_edit(
        tmp_path, f"{pkg}.nodes", lambda: helpers.write_text(helpers.read_text().replace("1", "99"))
    )
    assert ran == ["use"]


def test_an_input_rewritten_while_a_node_reads_it_is_not_cached_under_the_old_hash(
    tmp_path: Path, mod: ModuleType
) -> None:
    target = tmp_path / "data" / "v.json"

    def writer(k):
        return {"k": k}

    def meddler(v):
        target.write_text('{"k": 999}')  # another process, in effect
        return 1

    def reader(v, tick):
        return {"read": v["k"]}

    pipe = Pipeline(
        [
            node(writer, "params:k", "v", name="writer"),
            node(meddler, "v", "tick", name="meddler"),
            node(reader, ["v", "tick"], "out", name="reader"),
        ]
    )

    def catalog() -> DataCatalog:
        return DataCatalog.from_config(
            {
                "v": {"type": "json.JSONDataset", "filepath": "data/v.json"},
                "out": {"type": "json.JSONDataset", "filepath": "data/out.json"},
            },
            base_dir=tmp_path,
        )

    cache = NodeCache(tmp_path / "cache")
    run(pipe, catalog(), params={"k": 1}, cache=cache)
    second = run(pipe, catalog(), params={"k": 1}, cache=cache)
    assert "reader" in second.ran  # never taken from a cache entry keyed on k=1's bytes


def test_versioned_outputs_are_read_at_the_version_the_cached_run_wrote(
    tmp_path: Path, mod: ModuleType
) -> None:
    def make(k):
        return {"k": k}

    def use(model):
        return model["k"]

    pipe = Pipeline(
        [node(make, "params:k", "model", name="make"), node(use, "model", "used", name="use")]
    )

    def catalog() -> DataCatalog:
        return DataCatalog.from_config(
            {"model": {"type": "json.JSONDataset", "filepath": "data/m.json", "versioned": True}},
            base_dir=tmp_path,
        )

    cache = NodeCache(tmp_path / "cache")
    assert run(pipe, catalog(), params={"k": 1}, cache=cache).outputs == {"used": 1}
    assert run(pipe, catalog(), params={"k": 2}, cache=cache).outputs == {"used": 2}
    back = run(pipe, catalog(), params={"k": 1}, cache=cache)
    assert back.cached == ["make", "use"]  # version 1 still exists: nothing to redo
    again = run(pipe, catalog(), params={"k": 1}, cache=cache, reuse=False)
    assert again.outputs == {"used": 1}
    reads = [r for r in again.lineage if r.direction == "read" and r.dataset == "model"]
    writes = [r for r in again.lineage if r.direction == "write" and r.dataset == "model"]
    assert reads[0].version == writes[0].version  # read what this run wrote


def test_the_process_runner_refuses_functions_it_cannot_send_before_running(
    mod: ModuleType,
) -> None:
    from tane.pipeline.datasets import MemoryDataset

    cat = DataCatalog()
    cat.add("values", MemoryDataset([1]))
    pipe = Pipeline([node(lambda v: v, "values", "out", name="anon")])
    with pytest.raises(PipelineError, match="define it at module level, or use --runner thread"):
        run(pipe, cat, runner="process", jobs=2)


def test_a_damaged_index_is_set_aside_and_the_pipeline_recomputes(
    tmp_path: Path, mod: ModuleType
) -> None:
    cache = NodeCache(tmp_path / "cache")
    run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=cache)
    cache.close()
    (tmp_path / "cache" / "index.db").write_bytes(b"this is not a database" * 100)
    for extra in (tmp_path / "cache").glob("index.db-*"):
        extra.unlink()
    fresh = NodeCache(tmp_path / "cache")
    result = run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=fresh)
    assert result.ran == ["clean", "total", "describe"]
    assert report(tmp_path) == {"label": "run", "total": 120}
    assert list((tmp_path / "cache").glob("index.db.damaged-*"))
    assert run(make_pipeline(mod), make_catalog(tmp_path), params=PARAMS, cache=fresh).ran == []


def test_memory_objects_over_the_size_limit_are_trimmed_oldest_first(tmp_path: Path) -> None:
    cache = NodeCache(tmp_path / "cache", max_bytes=4000)
    digests = []
    for i in range(6):
        data = bytes([i]) * 900
        digest = hashlib.sha256(data).hexdigest()
        cache.put_object(digest, data)
        cache.flush()
        digests.append(digest)
    kept = [d for d in digests if cache.has_object(d)]
    assert kept == digests[-len(kept) :] and 3 <= len(kept) <= 4
