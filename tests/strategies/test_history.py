"""Training histories: bounded whatever the policy, decayed weights applied as River allows."""

from __future__ import annotations

import random

import pytest
from river import linear_model, naive_bayes

from service.models import build_model
from service.strategies import Labelled, StrategyConfigurationError, accepts_weight, make_history
from service.strategies.history import DECAY_HORIZON_HALF_LIVES
from service.strategies.rebuild import RebuildJob


def filled(name: str, n: int, **params: int):
    history = make_history(name, **params)  # type: ignore[arg-type]
    for seq in range(n):
        history.append(Labelled({"x": float(seq)}, seq % 2 == 0, offset=1_000 + seq, seq=seq))
    return history


@pytest.mark.parametrize(
    ("name", "params", "bound"),
    [
        ("all", {"cap": 500}, 500),
        ("window", {"size": 300}, 300),
        ("decay", {"half_life": 20, "cap": 10_000}, 20 * DECAY_HORIZON_HALF_LIVES),
        ("decay", {"half_life": 1_000, "cap": 250}, 250),
    ],
)
def test_every_policy_is_bounded(name: str, params: dict[str, int], bound: int) -> None:
    history = filled(name, 5_000, **params)
    assert len(history) == history.maxlen == bound
    assert [e.seq for e in history.snapshot()] == list(range(5_000 - bound, 5_000))
    assert [e.seq for e in history.snapshot(since_seq=4_990)] == list(range(4_990, 5_000))


def test_weights_halve_every_half_life_and_are_passed_as_w() -> None:
    history = filled("decay", 100, half_life=10)
    plan = list(history.plan(history.snapshot(), weighted=True, rng=random.Random(0)))
    weights = {event.seq: w for event, w in plan}
    assert weights[99] == 1.0
    assert weights[89] == pytest.approx(0.5)
    assert weights[79] == pytest.approx(0.25)

    seen: list[float] = []

    class Recording(linear_model.LogisticRegression):
        def learn_one(self, x, y, w=1.0):
            seen.append(w)
            super().learn_one(x, y, w)

    job = RebuildJob(
        2, "manual", Recording(), history.snapshot(), history,
        task="classification", rng=random.Random(0), since_seq=None,
    )  # fmt: skip
    job.run()
    assert seen == [w for _, w in plan]


def test_models_without_w_learn_a_seeded_weighted_sample() -> None:
    assert not accepts_weight(naive_bayes.GaussianNB())
    assert not accepts_weight(build_model("arf").estimator)  # takes **kwargs, ignores w
    assert accepts_weight(build_model("hoeffding").estimator)
    history = filled("decay", 2_000, half_life=100)

    def sample(seed: int) -> list[int]:
        plan = history.plan(history.snapshot(), weighted=False, rng=random.Random(seed))
        return [event.seq for event, w in plan if w is None]

    kept = sample(1)
    assert kept == sample(1)  # seeded
    assert kept != sample(2)
    recent = sum(1 for seq in kept if seq >= 1_900)  # weights 0.5 .. 1: about 72 of 100
    old = sum(1 for seq in kept if seq < 1_100)  # weights under 2**-8: almost none
    assert 55 <= recent <= 90 and old <= 5


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(StrategyConfigurationError):
        make_history("window", size=0)
    with pytest.raises(StrategyConfigurationError):
        make_history("decay", half_life=0)
    with pytest.raises(StrategyConfigurationError, match="unknown history"):
        make_history("forever")  # type: ignore[arg-type]


def test_a_rebuild_learns_each_history_event_once_in_order() -> None:
    history = filled("window", 50, size=20)
    order: list[float] = []

    class Recording(naive_bayes.GaussianNB):
        def learn_one(self, x, y):
            order.append(x["x"])
            super().learn_one(x, y)

    job = RebuildJob(
        3, "periodic", Recording(), history.snapshot(), history,
        task="classification", rng=random.Random(0), since_seq=None,
    )  # fmt: skip
    job.run()
    assert order == [float(seq) for seq in range(30, 50)]
    assert (job.first_offset, job.last_offset, job.learned) == (1_030, 1_049, 20)
