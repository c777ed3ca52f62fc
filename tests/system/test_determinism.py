"""Every registered model learns the same way in every process, whatever the hash seed.

Crash equivalence rests on this: a model restored from a checkpoint in a new process must go
on exactly as the one that wrote it. Set iteration order depends on ``PYTHONHASHSEED``; a
model whose predictions depended on it would fall outside the guarantee.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from service.models import MODEL_NAMES

SCRIPT = """
import itertools, json, pickle
from river import datasets
from service.models import MODEL_NAMES, build_model
from service.state.checkpoint import restricted_loads
answers = {}
for name in MODEL_NAMES:
    spec = build_model(name, seed=42)
    stream = datasets.Phishing() if spec.task == "classification" else datasets.TrumpApproval()
    examples = list(itertools.islice(stream, 400))
    model = spec.estimator
    for x, y in examples[:300]:
        model.learn_one(x, y)
    model = restricted_loads(pickle.dumps(model))  # as a restart would
    for x, y in examples[300:350]:
        model.learn_one(x, y)
    if spec.task == "classification":
        answers[name] = [sorted((str(k), repr(v)) for k, v in model.predict_proba_one(x).items())
                         for x, _ in examples[350:]]
    else:
        answers[name] = [repr(model.predict_one(x)) for x, _ in examples[350:]]
print(json.dumps(answers))
"""


def answers_with_hash_seed(seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.slow
def test_every_registered_model_predicts_identically_across_hash_seeds() -> None:
    first = answers_with_hash_seed("1")
    second = answers_with_hash_seed("2024")
    assert set(first) == set(MODEL_NAMES)
    for name in MODEL_NAMES:
        assert first[name] == second[name], f"{name} depends on PYTHONHASHSEED"
