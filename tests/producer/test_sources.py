"""Sources: River's datasets and synthetic streams, and CSV / JSON Lines files."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from producer.sources import (
    DATASETS,
    STREAMS,
    SourceError,
    dataset,
    dataset_info,
    read_file,
    synth,
)
from tests.producer.contract import assert_valid_event, assert_valid_events

# Enough events to cross a drifting stream's change when it is placed early.
_TAKE = 300


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_streams_valid_events_in_file_order(name: str) -> None:
    first = list(itertools.islice(dataset(name), 500))
    again = list(itertools.islice(dataset(name), 500))

    assert_valid_events(first)
    assert first == again


def test_a_dataset_streams_all_its_events_with_bool_labels_kept_bool() -> None:
    events = list(dataset("phishing"))

    assert len(events) == dataset_info("phishing").size == 1250
    assert {type(label) for _, label in events} == {bool}


@pytest.mark.parametrize(
    ("name", "label_type"),
    [("bananas", bool), ("image-segments", str), ("trump-approval", float)],
)
def test_dataset_labels_keep_their_kind(name: str, label_type: type) -> None:
    _, label = next(dataset(name))

    assert type(label) is label_type


@pytest.mark.parametrize("spelling", ["TrumpApproval", "trump_approval", "TRUMP-APPROVAL"])
def test_dataset_names_ignore_case_and_separators(spelling: str) -> None:
    assert next(dataset(spelling)) == next(dataset("trump-approval"))


@pytest.mark.parametrize("name", list(STREAMS))
def test_every_stream_yields_valid_events(name: str) -> None:
    events = synth(name, seed=3, position=_TAKE // 2)

    assert assert_valid_events(itertools.islice(events, _TAKE)) == _TAKE


@pytest.mark.parametrize("name", list(STREAMS))
def test_streams_are_determined_by_their_seed(name: str) -> None:
    def take(seed: int) -> list[object]:
        return list(itertools.islice(synth(name, seed=seed, position=50), 100))

    assert take(1) == take(1)
    assert take(1) != take(2)


def test_a_drifting_stream_switches_concept_exactly_at_its_position() -> None:
    """sea-drift: SEA variant 0 (x0 + x1 > 8) before, variant 2 (> 7) from the position on."""
    events = list(itertools.islice(synth("sea-drift", seed=5, position=2000), 4000))

    def follows(threshold: float, part: list[tuple[dict, object]]) -> bool:
        return all(label == (x["0"] + x["1"] > threshold) for x, label in part)

    assert follows(8.0, events[:2000])
    assert follows(7.0, events[2000:])
    assert not follows(8.0, events[2000:])


def test_an_abrupt_switch_works_far_into_a_stream() -> None:
    """River's ConceptDriftStream overflows here (width 1, position beyond ~178)."""
    events = synth("agrawal-drift", position=1000, width=1)

    assert assert_valid_events(itertools.islice(events, 1100)) == 1100


def test_concepts_can_be_chosen_for_a_switchable_stream() -> None:
    default = list(itertools.islice(synth("sea", seed=1), 200))
    variant_3 = list(itertools.islice(synth("sea", seed=1, concept=3), 200))

    assert [x for x, _ in default] == [x for x, _ in variant_3]
    assert all(label == (x["0"] + x["1"] > 9.5) for x, label in variant_3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "elec2"}, "unknown stream 'elec2'; choose from: agrawal"),
        ({"name": "sea", "concept": 4}, "stream sea has concepts 0-3, not 4"),
        ({"name": "sea-drift", "drift_concept": -1}, "not -1"),
        ({"name": "hyperplane", "concept": 1}, "stream hyperplane has no concept to choose"),
        ({"name": "sea-drift", "width": 0}, "width must be at least 1"),
        ({"name": "sea-drift", "position": 0}, "position must be at least 1"),
    ],
)
def test_bad_stream_requests_raise_a_source_error(kwargs: dict, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        synth(**kwargs)


def test_an_unknown_dataset_raises_a_source_error_naming_the_choices() -> None:
    with pytest.raises(SourceError, match="unknown dataset 'elec2'; choose from: phishing"):
        dataset("elec2")


def test_numpy_scalars_become_plain_python_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from producer import sources

    def numpy_stream(_params: object) -> list[tuple[dict, object]]:
        return [({1: np.float32(0.5), "b": np.int64(3), "c": np.bool_(True)}, np.bool_(False))]

    stream = sources._Stream("numpy values", numpy_stream)
    monkeypatch.setitem(sources._STREAMS, "numpy", stream)

    [(features, label)] = list(synth("numpy"))

    assert features == {"1": 0.5, "b": 3, "c": True}
    assert [type(v) for v in features.values()] == [float, int, bool]
    assert label is False
    assert_valid_event(features, label)


# --- files -------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_cells_become_floats_bools_and_strings_and_empty_cells_are_dropped(
    tmp_path: Path,
) -> None:
    csv = write(
        tmp_path / "events.csv",
        "size,colour,fresh,price,label\n3,red,true,1.5,yes\n4,,FALSE,NaN,no\n5,blue,True,-2e3,\n",
    )

    events = list(read_file(csv, label_column="label"))

    assert events == [
        ({"size": 3.0, "colour": "red", "fresh": True, "price": 1.5}, "yes"),
        ({"size": 4.0, "fresh": False}, "no"),
        ({"size": 5.0, "colour": "blue", "fresh": True, "price": -2000.0}, None),
    ]
    assert type(events[0][0]["size"]) is float
    assert_valid_events(events)


