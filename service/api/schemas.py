"""Request and response bodies of the HTTP API: the public contract README documents.

Feature values are strictly typed (a JSON ``true`` stays a bool, ``1`` stays an int) and
numbers must be finite: a NaN in a request is a 422, never a prediction.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

__all__ = [
    "AlarmCountPublic",
    "BatchPredictRequest",
    "BatchPredictionPublic",
    "DriftEventPublic",
    "DriftPublic",
    "FeatureDriftPublic",
    "FeatureValueIn",
    "InstancePrediction",
    "ModelPublic",
    "ModelVersionPublic",
    "ModelVersionsPublic",
    "PredictRequest",
    "PredictionPublic",
    "PrequentialMetrics",
    "PromotionDecisionPublic",
    "ReadinessPublic",
]

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
FeatureValueIn = StrictBool | StrictInt | FiniteFloat | StrictStr
LabelOut = StrictBool | StrictInt | float | StrictStr


QuestionId = Annotated[StrictStr, Field(min_length=1, max_length=256)]


class PredictRequest(BaseModel):
    """One instance to score: the same ``features`` object an event carries.

    With an ``id``, the prediction is also a question: written to the event topic before the
    answer, and scored when an answer ``{"id", "label"}`` arrives.
    """

    model_config = ConfigDict(extra="forbid")

    features: dict[str, FeatureValueIn] = Field(min_length=1)
    id: QuestionId | None = None


class BatchPredictRequest(BaseModel):
    """Several instances scored against one consistent model state."""

    model_config = ConfigDict(extra="forbid")

    instances: list[PredictRequest] = Field(min_length=1)


class InstancePrediction(BaseModel):
    """The model's answer for one instance.

    ``probabilities`` maps each class label to its probability (classifiers only); labels are
    written as JSON text, so a bool label ``true`` is the key ``"true"``. ``prediction`` is
    ``null`` until the model has learned enough to answer.
    """

    prediction: LabelOut | None
    probabilities: dict[str, float] | None = None
    id: str | None = Field(None, description="The instance's id, when it was given one.")


class PredictionPublic(InstancePrediction):
    """Answer to ``POST /predict``."""

    model_version: int
    events_learned: int


class BatchPredictionPublic(BaseModel):
    """Answer to ``POST /predict/batch``, in the order of the request's instances."""

    predictions: list[InstancePrediction]
    model_version: int
    events_learned: int


class PrequentialMetrics(BaseModel):
    """Test-then-train metrics: over every event learned, and over the last ``window``."""

    cumulative: dict[str, float]
    rolling: dict[str, float]
    window: int
    window_filled: int
    agreement: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Classifiers: Cohen's kappa and kappa-temporal (against the no-change classifier), "
            "cumulative and rolling: kappa, kappa_temporal, rolling_kappa, rolling_kappa_temporal."
        ),
    )


class ModelPublic(BaseModel):
    """What ``GET /model`` says about the live model."""

    name: str
    task: str
    estimator: str
    model_version: int
    events_learned: int
    events_unlabelled: int
    offsets: dict[str, int] = Field(
        description="Per partition, the next offset to learn: every earlier one is handled."
    )
    feedback_offsets: dict[str, int] = Field(
        default_factory=dict,
        description="The same for DRIFTLINE_FEEDBACK_TOPIC (empty without one).",
    )
    metrics: PrequentialMetrics


class DriftEventPublic(BaseModel):
    """One drift alarm or warning, as the detector raised it."""

    detector: str
    kind: str
    feature: str | None = None
    statistic: float | None = None
    baseline: float | None = None
    offset: int
    warning: bool = False


class FeatureDriftPublic(BaseModel):
    """One feature's comparison with its reference at the last evaluation."""

    feature: str
    psi: float
    ks_statistic: float | None
    ks_pvalue: float | None
    drifting: bool


class AlarmCountPublic(BaseModel):
    detector: str
    kind: str
    alarms: int


class DriftPublic(BaseModel):
    """What ``GET /drift`` says: what is drifting now, counts, and the recent events."""

    enabled: bool
    active: dict[str, bool]
    alarms: list[AlarmCountPublic]
    concept_detector: dict[str, float]
    features: list[FeatureDriftPublic]
    events: list[DriftEventPublic] = Field(description="Recent drift events, oldest first.")


class ModelVersionPublic(BaseModel):
    """One model that served, with its lineage."""

    id: int
    parent_id: int | None
    created_at: float
    strategy: str
    trigger: str
    first_offset: int | None = Field(description="First offset of the history it was built from.")
    last_offset: int | None = Field(description="Last offset of the history it was built from.")
    validation_score: float | None = Field(description="Its score in the shadow run.")
    champion_score: float | None = Field(description="The replaced champion's score then.")
    events_learned: int
    learned_to_offset: int | None
    serving: bool


class PromotionDecisionPublic(BaseModel):
    """A challenger judged against the champion on the same shadow events."""

    challenger_id: int
    champion_id: int
    trigger: str
    shadow_events: int
    champion_score: float | None
    challenger_score: float | None
    statistic: float | None
    p_value: float | None
    test: str
    outcome: str
    offset: int | None
    decided_at: float
    detail: str


class ModelVersionsPublic(BaseModel):
    """``GET /model/versions``: the kept versions (serving one last) and recent decisions."""

    strategy: str
    current_version: int
    versions: list[ModelVersionPublic]
    decisions: list[PromotionDecisionPublic]


class ReadinessPublic(BaseModel):
    """Whether the service both serves a model and reads its partitions."""

    ready: bool
    consumer_assigned: bool
    consumer_connected: bool
    detail: str
