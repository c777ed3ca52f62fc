"""Kappa and kappa-temporal: a model that only repeats the last label is no better than the
no-change classifier, however accurate it looks on a stream whose labels come in runs."""

from __future__ import annotations

import random

import pytest
from river import metrics

from service.prequential import Prequential


def runs_of_labels(n: int, seed: int = 1) -> list[bool]:
    """Labels in long runs: the next one is the previous one 95% of the time."""
    rng = random.Random(seed)
    labels, label = [], True
    for _ in range(n):
        if rng.random() < 0.05:
            label = not label
        labels.append(label)
    return labels


def test_repeating_the_last_label_is_accurate_yet_no_better_than_no_change() -> None:
    labels = runs_of_labels(5_000)
    evaluation = Prequential("classification", window=500)
    previous = True
    for y in labels:
        evaluation.score(y, {previous: 0.9, not previous: 0.1})
        previous = y
    assert evaluation.cumulative_values()["accuracy"] > 0.9
    agreement = evaluation.agreement_values()
    assert agreement["kappa"] > 0.8  # chance agreement does not see the runs...
    # ...no-change does (they differ on the first event only, which no-change cannot predict)
    assert agreement["kappa_temporal"] == pytest.approx(0.0, abs=0.01)
    assert agreement["rolling_kappa_temporal"] == pytest.approx(0.0, abs=1e-2)


def test_kappa_is_rivers_cohen_kappa_over_the_same_predictions() -> None:
    rng = random.Random(2)
    evaluation, river_kappa = Prequential("classification", window=50), metrics.CohenKappa()
    for _ in range(2_000):
        y, p = rng.random() < 0.6, rng.random() < 0.3
        answer = {True: 0.8, False: 0.2} if p else {False: 0.7, True: 0.3}
        predicted, _ = evaluation.score(y, answer)
        river_kappa.update(y, predicted)
    assert evaluation.agreement_values()["kappa"] == pytest.approx(river_kappa.get(), abs=1e-12)


def test_a_regressor_has_no_agreement_to_report() -> None:
    evaluation = Prequential("regression", window=10)
    evaluation.score(1.0, 0.5)
    assert evaluation.agreement_values() == {}
