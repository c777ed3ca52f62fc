"""The drift package's defaults, each with the reason for its value.

Kept apart from the monitors so that the settings can read them without importing River,
numpy or scipy. The concept-drift values come from ``bench/drift_detection.py`` (5 scenarios x
5 seeds x 20,000 events, a logistic regression learning test-then-train; table in README).

Examples
--------
>>> DEFAULT_DETECTOR, DEFAULT_COOLDOWN < DEFAULT_QUIET_PERIOD, DEFAULT_RULE
('adwin', True, 'psi_and_ks')
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEFAULT_ADWIN_DELTA",
    "DEFAULT_BINS",
    "DEFAULT_COOLDOWN",
    "DEFAULT_DETECTOR",
    "DEFAULT_EVERY",
    "DEFAULT_KS_ALPHA",
    "DEFAULT_LOG_SIZE",
    "DEFAULT_MAX_FEATURES",
    "DEFAULT_PSI_THRESHOLD",
    "DEFAULT_QUIET_PERIOD",
    "DEFAULT_RULE",
    "DEFAULT_TOP_CATEGORIES",
    "DEFAULT_TRACKED_FEATURES",
    "DEFAULT_WINDOW",
]

# -- Concept drift: the detector on the prequential error ------------------------------------

# ADWIN: no false alarm on any scenario of the benchmark, and it watches any error, a
# classifier's 0/1 or a regressor's absolute error (the binary detectors take only 0/1).
DEFAULT_DETECTOR: Final = "adwin"
# ADWIN's delta: River's 0.002. No false alarm on any scenario, every abrupt change caught 47
# events after it; on Bernoulli error streams no false alarm in 600,000 events, where 0.05 gives
# the first. A larger delta is faster only on slow rises (0.01: gradual change 195 events
# instead of 259, a 15% -> 22.5% rise 463 instead of 575), and real error streams, bursty rather
# than independent, need the margin.
DEFAULT_ADWIN_DELTA: Final = 0.002
# Events after an alarm during which further detections are taken for the same change. Without
# a cooldown the detectors re-fire within 28 (HDDM-A), 148 (DDM) and 697 (HDDM-W) events of an
# alarm, while separate changes are at least 4,610 events apart: 1,000 sits between the two.
DEFAULT_COOLDOWN: Final = 1_000
# Events without any detection after which the active state clears: above the longest burst
# and a gradual change's 1,000-event transition, so one change stays one episode; below the
# shortest gap between changes, so the next change starts a new one.
DEFAULT_QUIET_PERIOD: Final = 2_000

# -- Data, prediction and label drift: reference and recent windows --------------------------

# Events in the reference and in the recent window: ~100 per PSI bucket, and enough for the K-S
# test to see a shift of a quarter of a standard deviation.
DEFAULT_WINDOW: Final = 1_000
# Events between two evaluations: one window, so each evaluation sees a fresh batch of events
# (independent tests) and each event is pulled out of its dict once. An evaluation costs about
# 0.2 ms per feature (columns, sort, K-S): 1.2 µs per event for five features, twice that at
# every=500 for at most half a window less delay.
DEFAULT_EVERY: Final = 1_000
# The usual reading of PSI: above 0.2, a significant shift. In the benchmark it flags both
# shifted features of the covariate scenario at the first evaluation after the shift, shifts
# from half a standard deviation up, and nothing on 100,000 stationary events; sampling noise
# alone stays near 0.02 with the default window (see DEFAULT_BINS).
DEFAULT_PSI_THRESHOLD: Final = 0.2
# Family-wise significance of the K-S tests of one evaluation (Bonferroni over the numeric
# features). The p-values are calibrated (checked by simulation at n = 50 to 1,000), so a
# stationary stream fails an evaluation with probability ~0.01; with the default rule the PSI
# must agree as well.
DEFAULT_KS_ALPHA: Final = 0.01
# PSI and K-S together: at 1,000-event windows as sensitive as PSI alone (the K-S test agrees
# whenever PSI is above 0.2) and, unlike PSI alone, it stays quiet with small windows.
DEFAULT_RULE: Final = "psi_and_ks"
# Ten quantile buckets: the usual choice for PSI, each holding ~100 events of a 1,000-event
# window, so sampling noise alone gives a PSI near 9 * (1/1000 + 1/1000) = 0.018.
DEFAULT_BINS: Final = 10
# Categories beyond the 20 most frequent share the ``other`` bucket, so a high-cardinality
# string (an id, a free-text field) cannot blow up the number of buckets.
DEFAULT_TOP_CATEGORIES: Final = 20
# Events have a bounded number of features, but their names need not repeat: past this many
# distinct names, new ones are not tracked, so memory and the exported series stay bounded.
DEFAULT_MAX_FEATURES: Final = 100
# Features the service's drift watch tracks when no watch list is given: enough for typical
# tabular events, and a bound on both the evaluation cost and the number of per-feature series.
DEFAULT_TRACKED_FEATURES: Final = 50

# -- What is kept for GET /drift -------------------------------------------------------------

# Enough to show the last few episodes of every kind on ``GET /drift`` without the log ever
# growing with the stream; older events live on only in the counters.
DEFAULT_LOG_SIZE: Final = 100
