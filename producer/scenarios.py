"""Drift scenarios with known ground truth, for measuring drift detectors and strategies.

Every scenario streams the same kind of event: five independent standard-normal features
``x0`` .. ``x4`` and a bool label from a linear concept, a hyperplane through the origin, with
5% of labels flipped at random. What changes, and where, is the only difference between
scenarios, and it is known exactly: :attr:`Scenario.change_points`,
:attr:`Scenario.concept_changes` and :attr:`Scenario.shifted_features` are the answers a
detector benchmark scores against.

Why this concept. A logistic regression can learn it almost perfectly in a few hundred events,
so a model's error before a change is low and steady (the label noise, plus a little). The two
concepts, :data:`CONCEPT_A` and :data:`CONCEPT_B`, have orthogonal weights, so after a switch
the old model agrees with the new labels only half the time: its error jumps from about 5% to
about 40% and decays as it relearns. That is a clear signal without being a caricature (a sign
flip would be detected by anything). Neither concept reads ``x4``: a model must learn to ignore
it.

Concept drift and data drift are kept apart. A concept change leaves the features' distribution
untouched (the same features are drawn whatever the concept), so only the error rate can reveal
it. The covariate scenario shifts ``x0`` and ``x1`` by the same amount; since
:data:`CONCEPT_A` weighs them +1 and -1, the shift cancels in the concept, the label balance
does not move and a linear model stays right: only a detector watching the features should
fire.

All scenarios with the same seed draw the same features (bar the covariate shift) and the same
label noise, so they differ only by their change.

Examples
--------
>>> scenario = make_scenario("abrupt", n=1_000, position=600, seed=7)
>>> scenario.change_points, scenario.concept_changes, scenario.shifted_features
([600], [600], [])
>>> x, y = next(scenario.events())
>>> sorted(x), type(y).__name__
(['x0', 'x1', 'x2', 'x3', 'x4'], 'bool')
>>> make_scenario("recurring", n=1_000, position=300).change_points
[300, 600, 900]
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from producer.sources import DEFAULT_SEED, SourceError
from producer.transitions import probability_of_new_concept

__all__ = [
    "CONCEPT_A",
    "CONCEPT_B",
    "COVARIATE_SHIFT",
    "DEFAULT_N",
    "DEFAULT_NOISE",
    "DEFAULT_WIDTH",
    "FEATURES",
    "SCENARIOS",
    "SHIFTED_FEATURES",
    "LinearConcept",
    "Scenario",
    "default_position",
    "make_scenario",
]

FEATURES = ("x0", "x1", "x2", "x3", "x4")
SHIFTED_FEATURES = ("x0", "x1")
# The covariate shift, in standard deviations: large enough for a two-sample test on a few
# hundred events, small enough that the shifted features still overlap their old range.
COVARIATE_SHIFT = 2.0
# Labels flipped at random, so that the error before a change is a realistic floor rather than
# zero (error-rate detectors such as DDM behave differently on a perfect stream).
DEFAULT_NOISE = 0.05
DEFAULT_N = 10_000
# Events over which the gradual scenario moves from A to B (about 12% to 88% of new-concept
# events across this width).
DEFAULT_WIDTH = 1_000


@dataclass(frozen=True, slots=True)
class LinearConcept:
    """A label function ``y = w · x > 0`` over :data:`FEATURES`.

    Examples
    --------
    >>> CONCEPT_A({"x0": 1.0, "x1": 0.0, "x2": 0.0, "x3": 0.0, "x4": 5.0})
    True
    """

    name: str
    weights: tuple[float, ...]

    def __call__(self, features: Mapping[str, float]) -> bool:
        """The noise-free label of ``features``."""
        return sum(w * features[name] for name, w in zip(FEATURES, self.weights, strict=True)) > 0


CONCEPT_A = LinearConcept("A", (1.0, -1.0, 1.0, -1.0, 0.0))
# Orthogonal to A (their dot product is 0): A's labels tell nothing about B's.
CONCEPT_B = LinearConcept("B", (1.0, 1.0, -1.0, -1.0, 0.0))
_CONCEPTS = (CONCEPT_A, CONCEPT_B)

SCENARIOS: Mapping[str, str] = {
    "stationary": "No change: concept A throughout; what a detector must not alarm on.",
    "abrupt": "Concept A switches to the orthogonal concept B at --position.",
    "gradual": "A gives way to B over --width events centred on --position (sigmoid mix).",
    "recurring": "A and B alternate every --position events: A, B, A, B, ...",
    "covariate": (
        f"{' and '.join(SHIFTED_FEATURES)} shift by +{COVARIATE_SHIFT:g} standard deviations "
        "at --position; the concept stays A."
    ),
}
"""Scenario names and the one-line descriptions shown by ``--help`` and ``list``."""


@dataclass(frozen=True)
class Scenario:
    """A seeded drift scenario and its ground truth; iterate it for ``(features, label)``.

    Built by :func:`make_scenario`; the events are generated from the ground truth, so the two
    cannot disagree.
    """

    name: str
    n: int
    position: int
    width: int
    """Events over which each concept change is spread (1: abrupt)."""
    seed: int
    noise: float
    change_points: list[int] = field(default_factory=list)
    """Indexes (from 0) of the first events after each change of any kind."""
    concept_changes: list[int] = field(default_factory=list)
    """Indexes where the label function changes (the centre, for a gradual change)."""
    shifted_features: list[str] = field(default_factory=list)
    """Features whose distribution shifts at each change point; empty for concept drift."""

    def events(self) -> Iterator[tuple[dict[str, float], bool]]:
        """Generate the ``n`` events, the same ones for the same seed."""
        # One generator per kind of draw, so that every scenario with the same seed draws the
        # same features and the same noise whatever its changes.
        features_rng = random.Random(f"{self.seed}/features")
        noise_rng = random.Random(f"{self.seed}/noise")
        mixing_rng = random.Random(f"{self.seed}/mixing")
        for index in range(self.n):
            features = {name: features_rng.gauss(0.0, 1.0) for name in FEATURES}
            if self.shifted_features and bisect.bisect_right(self.change_points, index) % 2:
                for name in self.shifted_features:
                    features[name] += COVARIATE_SHIFT
            draw = mixing_rng.random()
            changes = sum(
                draw < probability_of_new_concept(index, change, self.width)
                for change in self.concept_changes
            )
            label = _CONCEPTS[changes % 2](features)
            if noise_rng.random() < self.noise:
                label = not label
            yield features, label

    def __iter__(self) -> Iterator[tuple[dict[str, float], bool]]:
        return self.events()

    def __len__(self) -> int:
        return self.n


def default_position(name: str, n: int) -> int:
    """Where a scenario changes unless told: half-way, or every quarter for ``recurring``."""
    return n // 4 if name == "recurring" else n // 2


def make_scenario(
    name: str,
    *,
    n: int = DEFAULT_N,
    position: int | None = None,
    width: int = DEFAULT_WIDTH,
    seed: int = DEFAULT_SEED,
    noise: float = DEFAULT_NOISE,
) -> Scenario:
    """Build a scenario of :data:`SCENARIOS` with its ground truth.

    Parameters
    ----------
    name
        One of :data:`SCENARIOS`.
    n
        Number of events.
    position
        Index (from 0) of the first event after the change; for ``recurring``, the period.
        ``None`` takes :func:`default_position`.
    width
        Only for ``gradual``: events over which the change is spread. Every other scenario
        changes abruptly.
    seed
        Seeds every random draw.
    noise
        Fraction of labels flipped at random.

    Raises
    ------
    SourceError
        For an unknown name, or a position, width or noise out of range.
    """
    if name not in SCENARIOS:
        raise SourceError(f"unknown scenario {name!r}; choose from: {', '.join(SCENARIOS)}")
    if n < 1:
        raise SourceError(f"a scenario needs at least 1 event, not {n}")
    if not 0.0 <= noise <= 1.0:
        raise SourceError(f"noise is a fraction of labels, between 0 and 1, not {noise}")
    position = default_position(name, n) if position is None else position
    if name != "stationary" and not 0 < position < n:
        raise SourceError(f"position must be between 1 and n - 1 = {n - 1}, not {position}")
    if name == "gradual" and width < 1:
        raise SourceError(f"width must be at least 1 event, not {width}")
    changes = {
        "stationary": [],
        "recurring": list(range(position, n, position)),
    }.get(name, [position])
    return Scenario(
        name=name,
        n=n,
        position=position,
        width=width if name == "gradual" else 1,
        seed=seed,
        noise=noise,
        change_points=changes,
        concept_changes=[] if name == "covariate" else changes,
        shifted_features=list(SHIFTED_FEATURES) if name == "covariate" else [],
    )
