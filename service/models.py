"""The model registry: River estimators by short name, or any factory by import path.

Every model a name builds is seeded, so two processes that read the same events end with
the same model. A factory named by import path (``package.module:function``) is called with
no arguments and must return a River classifier or regressor.

Examples
--------
>>> spec = build_model("logreg", seed=42)
>>> spec.name, spec.task
('logreg', 'classification')
>>> build_model("linreg").task
'regression'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from river import base, forest, linear_model, naive_bayes, preprocessing, tree
from river.base import Classifier, Regressor

from service.errors import ModelError

__all__ = ["MODEL_NAMES", "ModelSpec", "Task", "build_model"]

Task = Literal["classification", "regression"]

# The number of trees in the forests: River's default, and what the performance notes measure.
_FOREST_SIZE = 10


def _logreg(seed: int) -> base.Estimator:
    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def _hoeffding(seed: int) -> base.Estimator:
    return tree.HoeffdingTreeClassifier()


def _hat(seed: int) -> base.Estimator:
    return tree.HoeffdingAdaptiveTreeClassifier(seed=seed)


def _arf(seed: int) -> base.Estimator:
    return forest.ARFClassifier(n_models=_FOREST_SIZE, seed=seed)


def _gnb(seed: int) -> base.Estimator:
    return naive_bayes.GaussianNB()


def _linreg(seed: int) -> base.Estimator:
    return preprocessing.StandardScaler() | linear_model.LinearRegression()


def _hoeffding_reg(seed: int) -> base.Estimator:
    return preprocessing.StandardScaler() | tree.HoeffdingTreeRegressor()


def _arf_reg(seed: int) -> base.Estimator:
    return preprocessing.StandardScaler() | forest.ARFRegressor(n_models=_FOREST_SIZE, seed=seed)


_REGISTRY: dict[str, Callable[[int], base.Estimator]] = {
    "logreg": _logreg,
    "hoeffding": _hoeffding,
    "hat": _hat,
    "arf": _arf,
    "gnb": _gnb,
    "linreg": _linreg,
    "hoeffding_reg": _hoeffding_reg,
    "arf_reg": _arf_reg,
}

MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


@dataclass(frozen=True)
class ModelSpec:
    """A freshly built model, with the name it was asked for and the task it solves."""

    name: str
    task: Task
    estimator: base.Estimator


def build_model(name: str, seed: int = 42) -> ModelSpec:
    """Build a fresh, untrained model from a registry name or a ``module:factory`` path."""
    if name in _REGISTRY:
        estimator = _REGISTRY[name](seed)
    elif ":" in name:
        estimator = _from_import_path(name)
    else:
        choices = ", ".join(MODEL_NAMES)
        raise ModelError(f"unknown model {name!r}: use one of {choices} or module:factory")
    if isinstance(estimator, Classifier):
        return ModelSpec(name, "classification", estimator)
    if isinstance(estimator, Regressor):
        return ModelSpec(name, "regression", estimator)
    raise ModelError(f"model {name!r} is neither a River classifier nor a regressor")


def _from_import_path(path: str) -> base.Estimator:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ModelError(f"cannot import {module_name!r} for model {path!r}: {error}") from error
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ModelError(f"{path!r} does not name a callable in {module_name!r}")
    estimator = factory()
    if not isinstance(estimator, base.Estimator):
        raise ModelError(f"{path!r} returned {type(estimator).__name__}, not a River estimator")
    return estimator
