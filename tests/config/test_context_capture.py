"""The active config (use_config / active_config) and tane.capture."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from typing import Any

import pytest
from omegaconf import DictConfig, ListConfig, OmegaConf

from tane.config._capture import CaptureError, capture
from tane.config._context import active_config, use_config
from tane.errors import InvalidInput


@pytest.fixture(autouse=True)
def _fresh_context() -> Any:
    """Each test starts in a context that never entered use_config."""
    assert active_config() is None
    yield
    assert active_config() is None


def _in_thread(func: Any) -> Any:
    """Run ``func`` in a plain thread (empty context) and return its result."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(func()))
    thread.start()
    thread.join()
    return out[0]


# -- use_config / active_config --------------------------------------------------------


def test_use_config_sets_and_restores() -> None:
    cfg = OmegaConf.create({"a": 1})
    with use_config(cfg) as active:
        assert active is cfg
        assert active_config() is cfg
    assert active_config() is None


def test_use_config_accepts_a_mapping() -> None:
    with use_config({"a": {"b": 2}}) as cfg:
        assert isinstance(cfg, DictConfig)
        assert active_config() is cfg
        assert cfg.a.b == 2


def test_nesting_restores_the_outer_config() -> None:
    outer, inner = OmegaConf.create({"x": 1}), OmegaConf.create({"x": 2})
    with use_config(outer):
        with use_config(inner):
            assert active_config() is inner
            assert _in_thread(active_config) is inner
        assert active_config() is outer
        assert _in_thread(active_config) is outer
    assert active_config() is None


def test_exit_restores_even_when_the_block_raises() -> None:
    cfg = OmegaConf.create({"x": 1})
    with pytest.raises(RuntimeError), use_config(cfg):
        raise RuntimeError("boom")
    assert active_config() is None
    assert _in_thread(active_config) is None


def test_plain_threads_see_the_process_default() -> None:
    cfg = OmegaConf.create({"x": 1})
    with use_config(cfg):
        assert _in_thread(active_config) is cfg
    assert _in_thread(active_config) is None


def test_copied_contexts_keep_their_own_config() -> None:
    first, second = OmegaConf.create({"x": 1}), OmegaConf.create({"x": 2})
    with use_config(first):
        snapshot = contextvars.copy_context()
    with use_config(second):
        # The copy was taken inside `first`: it sees `first`, not the newer default.
        assert _in_thread(lambda: snapshot.run(active_config)) is first
        assert active_config() is second


def test_concurrent_asyncio_tasks_see_their_own_config() -> None:
    seen: dict[str, Any] = {}

    async def task(name: str, value: int) -> None:
        with use_config({"name": name, "value": value}) as cfg:
            await asyncio.sleep(0.01)  # let the other task enter its block
            seen[name] = active_config()
            assert active_config() is cfg

    async def main() -> None:
        await asyncio.gather(task("a", 1), task("b", 2))

    asyncio.run(main())
    assert seen["a"].name == "a"
    assert seen["b"].name == "b"


def test_a_context_that_left_its_block_does_not_see_another_threads_config() -> None:
    entered, release = threading.Event(), threading.Event()
    other = OmegaConf.create({"owner": "thread"})

    def hold() -> None:
        with use_config(other):
            entered.set()
            release.wait(5)

    def check() -> tuple[Any, Any]:
        before = active_config()  # a fresh context: falls back to the process default
        with use_config({"owner": "me"}):
            pass
        return before, active_config()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(5)
        before, after = contextvars.Context().run(check)
    finally:
        release.set()
        thread.join()
    assert before is other
    assert after is None


# -- capture: lookup ---------------------------------------------------------------------


@capture
def train(alpha: float, l1_ratio: float = 0.5, *, seed: int = 0) -> tuple[float, float, int]:
    """Train something."""
    return alpha, l1_ratio, seed


@capture(prefix="model")
def build(alpha: float, depth: int = 3) -> tuple[float, int]:
    return alpha, depth


@capture(prefix="model.optimizer")
def optimizer(lr: float, momentum: float = 0.9) -> tuple[float, float]:
    return lr, momentum


CFG = {
    "alpha": 0.1,
    "seed": 7,
    "model": {"alpha": 0.3, "optimizer": {"lr": 0.01}, "layers": [64, "${seed}"]},
}


def test_top_level_keys_fill_missing_parameters() -> None:
    with use_config(CFG):
        assert train() == (0.1, 0.5, 7)


def test_prefix_and_dotted_prefix() -> None:
    with use_config(CFG):
        assert build() == (0.3, 3)
        assert optimizer() == (0.01, 0.9)


def test_explicit_arguments_win() -> None:
    with use_config(CFG):
        assert train(1.0) == (1.0, 0.5, 7)
        assert train(alpha=2.0, seed=1) == (2.0, 0.5, 1)
        assert train(1.0, 0.2, seed=3) == (1.0, 0.2, 3)
        assert build(depth=9) == (0.3, 9)


def test_config_value_wins_over_default() -> None:
    with use_config({"alpha": 0.1, "l1_ratio": 0.9}):
        assert train() == (0.1, 0.9, 0)


def test_no_active_config_calls_as_normal() -> None:
    assert train(1.0) == (1.0, 0.5, 0)
    with pytest.raises(TypeError, match="alpha") as info:
        train()
    assert not isinstance(info.value, InvalidInput)  # Python's own error


