"""The model registry: River estimators by short name, or any factory by import path.

Every model a name builds is seeded, so two processes that read the same events end with
the same model. A scaled model standardises with :class:`FlooredStandardScaler`, River's
``StandardScaler`` except that a variance too small to divide by counts as none. Each spec
says whether its model takes string features (:attr:`ModelSpec.numeric_only`), so an event it
cannot learn is refused before anything learns from it. A factory named by import path
(``package.module:function``) is called with no arguments and must return a River classifier
or regressor.

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
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

from river import base, forest, linear_model, naive_bayes, preprocessing, tree
from river.base import Classifier, Regressor

from service.errors import ModelError

__all__ = ["MODEL_NAMES", "FlooredStandardScaler", "ModelSpec", "Task", "build_model"]

Task = Literal["classification", "regression"]

# The number of trees in the forests: River's default, and what the performance notes measure.
_FOREST_SIZE = 10
# Below this variance a feature counts as constant. River divides by any non-zero variance,
# and one of 1e-320 (two events that differ by 1e-160) makes the next ordinary value a
# standardised 1e160, whose square overflows in the trees and metrics downstream. With event
# numbers bounded by 1e15 (service.events) a standardised value stays below 1e115.
MIN_VARIANCE = 1e-200


class FlooredStandardScaler(preprocessing.StandardScaler):
    """River's ``StandardScaler`` with a variance below :data:`MIN_VARIANCE` taken as zero.

    Examples
    --------
    >>> scaler = FlooredStandardScaler()
    >>> for x in (0.0, 1e-160):
    ...     scaler.learn_one({"x": x})
    >>> scaler.transform_one({"x": 1.0})
    {'x': 0.0}
    """

    def transform_one(self, x: dict[Hashable, Any]) -> dict[Hashable, Any]:
        if self.window_size is not None or not self.with_std:
            return super().transform_one(x)
        means, variances = self.means, self.vars
        result = {}
        for i, xi in x.items():
            variance = variances[i]
            result[i] = (xi - means[i]) / variance**0.5 if variance > MIN_VARIANCE else 0.0
        return result


def _logreg(seed: int) -> base.Estimator:
    return FlooredStandardScaler() | linear_model.LogisticRegression()


def _hoeffding(seed: int) -> base.Estimator:
    return tree.HoeffdingTreeClassifier()


def _hat(seed: int) -> base.Estimator:
    return tree.HoeffdingAdaptiveTreeClassifier(seed=seed)


def _arf(seed: int) -> base.Estimator:
    return forest.ARFClassifier(n_models=_FOREST_SIZE, seed=seed)


def _gnb(seed: int) -> base.Estimator:
    return naive_bayes.GaussianNB()


def _linreg(seed: int) -> base.Estimator:
    return FlooredStandardScaler() | linear_model.LinearRegression()


def _hoeffding_reg(seed: int) -> base.Estimator:
    return FlooredStandardScaler() | tree.HoeffdingTreeRegressor()


def _arf_reg(seed: int) -> base.Estimator:
    return FlooredStandardScaler() | forest.ARFRegressor(n_models=_FOREST_SIZE, seed=seed)


# The registry models that cannot take a string feature (a scaler or a Gaussian in front):
# the trees split on strings as nominal values, the others raise half-way through learn_one.
_NUMERIC_ONLY = frozenset({"logreg", "gnb", "linreg", "hoeffding_reg", "arf_reg"})

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
    numeric_only: bool = False
    """The model cannot learn a string feature (unknown for a factory: ``False``)."""


def build_model(name: str, seed: int = 42) -> ModelSpec:
    """Build a fresh, untrained model from a registry name or a ``module:factory`` path."""
    if name in _REGISTRY:
        estimator = _REGISTRY[name](seed)
    elif ":" in name:
        estimator = _from_import_path(name)
    else:
        choices = ", ".join(MODEL_NAMES)
        raise ModelError(f"unknown model {name!r}: use one of {choices} or module:factory")
    numeric_only = name in _NUMERIC_ONLY
    if isinstance(estimator, Classifier):
        return ModelSpec(name, "classification", estimator, numeric_only)
    if isinstance(estimator, Regressor):
        return ModelSpec(name, "regression", estimator, numeric_only)
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