def test_csv_label_values_are_parsed_like_features(tmp_path: Path) -> None:
    csv = write(tmp_path / "events.csv", "x,y\n1,true\n2,0\n")

    assert [label for _, label in read_file(csv, label_column="y")] == [True, 0.0]


def test_without_a_label_column_every_column_is_a_feature(tmp_path: Path) -> None:
    csv = write(tmp_path / "events.csv", "x,y\n1,2\n")

    assert list(read_file(csv)) == [({"x": 1.0, "y": 2.0}, None)]


def test_a_csv_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    csv = tmp_path / "excel.csv"
    csv.write_bytes("\ufeffx,label\n1,true\n".encode())

    assert list(read_file(csv, label_column="x")) == [({"label": True}, 1.0)]


def test_jsonl_rows_are_flat_objects_with_nulls_dropped(tmp_path: Path) -> None:
    jsonl = write(
        tmp_path / "events.jsonl",
        '{"x": 1, "colour": "red", "ok": true, "y": false}\n'
        "\n"
        '{"x": 2.5, "colour": null, "y": "cat"}\n'
        '{"x": 3}\n',
    )

    events = list(read_file(jsonl, label_column="y"))

    assert events == [
        ({"x": 1, "colour": "red", "ok": True}, False),
        ({"x": 2.5}, "cat"),
        ({"x": 3}, None),
    ]
    assert_valid_events(events)


def test_ndjson_is_read_as_json_lines(tmp_path: Path) -> None:
    ndjson = write(tmp_path / "events.ndjson", '{"x": 1}\n')

    assert list(read_file(ndjson)) == [({"x": 1}, None)]


def test_an_empty_file_has_no_events(tmp_path: Path) -> None:
    assert list(read_file(write(tmp_path / "empty.csv", ""), label_column="y")) == []


def test_a_missing_file_raises_a_source_error_at_once(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no such file: .*missing\.csv"):
        read_file(tmp_path / "missing.csv", label_column="y")


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a file"):
        read_file(tmp_path)


def test_an_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"expected a \.csv or \.jsonl or \.ndjson file"):
        read_file(write(tmp_path / "events.parquet", "x"))


@pytest.mark.parametrize(
    ("name", "text"),
    [("events.csv", "x,y\n1,2\n"), ("events.jsonl", '{"x": 1, "y": 2}\n')],
)
def test_an_unknown_label_column_raises_a_source_error_at_once(
    tmp_path: Path, name: str, text: str
) -> None:
    path = write(tmp_path / name, text)

    with pytest.raises(SourceError, match=r"has no column 'label' \(its columns: x, y\)"):
        read_file(path, label_column="label")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.jsonl", '{"x": 1, "y": 0}\n{"x": NaN}\n', r"bad\.jsonl:2: not JSON"),
        ("bad.jsonl", '{"x": 1, "y": 0}\n[1, 2]\n', r"bad\.jsonl:2: a JSON list, not an object"),
        ("bad.jsonl", '{"x": 1, "y": 0}\n{"x": [1]}\n', r"bad\.jsonl:2: feature 'x' is a list"),
        ("bad.jsonl", '{"x": 1, "y": 0}\n{"y": 1}\n', r"bad\.jsonl:2: no features"),
        ("bad.csv", "x,y\n1,2\n3\n", r"bad\.csv:3: 1 cells, the header has 2"),
        ("bad.csv", "x,y\n1,2\ninf,3\n", r"bad\.csv:3: feature 'x' is inf"),
    ],
)
def test_an_invalid_row_raises_a_source_error_naming_its_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    events = read_file(write(tmp_path / name, text), label_column="y")

    with pytest.raises(SourceError, match=message):
        list(events)
