"""
sktime ClassificationBenchmark on JapaneseVowels
================================================

Runs sktime's own benchmarking API with the sktime adapter of SBTClassifier: SBT at two prune rates,
the dense FP32 twin and two sktime baselines (MiniRocket and a 1-nearest-neighbour DTW classifier
with a small warping window, each behind sktime's PaddingTransformer in a pipeline) on
JapaneseVowels, pooled and re-split by a shuffled 2-fold (sktime's benchmark passes no labels to the
splitter), and prints the results table. About 3 minutes on 2 CPU cores (``SBT_EXAMPLES_QUICK=1``:
a quarter of the series, small models, 3 epochs: a smoke run).
"""

import os
import tempfile
import warnings

import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import KFold
from sktime.benchmarking.classification import ClassificationBenchmark
from sktime.datasets import load_japanese_vowels
from sktime.transformations.panel.padder import PaddingTransformer

from sbt_sklearn.sktime import SBTSktimeClassifier


def load_task(step=1):
    """Train and test splits concatenated (sktime's benchmark splits them itself); every ``step``-th series."""
    X_train, y_train = load_japanese_vowels(split="train", return_type="nested_univ")
    X_test, y_test = load_japanese_vowels(split="test", return_type="nested_univ")
    X = pd.concat([X_train, X_test], ignore_index=True).iloc[::step].reset_index(drop=True)
    y = pd.Series(list(y_train) + list(y_test)).iloc[::step].reset_index(drop=True)
    return X, y


def main(quick=None):
    quick = os.environ.get("SBT_EXAMPLES_QUICK") == "1" if quick is None else quick
    warnings.filterwarnings("ignore")
    sbt = dict(d=16, d_ff=32, max_epochs=3, random_state=0) if quick else dict(d=32, max_epochs=60, random_state=0)
    benchmark = ClassificationBenchmark()
    benchmark.add_estimator(SBTSktimeClassifier(p=0.5, **sbt), estimator_id="SBT-p0.5")
    benchmark.add_estimator(SBTSktimeClassifier(p=0.75, **sbt), estimator_id="SBT-p0.75")
    benchmark.add_estimator(SBTSktimeClassifier(p=0.0, binary=False, **sbt), estimator_id="dense-twin")
    try:  # MiniRocket needs numba (the benchmarks extra)
        import numba  # noqa: F401
        from sktime.classification.kernel_based import RocketClassifier

        # the peers need equal lengths: an sktime pipeline pads first (SBT masks padding itself)
        benchmark.add_estimator(PaddingTransformer(pad_length=29)
                                * RocketClassifier(rocket_transform="minirocket", random_state=0),
                                estimator_id="pad*MiniRocket")
    except ImportError:
        pass
    from sktime.classification.distance_based import KNeighborsTimeSeriesClassifier

    benchmark.add_estimator(PaddingTransformer(pad_length=29)
                            * KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw",
                                                             distance_params={"window": 0.2}),
                            estimator_id="pad*1NN-DTW")
    # KFold, not a stratified splitter: sktime's benchmark calls split(X) without y
    benchmark.add_task(lambda: load_task(step=4 if quick else 1), KFold(n_splits=2, shuffle=True, random_state=0),
                       [accuracy_score], task_id="JapaneseVowels")
    with tempfile.TemporaryDirectory() as tmp:
        results = benchmark.run(os.path.join(tmp, "results.csv"))
    cols = [c for c in results.columns if c in ("model_id", "accuracy_score_mean", "accuracy_score_std",
                                                 "fit_time_mean", "pred_time_mean")]
    table = results[cols].sort_values("accuracy_score_mean", ascending=False)
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
