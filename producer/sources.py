"""Sources of ``(features, label)`` pairs: River's bundled datasets, its synthetic streams, files.

Every source yields plain Python values that fit the event contract: feature names are strings,
feature values are finite numbers, strings or bools, and a label is a bool, number, string or
``None`` (no label). River's generators hand out numpy scalars and integer feature names; they
are converted here, once, so nothing downstream has to care where an event came from.

Order is deterministic: a dataset streams in its file's order, a synthetic stream is fully
determined by its seed.

Examples
--------
>>> x, y = next(iter(dataset("phishing")))
>>> y, sorted(x)[:2]
(True, ['age_of_domain', 'anchor_from_other_domain'])
>>> x, y = next(iter(synth("sea", seed=1)))
>>> sorted(x), type(y).__name__
(['0', '1', '2'], 'bool')
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import orjson
from river import datasets
from river.datasets import synth as river_synth

from producer.transitions import switch
from service.errors import DriftlineError

__all__ = [
    "DATASETS",
    "DEFAULT_POSITION",
    "DEFAULT_SEED",
    "DEFAULT_WIDTH",
    "FILE_SUFFIXES",
    "STREAMS",
    "Example",
    "FeatureValue",
    "Features",
    "Label",
    "SourceError",
    "SourceInfo",
    "dataset",
    "dataset_info",
    "read_file",
    "synth",
]

FeatureValue = float | int | str | bool
Features = dict[str, FeatureValue]
Label = bool | int | float | str
Example = tuple[Features, Label | None]

DEFAULT_SEED = 42
# Where a drifting synthetic stream changes concept, and over how many events (1: abruptly).
DEFAULT_POSITION = 5_000
DEFAULT_WIDTH = 1
# Suffixes read as CSV and as JSON Lines; anything else is refused rather than guessed.
CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
FILE_SUFFIXES = CSV_SUFFIXES + JSONL_SUFFIXES
# Spreadsheets put a byte-order mark in front of the header; "utf-8-sig" drops it.
_CSV_ENCODING = "utf-8-sig"

T = TypeVar("T")


class SourceError(DriftlineError):
    """A source cannot be read: unknown name, missing file, bad parameter or bad value."""


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What ``list`` and ``--help`` say about a dataset or stream."""

    name: str
    description: str
    size: int | None
    """Number of events, or ``None`` for an endless stream."""


class _DatasetClass(Protocol):
    """A River file dataset class that needs no argument."""

    __name__: str

    def __call__(self) -> datasets.base.FileDataset: ...


# River's file datasets that ship inside the wheel and have one scalar target. Remote datasets
# (Elec2, CreditCard, Insects, ...) download at run time, and multi-output ones (Yeast,
# SolarFlare) have no single label, so neither is offered.
_DATASETS: dict[str, _DatasetClass] = {
    "phishing": datasets.Phishing,
    "bananas": datasets.Bananas,
    "image-segments": datasets.ImageSegments,
    "shuttle": datasets.Shuttle,
    "trump-approval": datasets.TrumpApproval,
    "chick-weights": datasets.ChickWeights,
}


def _describe_dataset(name: str, cls: _DatasetClass) -> SourceInfo:
    data = cls()  # cheap: a file dataset reads nothing until it is iterated
    title = (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".")
    task = data.task.lower()
    return SourceInfo(
        name, f"{title} (River {cls.__name__}; {task}, {data.n_samples:,} events)", data.n_samples
    )


DATASETS: Mapping[str, SourceInfo] = {
    name: _describe_dataset(name, cls) for name, cls in _DATASETS.items()
}
"""The bundled datasets by CLI name."""


@dataclass(frozen=True, slots=True)
class _Params:
    seed: int
    position: int
    width: int
    concept: int
    drift_concept: int


RiverStream = Iterable[tuple[Mapping[Any, Any], Any]]


@dataclass(frozen=True, slots=True)
class _Stream:
    description: str
    build: Callable[[_Params], RiverStream]
    concepts: range | None = None
    """The valid ``concept`` numbers, or ``None`` when the stream has no concept switch."""
    default_concepts: tuple[int, int] = (0, 0)


