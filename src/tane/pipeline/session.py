"""A project's pipelines as tracked runs: where configs, catalog, pipelines and the store meet.

``tane run`` builds a :class:`PipelineApp`: a ``@tane.main`` app whose task
runs a pipeline. So a pipeline run is recorded like any configured script (the
composed config as params, ``config.yaml``, the overrides), accepts the same
overrides and ``-m`` multirun, and adds what only pipelines have: per node
status, duration and cache use (``pipeline.json``) and the lineage of every
dataset read and written.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import json
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tane.config._app import TaneApp
from tane.errors import DatasetError, InvalidInput, PipelineError
from tane.project import DEFAULT_STORE_DIR, PROJECT_FILE, find_project

if TYPE_CHECKING:
    from tane.config._compose import Composer
    from tane.pipeline.cache import NodeCache
    from tane.pipeline.catalog import DataCatalog
    from tane.pipeline.node import Node
    from tane.pipeline.pipeline import Pipeline
    from tane.pipeline.runner import NodeResult, PipelineResult

DEFAULT_PIPELINE = "__default__"
CATALOG_NAMES = ("catalog.yaml", "catalog.yml")
CREDENTIAL_NAMES = ("credentials.yaml", "credentials.yml")


class PipelineProject:
    """A project folder with pipelines: ``tane.yaml``, ``conf/``, ``src/<package>/``.

    Args:
        root: The folder holding ``tane.yaml``.
        settings: Its settings.
        env: For Kedro's layout, the environment laid over ``conf/base``
            (default ``local``).
    """

    def __init__(self, root: Path, settings: Mapping[str, Any], env: str | None = None) -> None:
        self.root = root
        self.settings = dict(settings)
        self.env = env
        self.name = str(self.settings.get("name") or root.name)
        self.package = str(self.settings.get("package") or self.name.replace("-", "_"))
        self.conf_dir = root / str(self.settings.get("conf", "conf"))
        self._pipelines: dict[str, Pipeline] | None = None
        src = root / "src"
        for path in (src, root):
            if path.is_dir() and str(path) not in sys.path:
                sys.path.insert(0, str(path))

    @classmethod
    def find(
        cls, start: str | os.PathLike[str] | None = None, env: str | None = None
    ) -> PipelineProject:
        """The project holding ``start`` (default: the cwd); raise if there is none."""
        project = find_project(start)
        if not project.has_file:
            raise InvalidInput(
                f"no {PROJECT_FILE} in {project.root} or above: run `tane new NAME` to start a "
                "project, or cd into one"
            )
        return cls(project.root, project.settings, env)

    # -- config ---------------------------------------------------------------------

    @property
    def kedro_layout(self) -> bool:
        """True when configs live in ``conf/base`` (Kedro) rather than ``conf/config.yaml``."""
        return (self.conf_dir / "base").is_dir() and not self._config_file().exists()

    def _config_file(self) -> Path:
        return self.conf_dir / f"{self.settings.get('config', 'config')}.yaml"

    def composer(self) -> Composer:
        """What composes this project's config (Hydra layout or Kedro's parameter files)."""
        from tane.config._compose import Composer

        if self.kedro_layout:
            from tane.config._params import params_composer

            if self.env and not (self.conf_dir / self.env).is_dir():
                raise InvalidInput(
                    f"--env {self.env}: there is no {self.conf_dir / self.env} folder"
                )
            return params_composer(self.conf_dir, self.env or "local", self.name)
        if self.env:
            raise InvalidInput(
                "--env selects a conf/<env> folder of Kedro's layout (conf/base + conf/local); "
                "this project composes conf/config.yaml: choose configs with overrides instead"
            )
        if not self._config_file().exists():
            return Composer(None, None, self.name)  # no config: params are empty
        name = str(self.settings.get("config", "config"))
        from tane.config._params import PlainComposer, plain_config

        if plain_config(self._config_file()):
            return PlainComposer(str(self.conf_dir), name, self.name)
        return Composer(str(self.conf_dir), name, self.name)

    # -- catalog ----------------------------------------------------------------------

    def _conf_files(self, names: Sequence[str], pattern: str) -> list[Path]:
        if self.kedro_layout:
            files: list[Path] = []
            for folder in ("base", self.env or "local"):
                files.extend(sorted((self.conf_dir / folder).glob(pattern)))
            return files
        return [self.conf_dir / n for n in names if (self.conf_dir / n).is_file()]

    def credentials(self) -> dict[str, Any]:
        """Credentials by name, from ``conf/local/credentials.yaml`` (never logged)."""
        from omegaconf import OmegaConf

        files = self._conf_files((), "credentials*.y*ml")
        if not self.kedro_layout:
            files = [
                self.conf_dir / "local" / n
                for n in CREDENTIAL_NAMES
                if (self.conf_dir / "local" / n).is_file()
            ]
        merged: Any = OmegaConf.create({})
        for path in files:
            loaded = _load_yaml(path)
            if loaded is not None:
                merged = OmegaConf.merge(merged, loaded)
        return OmegaConf.to_container(merged, resolve=True)  # type: ignore[return-value]

    def catalog_config(self, cfg: Any = None) -> dict[str, Any]:
        """The catalog entries, interpolated against the catalog and the composed config."""
        from omegaconf import OmegaConf

        merged: Any = OmegaConf.create({})
        for path in self._conf_files(CATALOG_NAMES, "catalog*.y*ml"):
            loaded = _load_yaml(path)
            if loaded is not None:
                merged = OmegaConf.merge(merged, loaded)
        for key, entry in merged.items():
            if not str(key).startswith("_") and not isinstance(entry, Mapping):
                raise InvalidInput(
                    f"catalog entry {key!r} must be a mapping with a type: (and a filepath:), "
                    f"got {type(entry).__name__} {entry!r}"
                )
        # The config only resolves ${...} in the catalog: a param named like a
        # dataset (`model:`) must never be merged into that dataset's entry.
        context = _plain(cfg) if cfg is not None else {}
        shared = {k: v for k, v in context.items() if k not in merged}
        root = OmegaConf.merge(OmegaConf.create(shared), merged)
        try:
            resolved = OmegaConf.to_container(root, resolve=True)
        except Exception as exc:
            text = str(exc).split("\n")[0]
            key = getattr(exc, "full_key", None)
            where = f" (in {key})" if key else ""
            raise InvalidInput(
                f"the catalog does not resolve: {text}{where}; interpolations may use the "
                "catalog's own keys, the config's top-level keys and ${oc.env:VAR}"
            ) from None
        assert isinstance(resolved, dict)
        return {
            str(k): v
            for k, v in resolved.items()
            if k in merged and not str(k).startswith("_") and isinstance(v, dict)
        }

    def catalog(self, cfg: Any = None) -> DataCatalog:
        """The project's DataCatalog; relative paths are relative to the project root."""
        from tane.pipeline.catalog import DataCatalog

        return DataCatalog.from_config(
            self.catalog_config(cfg), self.credentials(), base_dir=self.root
        )

    # -- pipelines ----------------------------------------------------------------------

    def pipelines(self) -> dict[str, Pipeline]:
        """Every registered pipeline by name, ``__default__`` included."""
        if self._pipelines is None:
            self._pipelines = self._load_pipelines()
        return self._pipelines

    def pipeline(self, name: str | None = None) -> Pipeline:
        name = name or DEFAULT_PIPELINE
        found = self.pipelines()
        if name not in found:
            near = difflib.get_close_matches(name, list(found), n=3)
            hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
            raise PipelineError(
                f"no pipeline {name!r}{hint} (this project has: {', '.join(found) or 'none'})"
            )
        return found[name]

    def _load_pipelines(self) -> dict[str, Pipeline]:
        from tane.pipeline.pipeline import Pipeline

        configured = self.settings.get("pipelines")
        found: dict[str, Pipeline] = {}
        if isinstance(configured, Mapping):
            refs = {str(k): v for k, v in configured.items()}
            for name, ref in refs.items():
                if isinstance(ref, str):
                    found[name] = _call_ref(ref, f"pipeline {name!r}")
        elif configured is not None:
            raise InvalidInput(
                f"{PROJECT_FILE}: pipelines: must map names to 'module:function' or to lists "
                f"of pipeline names, got {type(configured).__name__}"
            )
        else:
            refs = {}
        if not found:
            found.update(self._discovered())
        for name, ref in refs.items():
            if isinstance(ref, list):
                missing = [r for r in ref if r not in found]
                if missing:
                    raise InvalidInput(
                        f"{PROJECT_FILE}: pipeline {name!r} lists {missing}, which are not "
                        f"pipelines of this project ({', '.join(found) or 'none'})"
                    )
                found[name] = Pipeline([found[r] for r in ref])
        if DEFAULT_PIPELINE not in found and found:
            found[DEFAULT_PIPELINE] = Pipeline(list(found.values()))
        return found

    def _discovered(self) -> dict[str, Pipeline]:
        """Kedro's registry or ``src/<package>/pipelines/<name>/pipeline.py:create_pipeline``."""
        registry = self.root / "src" / self.package / "pipeline_registry.py"
        if registry.is_file():
            result = _call_ref(
                f"{self.package}.pipeline_registry:register_pipelines", "the pipeline registry"
            )
            if not isinstance(result, Mapping):
                raise PipelineError("register_pipelines() must return a dict of pipelines")
            return dict(result)
        folder = self.root / "src" / self.package / "pipelines"
        out: dict[str, Pipeline] = {}
        if folder.is_dir():
            for sub in sorted(folder.iterdir()):
                if (sub / "pipeline.py").is_file() and not sub.name.startswith(("_", ".")):
                    ref = f"{self.package}.pipelines.{sub.name}.pipeline:create_pipeline"
                    out[sub.name] = _call_ref(ref, f"pipeline {sub.name!r}")
        return out

    # -- cache ---------------------------------------------------------------------------

    def cache(self) -> NodeCache | None:
        """The node cache: ``cache/`` in the local store folder (``cache: false`` turns it off)."""
        from tane.pipeline.cache import DEFAULT_MAX_BYTES, NodeCache

        setting = self.settings.get("cache", {})
        if setting is False:
            return None
        options = setting if isinstance(setting, Mapping) else {}
        folder = os.environ.get("TANE_CACHE") or options.get("path")
        root = Path(folder) if folder else self.root / DEFAULT_STORE_DIR / "cache"
        if not root.is_absolute():
            root = self.root / root
        return NodeCache(
            root,
            max_bytes=_bytes(options.get("max_size"), DEFAULT_MAX_BYTES),
            store_memory=bool(options.get("memory", True)),
        )

    def scoped_dir(self, run_id: str) -> Path:
        """Where a side-by-side run (multirun job, sweep trial) writes its outputs."""
        return self.root / DEFAULT_STORE_DIR / "scoped" / run_id

    def hooks(self) -> Any:
        from tane.pipeline._nohooks import hooks_for

        return hooks_for(list(self.settings.get("hooks") or []))


