"""
sktime ForecastingBenchmark on ETTh1
====================================

Runs sktime's benchmarking API with the sktime adapter of SBTForecaster on the oil temperature (OT)
of ETTh1 (shipped with the package, CC BY-ND 4.0): an expanding-window splitter refits every model on
a growing history and scores 24-hour-ahead forecasts (the SBT models roll their single-step forecast
forward). Compares SBT at two prune rates, the dense FP32 twin, and sktime baselines (last value,
seasonal last value, and a Ridge regression reduced to forecasting), then prints the results table.
About 4 minutes on 2 CPU cores (``SBT_EXAMPLES_QUICK=1`` shrinks the models and the splits).
"""

import os
import tempfile
import warnings

from sklearn.linear_model import Ridge
from sktime.benchmarking.forecasting import ForecastingBenchmark
from sktime.forecasting.compose import make_reduction
from sktime.forecasting.naive import NaiveForecaster
from sktime.performance_metrics.forecasting import MeanAbsoluteError, MeanSquaredError
from sktime.split import ExpandingWindowSplitter

from sbt_sklearn.data import load_sample_etth1
from sbt_sklearn.sktime import SBTSktimeForecaster


def main(quick=None):
    quick = os.environ.get("SBT_EXAMPLES_QUICK") == "1" if quick is None else quick
    warnings.filterwarnings("ignore")
    hours = 1200 if quick else 2400
    y = load_sample_etth1()["OT"].iloc[:hours].reset_index(drop=True)  # hourly, first 100 days

    sbt = dict(window_length=48, d=16 if quick else 32, d_ff=64 if quick else 128,
               max_epochs=2 if quick else 10, batch_size=64, random_state=0)
    benchmark = ForecastingBenchmark()
    benchmark.add_estimator(SBTSktimeForecaster(p=0.5, **sbt), estimator_id="SBT-p0.5")
    benchmark.add_estimator(SBTSktimeForecaster(p=0.75, **sbt), estimator_id="SBT-p0.75")
    benchmark.add_estimator(SBTSktimeForecaster(p=0.0, binary=False, **sbt), estimator_id="dense-twin")
    benchmark.add_estimator(NaiveForecaster(strategy="last"), estimator_id="last-value")
    benchmark.add_estimator(NaiveForecaster(strategy="last", sp=24), estimator_id="seasonal-last")
    benchmark.add_estimator(make_reduction(Ridge(alpha=1.0), window_length=48, strategy="recursive"),
                            estimator_id="Ridge-recursive")
    splitter = ExpandingWindowSplitter(initial_window=hours - 3 * 168, step_length=168, fh=list(range(1, 25)))
    benchmark.add_task(lambda: y, splitter, [MeanSquaredError(), MeanAbsoluteError()], task_id="ETTh1-OT")
    with tempfile.TemporaryDirectory() as tmp:
        results = benchmark.run(os.path.join(tmp, "results.csv"))
    cols = [c for c in results.columns
            if c == "model_id" or (c.endswith("_mean") and ("Error" in c or "time" in c))]
    table = results[cols].sort_values(cols[1])
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