def test_missing_key_error_names_function_parameter_and_key() -> None:
    with use_config({"model": {"depth": 2}}), pytest.raises(CaptureError) as info:
        build()
    message = str(info.value)
    assert "build()" in message
    assert "'alpha'" in message
    assert "model.alpha not in the config and no default" in message
    assert isinstance(info.value, InvalidInput)
    assert isinstance(info.value, TypeError)


def test_missing_prefix_node_uses_defaults_or_fails_clearly() -> None:
    with use_config({"other": 1}):
        assert optimizer(lr=0.5) == (0.5, 0.9)
        with pytest.raises(CaptureError, match=r"model\.optimizer\.lr not in the config"):
            optimizer()


def test_mandatory_value_is_an_error_even_with_a_default() -> None:
    with use_config({"alpha": 0.1, "l1_ratio": "???"}), pytest.raises(CaptureError) as info:
        train()
    assert "'l1_ratio' is missing (???)" in str(info.value)
    assert "l1_ratio=<value>" in str(info.value)


def test_prefix_that_is_not_a_mapping() -> None:
    with use_config({"model": 3}), pytest.raises(CaptureError, match="needs a mapping"):
        build()


def test_unresolvable_value_names_the_key() -> None:
    with use_config({"alpha": "${nope}"}), pytest.raises(CaptureError) as info:
        train()
    assert "'alpha'" in str(info.value)
    assert "cannot be resolved" in str(info.value)
    assert info.value.__cause__ is not None


def test_prefix_through_an_interpolation() -> None:
    with use_config({"base": {"alpha": 0.7}, "model": "${base}"}):
        assert build() == (0.7, 3)


def test_bad_prefix_is_refused_at_decoration() -> None:
    with pytest.raises(InvalidInput, match="not a config key"):
        capture(prefix="model..x")


# -- capture: values ------------------------------------------------------------------------


def test_containers_become_plain_python_with_interpolations_resolved() -> None:
    @capture(prefix="model")
    def layers_of(layers: list[int]) -> Any:
        return layers

    @capture
    def model_of(model: dict[str, Any]) -> Any:
        return model

    with use_config(CFG):
        got = layers_of()
        assert got == [64, 7]
        assert type(got) is list
        whole = model_of()
        assert type(whole) is dict
        assert whole["optimizer"] == {"lr": 0.01}


def test_parameters_annotated_dictconfig_get_the_container() -> None:
    @capture
    def model_of(model: DictConfig) -> Any:
        return model

    @capture(prefix="model")
    def layers_of(layers: ListConfig | None = None) -> Any:
        return layers

    with use_config(CFG) as cfg:
        got = model_of()
        assert isinstance(got, DictConfig)
        assert got is cfg.model
        assert isinstance(layers_of(), ListConfig)


def test_string_annotations_are_understood() -> None:
    def model_of(model: DictConfig) -> Any:
        return model

    model_of.__annotations__["model"] = "DictConfig"
    wrapped = capture(model_of)
    with use_config(CFG):
        assert isinstance(wrapped(), DictConfig)


def test_wraps_and_keeps_the_signature() -> None:
    def plain(alpha: float, l1_ratio: float = 0.5, *, seed: int = 0) -> tuple[float, float, int]:
        return alpha, l1_ratio, seed

    assert train.__name__ == "train"
    assert train.__doc__ == "Train something."
    assert inspect.signature(train) == inspect.signature(plain)


def test_positional_only_and_varargs_are_never_filled() -> None:
    @capture
    def f(a: int, /, b: int = 0, *args: int, **kwargs: int) -> Any:
        return a, b, args, kwargs

    with use_config({"a": 1, "b": 2, "args": 3, "kwargs": 4}):
        assert f(10) == (10, 2, (), {})
        with pytest.raises(TypeError):
            f()


# -- capture: methods, async, threads --------------------------------------------------------


class Trainer:
    def __init__(self, name: str) -> None:
        self.name = name

    @capture(prefix="model")
    def fit(self, alpha: float, depth: int = 1) -> tuple[str, float, int]:
        return self.name, alpha, depth

    @classmethod
    @capture
    def make(cls, seed: int) -> tuple[type, int]:
        return cls, seed

    @capture
    @staticmethod
    def helper(alpha: float) -> float:
        return alpha


def test_methods_classmethods_and_staticmethods() -> None:
    with use_config(CFG):
        assert Trainer("t").fit() == ("t", 0.3, 1)
        assert Trainer("t").fit(0.9, depth=2) == ("t", 0.9, 2)
        assert Trainer.make() == (Trainer, 7)
        assert Trainer.helper() == 0.1
        assert Trainer("t").helper() == 0.1


def test_coroutine_functions_stay_coroutine_functions() -> None:
    @capture
    async def step(alpha: float) -> float:
        await asyncio.sleep(0)
        return alpha

    assert inspect.iscoroutinefunction(step)
    with use_config(CFG):
        assert asyncio.run(step()) == 0.1


def test_captured_function_in_worker_threads() -> None:
    with use_config(CFG):
        results: list[Any] = []
        threads = [threading.Thread(target=lambda: results.append(build())) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [(0.3, 3)] * 4


def test_each_call_reads_the_config_active_at_call_time() -> None:
    with use_config({"model": {"alpha": 1.0}}):
        assert build() == (1.0, 3)
        with use_config({"model": {"alpha": 2.0}}):
            assert build() == (2.0, 3)
        assert build() == (1.0, 3)
