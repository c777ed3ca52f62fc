"""How a stream moves from one concept to the next: at once, or gradually along a sigmoid.

River's ``ConceptDriftStream`` takes the next event from the new concept with probability
``1 / (1 + exp(-4 (t - p) / w))`` for event ``t``, change position ``p`` and width ``w``.
Its ``exp`` is unbounded, though: it raises ``OverflowError`` as soon as ``4 (p - t) / w``
exceeds about 709, so an abrupt switch (``w = 1``) later than the 178th event cannot be built
with it. This module uses the same curve, saturated where it is 0 or 1 to double precision,
and makes ``w = 1`` an exact switch, which is what ground truth for a detector needs.

Examples
--------
>>> [probability_of_new_concept(i, position=100, width=1) for i in (99, 100)]
[0.0, 1.0]
>>> [round(probability_of_new_concept(i, position=100, width=50), 2) for i in (75, 100, 125)]
[0.12, 0.5, 0.88]
>>> "".join(switch("AAAA", "bbbb", position=2, seed=0))
'AAbbbb'
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["probability_of_new_concept", "switch"]

T = TypeVar("T")

# Beyond this many units of 4 (t - p) / w from the centre, the sigmoid equals 0 or 1 in
# double precision (exp(-40) < 2**-52), so it is returned as such without calling exp.
_SATURATION = 40.0


def probability_of_new_concept(index: int, position: int, width: int) -> float:
    """The probability that event ``index`` (counted from 0) follows the concept after the change.

    The change is centred on ``position``: with ``width`` 1 every event from ``position`` on
    follows the new concept and none before it; with a larger width the probability is River's
    sigmoid, 0.5 at ``position`` and about 0.12 and 0.88 half a width before and after.
    """
    if width <= 1:
        return 1.0 if index >= position else 0.0
    slope = 4.0 * (index - position) / width
    if slope > _SATURATION:
        return 1.0
    if slope < -_SATURATION:
        return 0.0
    return 1.0 / (1.0 + math.exp(-slope))


def switch(
    before: Iterable[T], after: Iterable[T], *, position: int, width: int = 1, seed: int
) -> Iterator[T]:
    """Take each item from ``before`` or ``after`` as :func:`probability_of_new_concept` says.

    As in River's ``ConceptDriftStream``, only the stream an item is taken from advances, and
    the mix ends when the stream it needs next is exhausted. ``seed`` drives the choice, so the
    same seed gives the same mix.
    """
    rng = random.Random(seed)
    streams = (iter(before), iter(after))
    for index in itertools.count():
        chosen = rng.random() < probability_of_new_concept(index, position, width)
        try:
            item = next(streams[chosen])
        except StopIteration:
            return
        yield item
