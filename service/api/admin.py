"""Admin endpoints: operations that change the running service, behind a bearer token.

With no ``DRIFTLINE_ADMIN_TOKEN`` configured they are disabled (403), never open. The token is
compared exactly (``Bearer``, one space, the token; no whitespace around it) in constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from service.api.deps import RuntimeDep
from service.api.routes import model_versions
from service.api.schemas import ModelVersionsPublic
from service.errors import DriftlineError
from service.strategies.errors import StrategyError, UnknownVersionError

__all__ = ["AdminDep", "router"]

router = APIRouter(prefix="/admin", tags=["admin"])
_bearer = HTTPBearer(auto_error=False, description="DRIFTLINE_ADMIN_TOKEN")


def require_admin(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through only with the configured bearer token."""
    token = runtime.settings.admin_token
    if token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "admin endpoints are disabled: set DRIFTLINE_ADMIN_TOKEN"
        )
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token", challenge)
    # HTTPBearer strips the credentials; a token with whitespace around it is another token.
    _, _, given = request.headers.get("authorization", "").partition(" ")
    if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong bearer token", challenge)


AdminDep = Depends(require_admin)


class CheckpointPublic(BaseModel):
    """A checkpoint written on request."""

    file: str
    offsets: dict[str, int]
    feedback_offsets: dict[str, int] = {}


@router.post(
    "/checkpoint",
    response_model=CheckpointPublic,
    dependencies=[AdminDep],
    responses={409: {"description": "Checkpoints are off or the worker is not running"}},
)
def write_checkpoint(runtime: RuntimeDep) -> CheckpointPublic:
    """Write a checkpoint now (e.g. before maintenance) and commit its offsets."""
    if not runtime.consuming:
        raise HTTPException(status.HTTP_409_CONFLICT, "this service does not consume")
    if runtime.checkpoints is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "checkpoints are off: set DRIFTLINE_STATE_DIR"
        )
    try:
        path = runtime.checkpoints.request()
    except DriftlineError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    values = runtime.learner.values()
    return CheckpointPublic(
        file=path.name,
        offsets={str(p): o for p, o in sorted(values.positions.items())},
        feedback_offsets={str(p): o for p, o in sorted(values.feedback_positions.items())},
    )


@router.post(
    "/rollback/{version_id}",
    response_model=ModelVersionsPublic,
    dependencies=[AdminDep],
    responses={404: {"description": "No such kept version"}, 409: {"description": "Serving"}},
)
def rollback(version_id: int, runtime: RuntimeDep) -> ModelVersionsPublic:
    """Serve a kept version again; it becomes a new version whose parent is the one restored."""
    try:
        runtime.learner.rollback(version_id)
    except UnknownVersionError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    except StrategyError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return model_versions(runtime.learner)


@router.post("/rebuild", status_code=status.HTTP_202_ACCEPTED, dependencies=[AdminDep])
def request_rebuild(runtime: RuntimeDep) -> dict[str, str]:
    """Ask for a rebuild now; like any other it must beat the champion in shadow to serve."""
    runtime.learner.request_rebuild()
    return {"status": "rebuild requested"}