def _call_ref(ref: str, what: str) -> Any:
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise InvalidInput(f"{what}: {ref!r} must look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PipelineError(f"{what}: cannot import {module_name} ({exc})") from exc
    except SyntaxError as exc:
        raise PipelineError(
            f"{what}: {exc.filename}, line {exc.lineno}: {exc.msg} (a syntax error in the "
            "project's code)"
        ) from None
    except Exception as exc:
        raise PipelineError(
            f"{what}: importing {module_name} raised {type(exc).__name__}: {exc}"
        ) from exc
    func = getattr(module, attr, None)
    if func is None:
        raise PipelineError(f"{what}: {module_name} has no {attr}")
    return func() if callable(func) else func


def _load_yaml(path: Path) -> Any:
    from omegaconf import OmegaConf

    try:
        return OmegaConf.load(path)
    except Exception as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from None


def _plain(cfg: Any) -> Any:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=False)
    return dict(cfg)


def _bytes(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().upper().replace("IB", "B")
    units = {"KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "B": 1}
    for unit, factor in units.items():
        if text.endswith(unit):
            try:
                return int(float(text[: -len(unit)]) * factor)
            except ValueError:
                break
    raise InvalidInput(f"cache max_size {value!r}: give bytes or a size like 2GB")


# -- the app ---------------------------------------------------------------------------


@dataclass
class RunOptions:
    """How ``tane run`` runs: which nodes, which runner, what it shows."""

    pipeline: str = DEFAULT_PIPELINE
    nodes: list[str] = field(default_factory=list)
    from_nodes: list[str] = field(default_factory=list)
    to_nodes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    namespace: str | None = None
    runner: str = "sequential"
    jobs: int | None = None
    use_cache: bool = True
    env: str | None = None
    progress: bool = True
    address: str | None = None  # the Ray cluster of the ray runner
    intermediates: str | None = None  # where memory datasets are kept between processes


class PipelineApp(TaneApp):
    """A project pipeline as a configured, tracked app (what ``tane run`` runs)."""

    def __init__(
        self,
        project: PipelineProject,
        options: RunOptions,
        experiment: str | None = None,
        observers: Sequence[Any] = (),
    ) -> None:
        super().__init__(self._task, None, None, project.name, experiment, None)
        self.project = project
        self.options = options
        self.composer = project.composer()
        self.extra_observers = list(observers)
        self.last_result: PipelineResult | None = None
        self._isolated = False
        self._overrides: list[str] = []
        self.entry = PipelineEntry(str(project.root), options, experiment)
        self._cluster: Any = None

    def selected(self) -> Pipeline:
        """The pipeline with ``--nodes``/``--from-nodes``/``--to-nodes``/``--tags`` applied."""
        o = self.options
        pipe = self.project.pipeline(o.pipeline)
        if o.nodes or o.from_nodes or o.to_nodes or o.tags or o.namespace:
            pipe = pipe.filter(
                tags=o.tags,
                from_nodes=o.from_nodes,
                to_nodes=o.to_nodes,
                node_names=o.nodes,
                namespace=o.namespace,
            )
        if not pipe.nodes:
            raise PipelineError(
                f"pipeline {o.pipeline!r} has no nodes yet: add node(...) calls to "
                f"create_pipeline() in src/{self.project.package}/pipelines/<name>/pipeline.py"
            )
        return pipe

    def run(
        self,
        overrides: Sequence[str],
        *,
        name: str | None = None,
        parent_id: str | None = None,
        store: str | None = None,
        extra_tags: dict[str, str] | None = None,
    ) -> tuple[Any, str]:
        """Run the pipeline once as a tracked run (a child run when ``parent_id`` is given)."""
        selected = self.selected()  # a bad pipeline or filter fails before any run is recorded
        if self.options.runner == "ray":
            from tane.project import resolve_store_uri

            cluster = self.cluster()
            cluster.check_store(resolve_store_uri(store))
            cluster.check_resources(selected.nodes)
        self._isolated = parent_id is not None
        self._overrides = list(overrides)
        tags = {
            "tane.kind": "pipeline",
            "tane.pipeline": self.options.pipeline,
            **(extra_tags or {}),
        }
        return super().run(overrides, name=name, parent_id=parent_id, store=store, extra_tags=tags)

    def cluster(self) -> Any:
        """The Ray cluster of the ray runner, connected on first use (see ``close``)."""
        if self._cluster is None:
            from tane.cluster import RayCluster

            ray_settings = self.project.settings.get("ray") or {}
            if not isinstance(ray_settings, Mapping):
                raise InvalidInput(
                    f"{PROJECT_FILE}: ray: must be a mapping (address:, runtime_env:)"
                )
            self._cluster = RayCluster.connect(
                self.options.address or ray_settings.get("address"),
                project_root=self.project.root,
                runtime_env=ray_settings.get("runtime_env"),
                num_cpus=self.options.jobs,
            )
        return self._cluster

    def close(self) -> None:
        """Disconnect from a Ray cluster this app connected to (shut it down if started here)."""
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def _task(self, cfg: Any) -> Any:
        import tane
        from tane.pipeline.runner import run

        active = tane.active_run()
        assert active is not None
        hooks = self.project.hooks()
        catalog = self.project.catalog(cfg)
        if self.options.intermediates:
            add_intermediates(
                catalog, self.project.pipeline(self.options.pipeline), self.options.intermediates
            )
        pipe = with_memory_producers(
            self.project.pipeline(self.options.pipeline), self.selected(), catalog
        )
        hooks.hook.after_catalog_created(catalog=catalog)
        cache = self.project.cache() if self.options.use_cache else None
        recorder = RunRecorder(active, pipe, self.options.pipeline, catalog)
        observers: list[Any] = [recorder, HookObserver(hooks, catalog, cfg, active.id)]
        observers += self.extra_observers
        setup = None
        if self.options.runner in ("process", "ray"):
            setup = functools.partial(_attach_worker, active.id, active.store.uri)
        hint = self._resume_command()
        hooks.hook.before_pipeline_run(
            run_params=self._run_params(active.id), pipeline=pipe, catalog=catalog
        )
        try:
            result = run(
                pipe,
                catalog,
                params=cfg,
                runner=self.options.runner,
                jobs=self.options.jobs,
                cache=cache,
                observers=observers,
                isolate=self.project.scoped_dir(active.id) if self._isolated else None,
                run_id=active.id,
                worker_setup=setup,
                resume_hint=hint,
                cluster=self.cluster() if self.options.runner == "ray" else None,
            )
        except BaseException as exc:
            hooks.hook.on_pipeline_error(
                error=exc, run_params=self._run_params(active.id), pipeline=pipe, catalog=catalog
            )
            raise
        self.last_result = result
        hooks.hook.after_pipeline_run(
            run_params=self._run_params(active.id),
            run_result=result.outputs,
            pipeline=pipe,
            catalog=catalog,
        )
        return None

    def _resume_command(self) -> str:
        """``tane run`` with this run's pipeline, environment, runner and overrides."""
        import shlex

        o = self.options
        parts = ["tane", "run"]
        if o.pipeline != DEFAULT_PIPELINE:
            parts += ["--pipeline", o.pipeline]
        if o.env:
            parts += ["--env", o.env]
        if o.runner != "sequential":
            parts += ["--runner", o.runner]
            if o.jobs:
                parts += ["--jobs", str(o.jobs)]
            if o.address:
                parts += ["--address", o.address]
        if o.intermediates:
            parts += ["--intermediates", o.intermediates]
        parts += list(self._overrides)
        return " ".join(shlex.quote(p) for p in parts)

    def _run_params(self, run_id: str) -> dict[str, Any]:
        o = self.options
        return {
            "run_id": run_id,
            "project_path": str(self.project.root),
            "env": o.env,
            "pipeline_name": o.pipeline,
            "node_names": o.nodes,
            "from_nodes": o.from_nodes,
            "to_nodes": o.to_nodes,
            "tags": o.tags,
            "runner": o.runner,
        }


def add_intermediates(catalog: DataCatalog, pipeline: Pipeline, url: str) -> list[str]:
    """Keep the pipeline's memory datasets as pickles under ``url`` (``--intermediates``).

    Each ``tane run --nodes ...`` of a scheduler's task (Airflow, Kubeflow) is
    its own process: what one node keeps in memory, the next reads from
    ``url/<dataset>.pkl``. Returns the names added.
    """
    from tane.pipeline.datasets import MemoryDataset
    from tane.pipeline.datasets.pickle import PickleDataset

    base = url.rstrip("/")
    added = []
    for name in sorted(pipeline.producers()):
        if name in catalog and not isinstance(catalog.get(name), MemoryDataset):
            continue
        catalog.add(name, PickleDataset(f"{base}/{name}.pkl"), replace=True)
        added.append(name)
    return added


def with_memory_producers(full: Pipeline, selected: Pipeline, catalog: DataCatalog) -> Pipeline:
    """``selected`` plus the nodes that make the memory datasets it reads.

    A filtered run (``--from-nodes train``) reads what nodes outside the
    filter keep in memory; those nodes join the run (usually from the cache)
    instead of the run failing for an input nobody provides.
    """
    from tane.pipeline.node import is_param
    from tane.pipeline.pipeline import Pipeline

    producers = full.producers()
    result = selected
    while True:
        missing = [
            producers[name]
            for name in sorted(result.inputs())
            if not is_param(name) and name not in catalog and name in producers
        ]
        if not missing:
            return result
        result = Pipeline([*missing, result])


def _attach_worker(run_id: str, store_uri: str) -> None:
    from tane.tracking.fluent import attach_run

    attach_run(run_id, store_uri)


@dataclass
class PipelineEntry:
    """What a multirun worker process unpickles to rebuild the app (see ``_execute``)."""

    root: str
    options: RunOptions
    experiment: str | None

    @property
    def tane_app(self) -> PipelineApp:
        key = (self.root, repr(self.options), self.experiment)
        with _APPS_LOCK:
            app = _APPS.get(key)
            if app is None:
                root = self.root
                if not Path(root).is_dir() and Path(PROJECT_FILE).is_file():
                    root = os.getcwd()  # a Ray worker elsewhere: the project is its working_dir
                project = PipelineProject.find(root, self.options.env)
                quiet = RunOptions(**{**vars(self.options), "progress": False})
                app = PipelineApp(project, quiet, self.experiment)
                _APPS[key] = app
        return app


_APPS: dict[tuple[str, str, str | None], PipelineApp] = {}
_APPS_LOCK = threading.Lock()


# -- observers ---------------------------------------------------------------------------


class RunRecorder:
    """Records a pipeline run: per node status and time, and the lineage, in the run."""

    def __init__(
        self, active: Any, pipeline: Pipeline, name: str, catalog: DataCatalog | None = None
    ) -> None:
        self.active = active
        self.pipeline = pipeline
        self.name = name
        self.catalog = catalog

    def pipeline_started(self, pipeline: Pipeline, total: int) -> None:
        return

    def node_started(self, node: Node, inputs: Mapping[str, Any] | None) -> None:
        return

    def node_finished(
        self, node: Node, result: NodeResult, outputs: Mapping[str, Any] | None
    ) -> None:
        if result.status == "cached":
            # The run that computed these outputs logged these metrics: so does this one.
            for key, value, step in result.metrics:
                self.active.log_metric(key, value, step)

    def node_failed(self, node: Node, error: BaseException, inputs: Mapping[str, Any]) -> None:
        return

    def _datasets(self) -> dict[str, dict[str, Any]]:
        """Each dataset's type and layer (for the DAG view's bands)."""
        if self.catalog is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for node in self.pipeline.nodes:
            for name in (*node.dataset_inputs, *node.outputs):
                if name in out:
                    continue
                try:
                    ds = self.catalog.get(name)
                except DatasetError:
                    continue
                out[name] = {"type": ds.kind, "layer": ds.layer}
        return out

    def pipeline_finished(self, result: PipelineResult) -> None:
        by_name = {r.name: r for r in result.nodes}
        graph = self.pipeline.to_json()
        for entry in graph["nodes"]:
            r = by_name.get(entry["name"])
            entry.update(
                status=r.status if r else "not run",
                duration=round(r.duration, 6) if r else 0.0,
                attempts=r.attempts if r else 0,
                cached=bool(r and r.status == "cached"),
                saved_duration=round(r.saved_duration, 6) if r else 0.0,
                error=r.error if r else None,
            )
        lineage = [vars(rec) for rec in result.lineage]
        doc = {
            "pipeline": self.name,
            "duration": round(result.duration, 6),
            "nodes": graph["nodes"],
            "edges": graph["edges"],
            "lineage": lineage,
            "datasets": self._datasets(),
        }
        self.active.log_bytes(json.dumps(doc, indent=1).encode("utf-8"), "pipeline.json")
        counts = {s: sum(1 for r in result.nodes if r.status == s) for s in ("ran", "cached")}
        self.active.set_tags(
            {
                "tane.nodes": str(len(self.pipeline.nodes)),
                "tane.nodes.ran": str(counts["ran"]),
                "tane.nodes.cached": str(counts["cached"]),
            }
        )


class HookObserver:
    """Calls the project's pluggy hooks (Kedro's names) as nodes run."""

    def __init__(self, hooks: Any, catalog: DataCatalog, cfg: Any, run_id: str) -> None:
        from tane.pipeline._nohooks import NoHooks

        self.hooks = hooks
        self.catalog = catalog
        self.run_id = run_id
        self.silent = isinstance(hooks, NoHooks)  # nothing to call, nothing to fetch

    def pipeline_started(self, pipeline: Pipeline, total: int) -> None:
        return

    def node_started(self, node: Node, inputs: Mapping[str, Any] | None) -> None:
        self.hooks.hook.before_node_run(
            node=node, catalog=self.catalog, inputs=dict(inputs or {}), run_id=self.run_id
        )

    def node_finished(
        self, node: Node, result: NodeResult, outputs: Mapping[str, Any] | None
    ) -> None:
        if self.silent:
            return  # not even Ray's memory outputs are fetched for nothing
        from tane.cluster import RayValue

        self.hooks.hook.after_node_run(
            node=node,
            catalog=self.catalog,
            outputs={
                k: v.fetch() if isinstance(v, RayValue) else v for k, v in (outputs or {}).items()
            },
            status=result.status,
            duration=result.duration,
            run_id=self.run_id,
        )

    def node_failed(self, node: Node, error: BaseException, inputs: Mapping[str, Any]) -> None:
        self.hooks.hook.on_node_error(
            error=error, node=node, catalog=self.catalog, inputs=dict(inputs), run_id=self.run_id
        )

    def pipeline_finished(self, result: PipelineResult) -> None:
        return


def run_project(
    overrides: Sequence[str] = (),
    *,
    options: RunOptions | None = None,
    start: str | os.PathLike[str] | None = None,
    experiment: str | None = None,
    observers: Sequence[Any] = (),
) -> tuple[PipelineResult | None, str]:
    """Run a project's pipeline as one tracked run; return its result and run id.

    The same as ``tane run`` without the console display, for notebooks and tests.
    """
    opts = options or RunOptions(progress=False)
    project = PipelineProject.find(start, opts.env)
    app = PipelineApp(project, opts, experiment, observers)
    try:
        _, run_id = app.run(list(overrides))
    finally:
        app.close()
    return app.last_result, run_id