def _switchable(
    cls: Callable[..., datasets.base.SyntheticDataset],
    concept_parameter: str,
    concepts: range,
    default_concepts: tuple[int, int],
    title: str,
) -> dict[str, _Stream]:
    """A stationary stream and its drifting twin, which switches concept at ``position``.

    The generator after the change is seeded with ``seed + 1`` so that it does not replay the
    first one's features.
    """
    name = cls.__name__.lower()
    before, after = default_concepts
    low, high = concepts.start, concepts.stop - 1

    def stationary(p: _Params) -> RiverStream:
        return cls(**{concept_parameter: p.concept}, seed=p.seed)

    def drifting(p: _Params) -> RiverStream:
        return switch(
            cls(**{concept_parameter: p.concept}, seed=p.seed),
            cls(**{concept_parameter: p.drift_concept}, seed=p.seed + 1),
            position=p.position,
            width=p.width,
            seed=p.seed,
        )

    return {
        name: _Stream(
            f"{title} (River {cls.__name__}, {concept_parameter} {before}; --concept {low}-{high})",
            stationary,
            concepts,
            default_concepts,
        ),
        f"{name}-drift": _Stream(
            f"{title}; {concept_parameter} {before} switches to {after} at --position, "
            "over --width events",
            drifting,
            concepts,
            default_concepts,
        ),
    }


def _led_drift(p: _Params) -> RiverStream:
    return switch(
        river_synth.LEDDrift(seed=p.seed, irrelevant_features=True, n_drift_features=0),
        river_synth.LEDDrift(seed=p.seed + 1, irrelevant_features=True, n_drift_features=7),
        position=p.position,
        width=p.width,
        seed=p.seed,
    )


_STREAMS: dict[str, _Stream] = {
    **_switchable(
        river_synth.Agrawal,
        "classification_function",
        range(10),
        (0, 2),
        "Loan applicants labelled by one of Agrawal's ten rules",
    ),
    **_switchable(
        river_synth.SEA,
        "variant",
        range(4),
        (0, 2),
        "Three numbers; is the sum of the first two above a threshold",
    ),
    **_switchable(
        river_synth.STAGGER,
        "classification_function",
        range(3),
        (0, 1),
        "Objects labelled by a rule on size, colour and shape",
    ),
    **_switchable(
        river_synth.Sine,
        "classification_function",
        range(4),
        (0, 2),
        "Points in the unit square, below a sine curve or not",
    ),
    **_switchable(
        river_synth.Mixed,
        "classification_function",
        range(2),
        (0, 1),
        "Two bools and two numbers combined by a rule",
    ),
    "hyperplane": _Stream(
        "A 10-d hyperplane whose weights keep rotating: incremental drift (River Hyperplane)",
        lambda p: river_synth.Hyperplane(
            seed=p.seed, n_features=10, n_drift_features=2, mag_change=0.001
        ),
    ),
    "rbf-drift": _Stream(
        "Gaussian clusters whose centres keep moving: incremental drift (River RandomRBFDrift)",
        lambda p: river_synth.RandomRBFDrift(
            seed_model=p.seed, seed_sample=p.seed, change_speed=0.001
        ),
    ),
    "led-drift": _Stream(
        "Seven-segment digits, 7 of whose 24 features swap at --position (River LEDDrift)",
        _led_drift,
    ),
    "friedman": _Stream(
        "Regression on Friedman's non-linear function (River Friedman)",
        lambda p: river_synth.Friedman(seed=p.seed),
    ),
    "friedman-drift": _Stream(
        "Regression whose function changes at --position and returns at twice --position "
        "(River FriedmanDrift, global recurring abrupt)",
        lambda p: river_synth.FriedmanDrift(
            drift_type="gra", position=(p.position, 2 * p.position), seed=p.seed
        ),
    ),
}

STREAMS: Mapping[str, SourceInfo] = {
    name: SourceInfo(name, stream.description, None) for name, stream in _STREAMS.items()
}
"""River's synthetic streams by CLI name; all are endless."""


def dataset_info(name: str) -> SourceInfo:
    """What :data:`DATASETS` says about ``name``, found as :func:`dataset` finds it.

    Raises
    ------
    SourceError
        When ``name`` is not one of :data:`DATASETS`.
    """
    return _lookup(DATASETS, name, "dataset")


