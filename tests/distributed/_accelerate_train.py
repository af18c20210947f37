"""Data-parallel training of the SBT estimators, run by ``test_accelerate.py`` under torchrun.

Usage: ``torchrun --nproc_per_node N _accelerate_train.py OUT_DIR [classifier forecaster anomaly]``.
Every process trains the same estimators on the same data (each on its share of every batch);
process 0 writes ``OUT_DIR/result.json`` and ``OUT_DIR/<task>.pkl`` (a plain estimator from
:func:`sbt_sklearn.distributed.to_local`).
"""

import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
from accelerate import Accelerator
from accelerate.utils import gather_object
from skorch.callbacks import Callback

# tiny models: the point is the plumbing, not accuracy. norm="layer": no per-process batch statistics
PARAMS = dict(d=8, n_heads=2, n_layers=1, d_ff=16, max_epochs=2, batch_size=16, norm="layer", early_stopping=False,
              random_state=0)


class CountTrainingSamples(Callback):
    """Counts the training samples and batches this process saw."""

    def initialize(self):
        self.samples_, self.batches_ = 0, 0
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.samples_ += len(batch[1])
            self.batches_ += 1


def classification_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3, 16)).astype(np.float32)
    y = np.repeat(np.array(["a", "b"]), 32)
    X[y == "b", 0] += 1.0
    return X, y


def series_data(n=160):
    t = np.arange(n, dtype=np.float32)
    return np.stack([np.sin(t / 5), np.cos(t / 7)], axis=1)  # (timesteps, channels)


def run(task, acc):
    from _accelerate_train import CountTrainingSamples  # by module name: to_local's pickle must load elsewhere

    from sbt_sklearn import sliding_windows
    from sbt_sklearn.distributed import (
        AcceleratedSBTAnomalyDetector,
        AcceleratedSBTClassifier,
        AcceleratedSBTForecaster,
    )

    counter = CountTrainingSamples()
    if task == "classifier":
        X, y = classification_data()
        est = AcceleratedSBTClassifier(accelerator=acc, callbacks=[("count", counter)], **PARAMS).fit(X, y)
        out = est.predict_proba(X)
    elif task == "forecaster":
        X, y = sliding_windows(series_data(), window=16)
        est = AcceleratedSBTForecaster(accelerator=acc, callbacks=[("count", counter)], **PARAMS).fit(X, y)
        out = est.predict(X)
    elif task == "anomaly":
        X, _ = sliding_windows(series_data(), window=16, horizon=0)
        est = AcceleratedSBTAnomalyDetector(accelerator=acc, callbacks=[("count", counter)], **PARAMS).fit(X)
        out = est.score_samples(X)
    else:
        raise ValueError(task)
    counter = dict(est.net_.callbacks_)["count"]
    state = est.net_.module_.state_dict()
    checksum = float(sum(v.double().abs().sum() for v in state.values() if v.is_floating_point()))
    per_rank = gather_object([dict(rank=acc.process_index, samples=counter.samples_, batches=counter.batches_,
                                   checksum=checksum, out_sum=float(np.sum(out)))])
    result = dict(per_rank=per_rank, n_train=int(len(X)), out=np.asarray(out).tolist())
    if acc.is_main_process:
        pickle.dumps(est)  # the accelerated estimator itself must pickle after training
        from sbt_sklearn.distributed import to_local

        with open(OUT / f"{task}.pkl", "wb") as fh:
            pickle.dump(to_local(est), fh)
    return result


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    OUT = Path(sys.argv[1])
    tasks = sys.argv[2:] or ["classifier"]
    acc = Accelerator(cpu=True)
    results = dict(world_size=acc.num_processes, distributed_type=str(acc.distributed_type), tasks={})
    for task in tasks:
        try:
            results["tasks"][task] = run(task, acc)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            import traceback

            results["tasks"][task] = dict(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
            break  # the other process may be stuck in a collective call: stop here
    acc.wait_for_everyone()
    if acc.is_main_process:
        (OUT / "result.json").write_text(json.dumps(results))
    acc.end_training()  # destroys the gloo process group while the interpreter is fully alive
    # Then leave without interpreter finalization: in CI a worker aborted after everything was
    # written ("terminate called without an active exception", SIGABRT), the way gloo's worker
    # threads abort when objects they hold are torn down during finalization (pytorch/pytorch
    # issue 190489, pull request 179291). Nothing is left to flush but the standard streams.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
