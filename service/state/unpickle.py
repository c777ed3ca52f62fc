"""Unpickling with an allow-list of exact names: the second line of defence behind the signature.

Pickle names every global it needs as a module and a qualified name, and resolves a dotted
name attribute by attribute: ``("service.state.checkpoint", "os.system")`` is ``os.system``.
So a name is accepted only when the pair is on the list exactly, never because of its module
or its prefix, and nothing is resolved through an attribute the list does not name. The same
goes for ``getattr``, which pickle uses for bound methods: ``getattr(obj, name)`` is allowed
only when ``type(obj)``'s qualified name plus ``.name`` is on the list (one River detector
keeps a bound method as state).

The list is what a learner of every registry model, concept detector, data-drift watch and
retraining strategy pickles to (``tests/state/test_unpickle.py`` pins that it is complete).
A ``module:factory`` model made of other classes names them in ``DRIFTLINE_CHECKPOINT_CLASSES``.

Examples
--------
>>> import pickle, collections
>>> restricted_loads(pickle.dumps(collections.Counter("aab")))
Counter({'a': 2, 'b': 1})
>>> restricted_loads(pickle.dumps(print))
Traceback (most recent call last):
...
_pickle.UnpicklingError: checkpoint refers to builtins.print, which is not on the allow-list
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from typing import Any

__all__ = ["ALLOWED_NAMES", "MOVED", "restricted_loads"]


def _names(module: str, qualnames: str) -> set[tuple[str, str]]:
    return {(module, name) for name in qualnames.split()}


#: Every (module, qualified name) a checkpoint may refer to.
ALLOWED_NAMES: frozenset[tuple[str, str]] = frozenset(
    _names(
        "builtins",
        "bool bytearray bytes complex dict float frozenset int list object range set slice "
        "str tuple",
    )
    | _names("collections", "Counter OrderedDict defaultdict deque")
    | _names("copyreg", "_reconstructor")
    | _names("datetime", "datetime timedelta timezone")
    | _names("functools", "partial")
    | _names("random", "Random")
    | _names("time", "time")  # the strategy manager's clock
    # numpy arrays and scalars, under numpy 1 and 2 module names
    | _names("numpy", "dtype ndarray")
    | _names("numpy.core.multiarray", "_reconstruct scalar")
    | _names("numpy._core.multiarray", "_reconstruct scalar")
    | _names("numpy.core.numeric", "_frombuffer")
    | _names("numpy._core.numeric", "_frombuffer")
    | _names("numpy.random._pickle", "__randomstate_ctor __bit_generator_ctor __generator_ctor")
    # River: the registry's models and what they hold
    | _names("river._river_rust.drift", "AdaptiveWindowing")
    | _names("river._river_rust.stats", "RsEWMean")
    | _names("river._river_rust.vectordict", "VectorDict euclidean_distance_tuple")
    | _names("river.compose.pipeline", "Pipeline")
    | _names("river.linear_model.lin_reg", "LinearRegression")
    | _names("river.linear_model.log_reg", "LogisticRegression")
    | _names("river.linear_model.alma", "ALMAClassifier")
    | _names(
        "river.linear_model.pa",
        "PAClassifier PARegressor PAClassifier._calc_tau_0 PAClassifier._calc_tau_1 "
        "PAClassifier._calc_tau_2 PARegressor._calc_tau_0 PARegressor._calc_tau_1 "
        "PARegressor._calc_tau_2",
    )
    | _names("river.multiclass.ovr", "OneVsRestClassifier")
    | _names("river.dummy", "NoChangeClassifier StatisticRegressor")
    | _names("river.stats.shift", "Shift")
    | _names("river.neighbors.knn_classifier", "KNNClassifier")
    | _names("river.neighbors.knn_regressor", "KNNRegressor")
    | _names("river.neighbors.ann.swinn", "SWINN")
    | _names("river.neighbors.ann.nn_vertex", "Vertex")
    | _names(
        "river.ensemble.bagging",
        "LeveragingBaggingClassifier LeveragingBaggingClassifier._leveraging_bag "
        "LeveragingBaggingClassifier._leveraging_bag_me "
        "LeveragingBaggingClassifier._leveraging_bag_half "
        "LeveragingBaggingClassifier._leveraging_bag_wt "
        "LeveragingBaggingClassifier._leveraging_subag",
    )
    | _names(
        "river.ensemble.streaming_random_patches",
        "SRPClassifier SRPRegressor BaseSRPClassifier BaseSRPRegressor",
    )
    | _names("river.forest.aggregated_mondrian_forest", "AMFClassifier AMFRegressor")
    | _names("river.tree.mondrian.mondrian_tree_classifier", "MondrianTreeClassifier")
    | _names("river.tree.mondrian.mondrian_tree_regressor", "MondrianTreeRegressor")
    | _names(
        "river.tree.mondrian.mondrian_tree_nodes",
        "MondrianBranchClassifier MondrianLeafClassifier MondrianBranchRegressor "
        "MondrianLeafRegressor",
    )
    | _names("river.optim.initializers", "Zeros")
    | _names("river.optim.losses", "Log Squared Hinge EpsilonInsensitiveHinge")
    | _names("river.optim.schedulers", "Constant")
    | _names("river.optim.sgd", "SGD")
    | _names("river.naive_bayes.gaussian", "GaussianNB GaussianNB._make_gaussian")
    | _names("river.proba.gaussian", "Gaussian")
    | _names("river.stats.ewmean", "EWMean")
    | _names("river.stats.mean", "Mean")
    | _names("river.stats.var", "Var")
    | _names("river.forest.adaptive_random_forest", "ARFClassifier ARFRegressor")
    | _names("river.forest.adaptive_random_forest", "BaseTreeClassifier BaseTreeRegressor")
    | _names("river.tree.hoeffding_adaptive_tree_classifier", "HoeffdingAdaptiveTreeClassifier")
    | _names("river.tree.hoeffding_tree_classifier", "HoeffdingTreeClassifier")
    | _names("river.tree.hoeffding_tree_regressor", "HoeffdingTreeRegressor")
    # the nodes and splitters those trees grow, whatever the features (numeric or nominal)
    | _names(
        "river.tree.nodes.arf_htc_nodes",
        "RandomLeafMajorityClass RandomLeafNaiveBayes RandomLeafNaiveBayesAdaptive",
    )
    | _names("river.tree.nodes.arf_htr_nodes", "RandomLeafMean RandomLeafModel RandomLeafAdaptive")
    | _names(
        "river.tree.nodes.branch",
        "NumericBinaryBranch NominalBinaryBranch NumericMultiwayBranch NominalMultiwayBranch",
    )
    | _names(
        "river.tree.nodes.hatc_nodes",
        "AdaLeafClassifier AdaNomBinaryBranchClass AdaNumBinaryBranchClass "
        "AdaNomMultiwayBranchClass AdaNumMultiwayBranchClass",
    )
    | _names(
        "river.tree.nodes.htc_nodes", "LeafMajorityClass LeafNaiveBayes LeafNaiveBayesAdaptive"
    )
    | _names("river.tree.nodes.htr_nodes", "LeafMean LeafModel LeafAdaptive")
    | _names("river.tree.splitter.ebst_splitter", "EBSTNode EBSTNode._update_estimator_univariate")
    | _names("river.tree.splitter.gaussian_splitter", "GaussianSplitter")
    | _names("river.tree.splitter.nominal_splitter_classif", "NominalSplitterClassif")
    | _names("river.tree.splitter.nominal_splitter_reg", "NominalSplitterReg")
    | _names("river.tree.splitter.tebst_splitter", "TEBSTSplitter")
    # River: the metrics and the concept detectors
    | _names("river.metrics.accuracy", "Accuracy")
    | _names("river.metrics.base", "Metrics")
    | _names("river.metrics.confusion", "ConfusionMatrix")
    | _names("river.metrics.log_loss", "LogLoss")
    | _names("river.metrics.mae", "MAE")
    | _names("river.metrics.mse", "MSE RMSE")
    | _names("river.drift.adwin", "ADWIN")
    | _names("river.drift.kswin", "KSWIN")
    | _names(
        "river.drift.page_hinkley",
        "PageHinkley PageHinkley._test_increase PageHinkley._test_decrease PageHinkley._test_both",
    )
    | _names("river.drift.binary.ddm", "DDM")
    | _names("river.drift.binary.eddm", "EDDM")
    | _names("river.drift.binary.fhddm", "FHDDM")
    | _names("river.drift.binary.hddm_a", "HDDMA")
    | _names("river.drift.binary.hddm_w", "HDDMW SampleInfo")
    # Driftline's own state
    | _names("service.learner", "Learner")
    | _names("service.feature_kinds", "FeatureKinds")
    | _names("service.candidates", "Candidate Candidates")
    | _names("service.feedback.joins", "JoinMetrics")
    | _names("service.feedback.loop", "FeedbackLoop")
    | _names("service.feedback.pending", "PendingStore Question")
    | _names("service.labels", "LabelGate")
    | _names("service.prequential", "Prequential")
    | _names("service.models", "FlooredStandardScaler ModelSpec OneHotStrings build_model")
    | _names("service.rolling", "RollingMean")
    | _names("service.drift.concept", "ConceptDriftMonitor")
    | _names("service.drift.data", "DataDriftMonitor DistributionDriftMonitor")
    | _names("service.drift.distributions", "AbsentProfile CategoricalProfile NumericProfile")
    | _names("service.drift.log", "DriftEvent DriftLog DriftReport FeatureDrift")
    | _names("service.drift.watch", "DriftConfig DriftWatch")
    | _names("service.strategies.history", "DecayedHistory Labelled WindowHistory")
    | _names("service.strategies.hybrid", "HybridStrategy")
    | _names("service.strategies.costs", "CpuMeter")
    | _names("service.strategies.manager", "ModelManager")
    | _names("service.strategies.memory", "MemorySet")
    | _names("service.strategies.online", "OnlineStrategy StaticStrategy")
    | _names("service.strategies.periodic", "PeriodicStrategy")
    | _names("service.strategies.promotion", "DecisionLog PromotionDecision")
    | _names("service.strategies.rebuild", "Rebuilder")
    | _names("service.strategies.schedule", "RebuildSchedule Scheduled")
    | _names("service.strategies.shadow", "Challenger Probation Served ShadowStage")
    | _names("service.strategies.triggered", "TriggeredStrategy")
    | _names("service.strategies.versions", "ModelVersion VersionStore")
)


#: Where the classes that checkpoints of earlier releases name live now: old (module, qualified
#: name) -> new. A moved name is read as its new one, which must be on the list.
MOVED: dict[tuple[str, str], tuple[str, str]] = {
    ("service.strategies.manager", "_Served"): ("service.strategies.shadow", "Served"),
    ("service.strategies.manager", "_Challenger"): ("service.strategies.shadow", "Challenger"),
    ("service.strategies.manager", "_Probation"): ("service.strategies.shadow", "Probation"),
    ("service.strategies.manager", "_Scheduled"): ("service.strategies.schedule", "Scheduled"),
    ("service.drift.data", "DriftReport"): ("service.drift.log", "DriftReport"),
    ("service.drift.data", "FeatureDrift"): ("service.drift.log", "FeatureDrift"),
}


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, allowed: frozenset[tuple[str, str]]) -> None:
        super().__init__(file)
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return self._getattr
        module, name = MOVED.get((module, name), (module, name))
        if (module, name) not in self._allowed:
            raise pickle.UnpicklingError(
                f"checkpoint refers to {module}.{name}, which is not on the allow-list"
            )
        return super().find_class(module, name)

    def _getattr(self, obj: object, name: str) -> object:
        """``getattr`` for the bound methods on the list, and nothing else."""
        kind = type(obj)
        if (kind.__module__, f"{kind.__qualname__}.{name}") not in self._allowed:
            raise pickle.UnpicklingError(
                f"checkpoint asks for attribute {name!r} of a {kind.__module__}."
                f"{kind.__qualname__}, which is not on the allow-list"
            )
        return getattr(obj, name)


def restricted_loads(data: bytes, extra: Iterable[tuple[str, str]] = ()) -> Any:
    """Unpickle, accepting only :data:`ALLOWED_NAMES` and the ``extra`` (module, qualname) pairs."""
    allowed = ALLOWED_NAMES | frozenset(extra)
    return _AllowListUnpickler(io.BytesIO(data), allowed).load()
