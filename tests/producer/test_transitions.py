"""How a stream moves from one concept to the next."""

from __future__ import annotations

import itertools

import pytest
from river.datasets import synth as river_synth

from producer.transitions import probability_of_new_concept, switch


def test_width_one_is_an_exact_switch_at_the_position() -> None:
    probabilities = [probability_of_new_concept(i, position=10, width=1) for i in range(20)]

    assert probabilities == [0.0] * 10 + [1.0] * 10


@pytest.mark.parametrize("index", [0, 10**9])
def test_the_sigmoid_saturates_instead_of_overflowing(index: int) -> None:
    """River's ConceptDriftStream raises OverflowError here; 0 or 1 is the right answer."""
    assert probability_of_new_concept(index, position=5 * 10**8, width=1) in (0.0, 1.0)
    assert probability_of_new_concept(index, position=5 * 10**8, width=2) in (0.0, 1.0)


def test_the_sigmoid_is_rivers_centred_on_the_position() -> None:
    """River's curve, 1 / (1 + exp(-4 (t - p) / w)), with t counted from 0."""
    assert probability_of_new_concept(500, position=500, width=100) == 0.5
    assert probability_of_new_concept(550, position=500, width=100) == pytest.approx(0.8808, 1e-4)
    assert probability_of_new_concept(450, position=500, width=100) == pytest.approx(0.1192, 1e-3)


def test_rivers_concept_drift_stream_overflows_where_switch_does_not() -> None:
    """Why this module exists: if River fixes this, switch() could become a thin wrapper."""
    drifting = river_synth.ConceptDriftStream(
        river_synth.SEA(seed=1), river_synth.SEA(seed=2, variant=2), position=1000, width=1
    )
    with pytest.raises(OverflowError):
        next(iter(drifting))

    mixed = switch(
        river_synth.SEA(seed=1), river_synth.SEA(seed=2, variant=2), position=1000, seed=0
    )
    assert len(list(itertools.islice(mixed, 1100))) == 1100


def test_only_the_stream_taken_from_advances() -> None:
    mixed = switch(itertools.count(0), itertools.count(100), position=3, seed=0)

    assert list(itertools.islice(mixed, 6)) == [0, 1, 2, 100, 101, 102]


def test_a_gradual_switch_mixes_both_streams_around_the_position() -> None:
    mixed = list(
        switch(
            itertools.repeat("A", 2000),
            itertools.repeat("B", 2000),
            position=1000,
            width=400,
            seed=3,
        )
    )

    early, middle, late = mixed[:600], mixed[900:1100], mixed[1400:2000]
    assert early.count("B") < 0.05 * len(early)
    assert 0.3 < middle.count("B") / len(middle) < 0.7
    assert late.count("A") < 0.05 * len(late)


def test_the_mix_is_determined_by_the_seed() -> None:
    def mix(seed: int) -> list[str]:
        return list(switch("A" * 200, "B" * 200, position=100, width=50, seed=seed))

    assert mix(1) == mix(1)
    assert mix(1) != mix(2)


def test_the_mix_ends_when_the_stream_it_needs_is_exhausted() -> None:
    assert list(switch("AA", "BBBB", position=5, seed=0)) == ["A", "A"]