def dataset(name: str) -> Iterator[Example]:
    """Stream one of River's bundled datasets in its file's order.

    Raises
    ------
    SourceError
        When ``name`` is not one of :data:`DATASETS`.
    """
    cls = _lookup(_DATASETS, name, "dataset")
    return _clean(_rows_of(cls()), f"dataset {name}")


def _rows_of(data: datasets.base.FileDataset) -> Iterator[tuple[dict[str, Any], Any]]:
    """The dataset's rows, with its file closed even when the reader stops early.

    River's ``stream.iter_csv`` closes its file only once it is exhausted; a reader that stops
    early (``--limit``) leaves the file to the garbage collector, which closes it with a
    ``ResourceWarning``. Closing River's generator here releases the file at once, and that one
    expected warning is silenced.
    """
    rows = iter(data)
    try:
        # Not `yield from`: it would close River's generator before the warning is silenced.
        for row in rows:  # noqa: UP028
            yield row
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            rows.close()


def synth(
    name: str,
    *,
    seed: int = DEFAULT_SEED,
    position: int = DEFAULT_POSITION,
    width: int = DEFAULT_WIDTH,
    concept: int | None = None,
    drift_concept: int | None = None,
) -> Iterator[Example]:
    """Stream one of River's synthetic generators; it never ends, so take what you need.

    Parameters
    ----------
    name
        One of :data:`STREAMS`.
    seed
        Seeds every generator, so the same seed gives the same events.
    position, width
        Where a drifting stream changes (the index of the first event of the new concept,
        counted from 0) and over how many events; see :mod:`producer.transitions`.
    concept, drift_concept
        For streams with a concept number (SEA's variant, Agrawal's function, ...): the concept
        before and after the change. ``None`` keeps the stream's default.

    Raises
    ------
    SourceError
        For an unknown name, a concept the stream does not have, or a bad position or width.
    """
    stream = _lookup(_STREAMS, name, "stream")
    if width < 1:
        raise SourceError(f"width must be at least 1 event, not {width}")
    if position < 1:
        raise SourceError(f"position must be at least 1, not {position}")
    concepts = stream.concepts
    if concepts is None:
        if concept is not None or drift_concept is not None:
            raise SourceError(f"stream {name} has no concept to choose")
        before, after = 0, 0
    else:
        before = stream.default_concepts[0] if concept is None else concept
        after = stream.default_concepts[1] if drift_concept is None else drift_concept
        for value in (before, after):
            if value not in concepts:
                raise SourceError(
                    f"stream {name} has concepts {concepts.start}-{concepts.stop - 1}, not {value}"
                )
    params = _Params(seed, position, width, before, after)
    return _clean(stream.build(params), f"stream {name}")


