"""The model registry: River estimators by short name, or any factory by import path.

Every model a name builds is seeded, so two processes that read the same events end with
the same model. A scaled model standardises with :class:`FlooredStandardScaler`, River's
``StandardScaler`` except that a variance too small to divide by counts as none. Every
registry model takes string features: the trees and forests split on them as nominal values,
the others see them one-hot encoded by :class:`OneHotStrings`. A factory named by import path
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

from river import (
    base,
    dummy,
    ensemble,
    forest,
    linear_model,
    multiclass,
    naive_bayes,
    neighbors,
    preprocessing,
    stats,
    tree,
)
from river.base import Classifier, Regressor

from service.errors import ModelError

__all__ = [
    "MODEL_NAMES",
    "FlooredStandardScaler",
    "ModelSpec",
    "OneHotStrings",
    "Task",
    "build_model",
]

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


class OneHotStrings(base.Transformer):
    """Each string feature becomes a 0/1 feature ``name_value``; numbers and bools pass.

    What River's ``OneHotEncoder`` does for the string features, in front of models that need
    numbers, in one pass and without touching an all-numeric event (River's
    ``SelectType | OneHotEncoder`` union doubled a logistic regression's cost per event).

    Examples
    --------
    >>> OneHotStrings().transform_one({"x": 1.5, "colour": "red"})
    {'x': 1.5, 'colour_red': 1.0}
    """

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        return None

    def transform_one(self, x: dict[Hashable, Any]) -> dict[Hashable, Any]:
        if str not in map(type, x.values()):
            return x
        return {
            (f"{name}_{value}" if value.__class__ is str else name): (
                1.0 if value.__class__ is str else value
            )
            for name, value in x.items()
        }


def _scaled(model: base.Estimator) -> base.Estimator:
    """``model`` behind the one-hot encoding of strings and the floored standard scaler."""
    return OneHotStrings() | FlooredStandardScaler() | model


def _logreg(seed: int) -> base.Estimator:
    return _scaled(linear_model.LogisticRegression())


def _ovr(seed: int) -> base.Estimator:
    return _scaled(multiclass.OneVsRestClassifier(linear_model.LogisticRegression()))


def _pa(seed: int) -> base.Estimator:
    return _scaled(linear_model.PAClassifier())


def _alma(seed: int) -> base.Estimator:
    return _scaled(linear_model.ALMAClassifier())


def _hoeffding(seed: int) -> base.Estimator:
    return tree.HoeffdingTreeClassifier()


def _hat(seed: int) -> base.Estimator:
    return tree.HoeffdingAdaptiveTreeClassifier(seed=seed)


def _arf(seed: int) -> base.Estimator:
    return forest.ARFClassifier(n_models=_FOREST_SIZE, seed=seed)


def _amf(seed: int) -> base.Estimator:
    return OneHotStrings() | forest.AMFClassifier(n_estimators=_FOREST_SIZE, seed=seed)


def _srp(seed: int) -> base.Estimator:
    return ensemble.SRPClassifier(n_models=_FOREST_SIZE, seed=seed)


def _levbag(seed: int) -> base.Estimator:
    return ensemble.LeveragingBaggingClassifier(
        tree.HoeffdingTreeClassifier(), n_models=_FOREST_SIZE, seed=seed
    )


def _knn(seed: int) -> base.Estimator:
    return _scaled(neighbors.KNNClassifier())


def _nochange(seed: int) -> base.Estimator:
    return dummy.NoChangeClassifier()


def _gnb(seed: int) -> base.Estimator:
    return OneHotStrings() | naive_bayes.GaussianNB()


def _linreg(seed: int) -> base.Estimator:
    return _scaled(linear_model.LinearRegression())


def _pa_reg(seed: int) -> base.Estimator:
    return _scaled(linear_model.PARegressor())


def _hoeffding_reg(seed: int) -> base.Estimator:
    return _scaled(tree.HoeffdingTreeRegressor())


def _arf_reg(seed: int) -> base.Estimator:
    return _scaled(forest.ARFRegressor(n_models=_FOREST_SIZE, seed=seed))


def _amf_reg(seed: int) -> base.Estimator:
    return OneHotStrings() | forest.AMFRegressor(n_estimators=_FOREST_SIZE, seed=seed)


def _srp_reg(seed: int) -> base.Estimator:
    return _scaled(ensemble.SRPRegressor(n_models=_FOREST_SIZE, seed=seed))


def _knn_reg(seed: int) -> base.Estimator:
    return _scaled(neighbors.KNNRegressor())


def _nochange_reg(seed: int) -> base.Estimator:
    return dummy.StatisticRegressor(stats.Shift(1))


_REGISTRY: dict[str, Callable[[int], base.Estimator]] = {
    "logreg": _logreg,
    "ovr": _ovr,
    "pa": _pa,
    "alma": _alma,
    "hoeffding": _hoeffding,
    "hat": _hat,
    "arf": _arf,
    "amf": _amf,
    "srp": _srp,
    "levbag": _levbag,
    "knn": _knn,
    "nochange": _nochange,
    "gnb": _gnb,
    "linreg": _linreg,
    "pa_reg": _pa_reg,
    "hoeffding_reg": _hoeffding_reg,
    "arf_reg": _arf_reg,
    "amf_reg": _amf_reg,
    "srp_reg": _srp_reg,
    "knn_reg": _knn_reg,
    "nochange_reg": _nochange_reg,
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
