"""A background rebuild never stalls learning or serving, its model misses no event, and it
differs from an inline rebuild only in *when* the gate's decision takes effect.

The rebuild is held (its model waits before learning, see
:func:`~tests.strategies.streams.held_rebuild`) while the stream goes on, so that it is provably
running while events are learned and predictions answered; it is let go and waited for with
:meth:`~service.strategies.ModelManager.join_rebuild`. No sleep and no timing decides anything.
"""

from __future__ import annotations

from producer.scenarios import make_scenario
from service.config import Settings
from service.factory import build_learner
from service.learner import Learner
from tests.strategies.streams import held_rebuild, learn

# Abrupt change at 1,000: the online champion relearns slowly, a model rebuilt from the 400
# events before the request (all after the change) is far better, so the gate promotes it.
N, CHANGE, REQUEST = 1_800, 1_000, 1_400
HISTORY = 400
K = 200  # the shadow run, and the probation after a promotion
# Events learned while the rebuild is held: more than its shadow run, so that the background
# challenger catches up with a backlog longer than the run the gate judges it on.
HELD = 250
EVENTS = list(make_scenario("abrupt", n=N, position=CHANGE, seed=5))
PROBES = [x for x, _ in EVENTS[::90]]


def hybrid_learner(background: bool) -> Learner:
    """Hybrid, rebuilding only when asked (no schedule, no drift trigger, a metric floor of 0)."""
    return build_learner(
        Settings(
            model="tests.strategies.streams:held_logreg",
            seed=5,
            strategy="hybrid",
            rebuild_every=None,
            rebuild_on_drift=False,
            rebuild_metric_threshold=0.0,
            history_size=HISTORY,
            initial_events=200,
            shadow_events=K,
            rolling_window=K,
            rebuild_background=background,
        )
    )


def run_inline() -> tuple[Learner, list[float | None]]:
    learner = hybrid_learner(background=False)
    errors = learn(learner, EVENTS[:REQUEST])
    learner.request_rebuild()
    errors += learn(learner, EVENTS[REQUEST:], start=REQUEST)
    return learner, errors


def test_learning_and_predictions_go_on_while_a_background_rebuild_runs() -> None:
    learner = hybrid_learner(background=True)
    learn(learner, EVENTS[:REQUEST])
    learner.request_rebuild()
    try:
        with held_rebuild():
            learn(learner, EVENTS[REQUEST : REQUEST + 1], start=REQUEST)  # the rebuild starts
            for offset in range(REQUEST + 1, REQUEST + 1 + HELD):
                assert learner.strategy_stats()["rebuild_running"], offset
                learn(learner, EVENTS[offset : offset + 1], start=offset)
                assert learner.predict(EVENTS[0][0]).probabilities
            assert learner.strategy_stats()["rebuild_running"]
            assert learner.versions()[1] == []  # nothing decided while it is held
        assert learner.manager.join_rebuild(timeout=60)
        learn(learner, EVENTS[REQUEST + 1 + HELD :], start=REQUEST + 1 + HELD)
    finally:
        learner.close()
    values, stats = learner.values(), learner.strategy_stats()
    assert values.events_learned == stats["events_seen"] == N
    assert values.positions == {0: N}
    assert stats["cpu_seconds"]["rebuild"] > 0


def test_a_background_rebuild_is_judged_as_inline_and_misses_no_event() -> None:
    inline, inline_errors = run_inline()
    background = hybrid_learner(background=True)
    errors = learn(background, EVENTS[:REQUEST])
    background.request_rebuild()
    try:
        with held_rebuild():
            errors += learn(background, EVENTS[REQUEST : REQUEST + 1 + HELD], start=REQUEST)
        assert background.manager.join_rebuild(timeout=60)
        errors += learn(background, EVENTS[REQUEST + 1 + HELD :], start=REQUEST + 1 + HELD)
    finally:
        background.close()

    (early,), (late,) = inline.versions()[1], background.versions()[1]
    assert early.outcome == late.outcome == "promoted"
    # Judged on the same K events after its history, by the same champion: the same decision.
    same = ("shadow_events", "champion_score", "challenger_score", "statistic", "p_value", "test")
    assert [getattr(late, name) for name in same] == [getattr(early, name) for name in same]
    # Taken once the background challenger had caught up with everything learned meanwhile.
    assert early.seq == REQUEST + K
    assert late.seq > REQUEST + HELD
    # Each promoted model learned its history (offsets 1001..1400), then every later event up
    # to the one it was promoted at, once: the same coverage as the champion it replaced.
    for learner, decision in ((inline, early), (background, late)):
        version = learner.versions()[0][-1]
        assert version.id == decision.challenger_id == learner.model_version
        assert (version.first_offset, version.last_offset) == (REQUEST - HISTORY + 1, REQUEST)
        assert version.learned_to_offset == decision.offset
        assert version.events_learned == HISTORY + decision.offset - REQUEST

    # The two runs served the same model except between the two promotions (each takes effect
    # from the event after its decision), where one served the challenger and the other the old
    # champion: every other prediction is the same, so the prequential accuracies differ by what
    # those events alone make up, at most one right answer each.
    lag = range(early.seq + 1, late.seq + 1)
    assert [e for seq, e in enumerate(errors) if seq not in lag] == [
        e for seq, e in enumerate(inline_errors) if seq not in lag
    ]
    assert [background.predict(x) for x in PROBES] == [inline.predict(x) for x in PROBES]
    difference = sum(inline_errors[seq] - errors[seq] for seq in lag)  # type: ignore[operator]
    right = [round(learner.values().cumulative["accuracy"] * N) for learner in (background, inline)]
    assert right[0] - right[1] == difference
    assert abs(difference) <= len(lag)
