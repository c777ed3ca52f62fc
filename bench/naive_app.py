"""B3's baseline: the ``/predict`` a team would write first, serving the same River model.

FastAPI with a pydantic request body, a plain ``def`` route (so it runs in the threadpool), a
dict returned for FastAPI to validate and serialize, and uvicorn without its C extras: the
asyncio loop and the pure-Python h11 parser, one worker. The access log is off, as in the
service, so the comparison is about serving and not about logging.

    python -m bench.naive_app MODEL.pkl --port 8001

The model file is a plain pickle of a River model, written by the benchmark itself.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

__all__ = ["PredictBody", "create_app"]

MODEL_ENV = "DRIFTLINE_BENCH_MODEL"


class PredictBody(BaseModel):
    features: dict[str, float | int | bool | str]


def create_app(model_path: Path | None = None) -> FastAPI:
    """The naive app serving the River model pickled at ``model_path`` or $DRIFTLINE_BENCH_MODEL."""
    path = model_path or Path(os.environ[MODEL_ENV])
    with path.open("rb") as file:
        model = pickle.load(file)  # the benchmark's own file, written a moment ago
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(body: PredictBody) -> dict[str, Any]:
        proba = model.predict_proba_one(body.features)
        return {
            "prediction": max(proba, key=proba.get) if proba else None,
            "probabilities": {str(label): p for label, p in proba.items()},
        }

    return app


def main(
    model: Annotated[Path, typer.Argument(help="Pickle of a River model.", exists=True)],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
) -> None:
    """Serve ``model`` the naive way on 127.0.0.1."""
    uvicorn.run(
        create_app(model),
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        http="h11",
        workers=1,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    typer.run(main)
