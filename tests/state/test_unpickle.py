"""The unpickler's allow-list holds on its own: exact names, nothing reached through an attribute.

The signature is the first line of defence; these tests sign every payload with the right key,
as a holder of the key (or a leaked key) could, and check the allow-list alone stops it.
"""

from __future__ import annotations

import importlib
import itertools
import pickle
import random
import types
from pathlib import Path

import pytest
from river import datasets

from service.drift import DETECTORS
from service.drift.errors import DriftConfigurationError
from service.drift.watch import DriftConfig, DriftWatch
from service.events import Event
from service.learner import Learner
from service.models import MODEL_NAMES, build_model
from service.state.checkpoint import CheckpointError, CheckpointStore, pickle_state
from service.state.unpickle import ALLOWED_NAMES, MOVED, restricted_loads

KEY = b"a-test-key-of-32-bytes-exactly!!"
LISTED_MODULES = sorted({module for module, _ in ALLOWED_NAMES})


def _path_to_system(module: types.ModuleType) -> str | None:
    """A dotted name that plain pickle resolves from ``module`` to ``os.system``, if any."""
    import os

    queue: list[tuple[object, str]] = [(module, "")]
    seen = {id(module)}
    while queue:
        obj, path = queue.pop(0)
        if path.count(".") >= 3:
            continue
        for name, value in list(vars(obj).items()):
            if value is os:
                return f"{path}{name}.system"
            if isinstance(value, types.ModuleType) and id(value) not in seen:
                seen.add(id(value))
                queue.append((value, f"{path}{name}."))
    return None


def _stack_global_call(module: str, name: str, argument: str) -> bytes:
    """A pickle that looks ``module``/``name`` up with STACK_GLOBAL and calls it on ``argument``."""

    def string(text: str) -> bytes:
        raw = text.encode()
        return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw

    return (
        pickle.PROTO
        + bytes([4])
        + string(module)
        + string(name)
        + pickle.STACK_GLOBAL
        + string(argument)
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP
    )


@pytest.mark.parametrize("module", LISTED_MODULES)
def test_a_signed_dotted_name_through_a_listed_module_runs_nothing(
    module: str, tmp_path: Path
) -> None:
    path = _path_to_system(importlib.import_module(module)) or "os.system"
    marker = tmp_path / "pwned"
    payload = _stack_global_call(module, path, f"touch {marker}")
    store = CheckpointStore(tmp_path / "state", key=KEY)
    saved = store.save(payload, positions={0: 1}, events_learned=1)
    with pytest.raises(CheckpointError, match=r"not on the allow-list"):
        store.load(saved)
    assert not marker.exists()


def test_the_dotted_name_payloads_are_live_under_plain_pickle(tmp_path: Path) -> None:
    """The payloads above are real attacks: plain pickle runs them (so the refusals mean it)."""
    reachable = [
        (module, path)
        for module in LISTED_MODULES
        if (path := _path_to_system(importlib.import_module(module))) is not None
    ]
    assert len(reachable) >= 10
    for index, (module, path) in enumerate(reachable[:3]):
        marker = tmp_path / f"ran-{index}"
        pickle.loads(_stack_global_call(module, path, f"touch {marker}"))
        assert marker.exists()


def test_a_name_is_refused_unless_listed_exactly() -> None:
    assert ("service.learner", "Learner") in ALLOWED_NAMES
    for module, name in [
        ("service.learner", "Learner.__init__"),
        ("service.learner", "threading"),
        ("service", "learner"),
        ("river", "linear_model"),
        ("river.linear_model", "LogisticRegression"),  # a re-export, not where it is defined
        ("service.state.checkpoint", "os.system"),
    ]:
        with pytest.raises(pickle.UnpicklingError, match="not on the allow-list"):
            restricted_loads(_stack_global_call(module, name, "x"))


class _BoundMethodOf:
    def __init__(self, obj: object, name: str) -> None:
        self.obj, self.name = obj, name

    def __reduce__(self):
        return (getattr, (self.obj, self.name))


def test_getattr_reaches_only_the_listed_bound_methods() -> None:
    from river.drift import PageHinkley

    detector = PageHinkley(mode="both")
    restored = restricted_loads(pickle.dumps(_BoundMethodOf(detector, "_test_both")))
    assert restored.__func__ is PageHinkley._test_both
    for obj, name in [(detector, "update"), (detector, "__class__"), (PageHinkley, "_test_both")]:
        with pytest.raises(pickle.UnpicklingError, match="not on the allow-list"):
            restricted_loads(pickle.dumps(_BoundMethodOf(obj, name)))


class CustomState:
    """A class of a user's own factory model, not on the list."""

    def __init__(self, value: int) -> None:
        self.value = value


def test_a_custom_models_classes_are_refused_unless_named_in_the_setting(tmp_path: Path) -> None:
    payload = pickle_state(CustomState(3))
    name = (__name__, "CustomState")
    with pytest.raises(pickle.UnpicklingError, match=rf"{__name__}\.CustomState"):
        restricted_loads(payload)
    assert restricted_loads(payload, extra=[name]).value == 3
    store = CheckpointStore(tmp_path, key=KEY, allowed=[name])
    assert store.load(store.save(payload, {0: 1}, 1)).state.value == 3


def _stream(task: str, rng: random.Random) -> list[tuple[dict, object]]:
    """Numbers and, for models that take them, a colour the label depends on (trees split),
    and a feature that first appears after the drift watch's reference window was taken."""
    if task == "classification":
        rows = [(dict(x), y) for x, y in itertools.islice(datasets.Phishing(), 600)]
    else:
        rows = [(dict(x), y) for x, y in itertools.islice(datasets.TrumpApproval(), 600)]
    for index, (x, y) in enumerate(rows):
        x["colour"] = rng.choice("rgb") if not y else "r"
        if index >= 400:
            x["late"] = rng.random()
    return rows


def _learn(learner: Learner, rows: list[tuple[dict, object]]) -> None:
    for offset, (x, y) in enumerate(rows):
        learner.learn(Event(x, label=y), partition=0, offset=offset)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_the_list_holds_every_registry_model_with_every_detector_it_takes(model: str) -> None:
    task = build_model(model).task
    rows = _stream(task, random.Random(0))
    restored_any = False
    for detector in DETECTORS:
        try:
            drift = DriftWatch(DriftConfig(detector=detector, every=100, window=200), task)
        except DriftConfigurationError:
            continue  # a detector of 0/1 errors cannot watch a regressor
        learner = Learner.for_model(model, rolling_window=100, drift=drift)
        _learn(learner, rows)
        restored = restricted_loads(pickle_state(learner))
        assert restored.values() == learner.values()
        restored_any = True
    assert restored_any


def test_every_moved_name_is_read_as_a_listed_one() -> None:
    # A moved name is only a new spelling of an allowed class, never a way around the list.
    assert all(new in ALLOWED_NAMES for new in MOVED.values())
    assert not set(MOVED) & ALLOWED_NAMES