def read_file(path: str | Path, *, label_column: str | None = None) -> Iterator[Example]:
    """Stream the rows of a CSV or JSON Lines file, one event per row, in file order.

    Every column but ``label_column`` is a feature. CSV cells are parsed as numbers (floats)
    when they read as one, ``true``/``false`` (any case) as bools, and are strings otherwise; an
    empty cell or ``NaN`` is a missing value and is dropped, because that is how spreadsheets
    and pandas write one; an infinite number is an error, since the service would refuse the
    event. JSON Lines rows are flat objects; ``null`` is dropped likewise. A row without a label
    becomes an unlabelled event.

    The file is checked before the first event is read, so a missing file or an unknown label
    column fails at once, not halfway through a stream.

    Raises
    ------
    SourceError
        For a missing or unreadable file, an unknown suffix, a label column the file does not
        have, or a row that is not valid (the message names the line).
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(f"no such file: {path}")
    if not path.is_file():
        raise SourceError(f"not a file: {path}")
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise SourceError(f"cannot read {path}: expected a {' or '.join(FILE_SUFFIXES)} file")
    is_csv = suffix in CSV_SUFFIXES
    try:
        columns = _csv_header(path) if is_csv else _jsonl_first_keys(path)
    except UnicodeDecodeError:
        raise SourceError(f"cannot read {path}: not UTF-8 text") from None
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from None
    if columns is None:
        return iter(())
    if label_column is not None and label_column not in columns:
        listed = ", ".join(columns) or "none"
        raise SourceError(f"{path} has no column {label_column!r} (its columns: {listed})")
    rows = _read_csv(path) if is_csv else _read_jsonl(path)
    return _examples(path, rows, label_column)


def _examples(
    path: Path, rows: Iterable[tuple[int, dict[str, Any]]], label_column: str | None
) -> Iterator[Example]:
    for line, row in rows:
        where = f"{path}:{line}"
        label = row.pop(label_column, None) if label_column is not None else None
        yield _features(row, where), _label(label, where)


def _csv_header(path: Path) -> list[str] | None:
    with path.open(newline="", encoding=_CSV_ENCODING) as file:
        return next(csv.reader(file), None)


def _jsonl_first_keys(path: Path) -> list[str] | None:
    with closing(_read_jsonl(path)) as rows:
        first = next(rows, None)
    return None if first is None else list(first[1])


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Data rows as ``(line, {column: parsed value or None})``; blank lines are skipped."""
    with path.open(newline="", encoding=_CSV_ENCODING) as file:
        reader = csv.reader(file)
        try:
            header = next(reader, [])
            for cells in reader:
                if not cells:
                    continue
                if len(cells) != len(header):
                    raise SourceError(
                        f"{path}:{reader.line_num}: {len(cells)} cells, "
                        f"the header has {len(header)}"
                    )
                yield reader.line_num, dict(zip(header, map(_parse_cell, cells), strict=True))
        except UnicodeDecodeError:
            raise SourceError(f"{path}:{reader.line_num + 1}: not UTF-8 text") from None


def _read_jsonl(path: Path) -> Generator[tuple[int, dict[str, Any]], None, None]:
    """Rows as ``(line, object)``; blank lines are skipped."""
    with path.open("rb") as file:
        for line, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            try:
                row = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                raise SourceError(f"{path}:{line}: not JSON: {error}") from None
            if not isinstance(row, dict):
                raise SourceError(f"{path}:{line}: a JSON {type(row).__name__}, not an object")
            yield line, row


def _parse_cell(cell: str) -> FeatureValue | None:
    """A CSV cell as a float, a bool or a string; ``None`` when it is empty or NaN."""
    if cell == "":
        return None
    lowered = cell.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    try:
        number = float(cell)
    except ValueError:
        return cell
    return None if math.isnan(number) else number


def _clean(pairs: RiverStream, where: str) -> Iterator[Example]:
    for index, (x, y) in enumerate(pairs):
        context = f"{where}, event {index}"
        yield _features(x, context), _label(y, context)


def _features(x: Mapping[Any, Any], where: str) -> Features:
    features: Features = {}
    for name, raw in x.items():
        value = _plain(raw)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise SourceError(f"{where}: feature {name!r} is {value}; features must be finite")
        if not isinstance(value, bool | int | float | str):
            raise SourceError(
                f"{where}: feature {name!r} is a {type(value).__name__}; "
                "features are numbers, strings or bools"
            )
        features[str(name)] = value
    if not features:
        raise SourceError(f"{where}: no features")
    return features


def _label(y: Any, where: str) -> Label | None:
    value = _plain(y)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise SourceError(f"{where}: the label is {value}; labels must be finite")
    if not isinstance(value, bool | int | float | str):
        raise SourceError(
            f"{where}: the label is a {type(value).__name__}; labels are bools, numbers or strings"
        )
    return value


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (``np.bool_`` stays a bool)."""
    return value.item() if isinstance(value, np.generic) else value


def _normalise(name: str) -> str:
    """``TrumpApproval``, ``trump_approval`` and ``trump-approval`` all name the same thing."""
    return name.lower().replace("_", "").replace("-", "")


def _lookup(registry: Mapping[str, T], name: str, kind: str) -> T:
    wanted = _normalise(name)
    for key, value in registry.items():
        if _normalise(key) == wanted:
            return value
    raise SourceError(f"unknown {kind} {name!r}; choose from: {', '.join(registry)}")
