"""The model registry builds seeded River estimators by name or import path."""

from __future__ import annotations

import pytest
from river import linear_model

from service.errors import ModelError
from service.models import MODEL_NAMES, build_model


def custom_perceptron() -> linear_model.Perceptron:
    return linear_model.Perceptron()


def not_a_model() -> str:
    return "model"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_registered_name_builds_a_classifier_or_regressor(name: str) -> None:
    spec = build_model(name)
    assert spec.task in ("classification", "regression")
    assert spec.name == name


def test_the_skeleton_models_solve_the_documented_tasks() -> None:
    tasks = {name: build_model(name).task for name in ("logreg", "hoeffding", "hat", "arf", "gnb")}
    assert set(tasks.values()) == {"classification"}
    assert build_model("linreg").task == "regression"


def test_a_factory_by_import_path_is_called() -> None:
    spec = build_model("tests.service.test_models:custom_perceptron")
    assert isinstance(spec.estimator, linear_model.Perceptron)
    assert spec.task == "classification"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("forest-of-doom", "unknown model"),
        ("no.such.module:factory", "cannot import"),
        ("tests.service.test_models:missing", "does not name a callable"),
        ("tests.service.test_models:not_a_model", "not a River estimator"),
    ],
)
def test_bad_model_names_say_what_is_wrong(name: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        build_model(name)
