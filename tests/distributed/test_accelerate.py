"""Data-parallel training through accelerate: 2 CPU processes (gloo) started with torchrun.

One torchrun launch trains all three estimators (start-up dominates the cost); the test checks
that both processes trained on half of every batch, ended with identical weights, gathered the
predictions of all rows, and that the model equals a single-process fit up to float rounding.
"""

import json
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("accelerate", reason='accelerate is not installed (pip install "sbt-sklearn[accelerate]")')

sys.path.insert(0, str(Path(__file__).parent))  # the torchrun script doubles as the data module
import _accelerate_train as script  # noqa: E402

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows  # noqa: E402

SCRIPT = Path(__file__).with_name("_accelerate_train.py")
TASKS = ["classifier", "forecaster", "anomaly"]
TIMEOUT_S = 110


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("accelerate")
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"  # keep gloo on the loopback interface
    failures = []
    # One retry for failures of torch's C++ runtime, not of our code: on busy machines a worker
    # has died with "terminate called without an active exception" (no Python frame) right after
    # start and, once in CI, at exit after the result was written. Errors of our code are reported
    # in result.json by the script and never retried.
    for _ in range(2):
        (out / "result.json").unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1",
               "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(SCRIPT), str(out), *TASKS]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:  # subprocess.run kills torchrun; torchrun's children follow
            pytest.fail(f"torchrun did not finish in {TIMEOUT_S} s:\n{exc.stdout}\n{exc.stderr}")
        if proc.returncode == 0:
            return json.loads((out / "result.json").read_text()), out
        failures.append(f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
        result = out / "result.json"
        if result.exists() and any("error" in r for r in json.loads(result.read_text())["tasks"].values()):
            break  # our code failed and said so: no infrastructure failure to retry
    pytest.fail("torchrun failed:\n" + "\n---- retry ----\n".join(failures))


def _task(result, task):
    res = result["tasks"].get(task)
    assert res is not None, f"{task} did not run (an earlier task failed)"
    assert "error" not in res, res.get("traceback")
    return res


def _expected(task):
    """The same model fitted in one process without accelerate."""
    params = script.PARAMS
    if task == "classifier":
        X, y = script.classification_data()
        return SBTClassifier(**params).fit(X, y).predict_proba(X), X
    if task == "forecaster":
        X, y = sliding_windows(script.series_data(), window=16)
        return SBTForecaster(**params).fit(X, y).predict(X), X
    X, _ = sliding_windows(script.series_data(), window=16, horizon=0)
    return SBTAnomalyDetector(**params).fit(X).score_samples(X), X


def test_two_cpu_processes(two_process_run):
    result, _ = two_process_run
    assert result["world_size"] == 2
    assert result["distributed_type"].endswith("MULTI_CPU")


@pytest.mark.parametrize("task", TASKS)
def test_data_parallel_fit(two_process_run, task):
    result, out = two_process_run
    res = _task(result, task)
    ranks = res["per_rank"]
    assert sorted(r["rank"] for r in ranks) == [0, 1]
    # both processes trained, on the same number of steps, each on half of every batch
    assert ranks[0]["batches"] == ranks[1]["batches"] > 0
    assert ranks[0]["samples"] > 0 and abs(ranks[0]["samples"] - ranks[1]["samples"]) <= ranks[0]["batches"]
    epochs = script.PARAMS["max_epochs"]
    # a process whose share of the last batch is empty trains on one sample with weight 0
    assert 0 < ranks[0]["samples"] + ranks[1]["samples"] <= epochs * (res["n_train"] + 1)
    # DDP kept the replicas identical, and every process got the same gathered predictions
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"], rel=1e-12)
    assert ranks[0]["out_sum"] == pytest.approx(ranks[1]["out_sum"], rel=1e-9)

    gathered = np.asarray(res["out"])
    expected, X = _expected(task)
    assert gathered.shape == expected.shape  # all rows, in order, once
    # split batches + averaged gradients = the single-process fit, up to float rounding
    np.testing.assert_allclose(gathered, expected, rtol=1e-3, atol=1e-3)

    # the plain copy written by process 0 predicts the same without accelerate
    with open(out / f"{task}.pkl", "rb") as fh:
        local = pickle.load(fh)
    assert type(local) in (SBTClassifier, SBTForecaster, SBTAnomalyDetector)
    method = {"classifier": "predict_proba", "forecaster": "predict", "anomaly": "score_samples"}[task]
    np.testing.assert_allclose(getattr(local, method)(X), gathered, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore::skorch.exceptions.DeviceWarning")  # unpickling a net with device=None
def test_accelerated_estimator_single_process():
    """Without a launcher: one process, the accelerated class behaves as the plain one."""
    from accelerate import Accelerator
    from sklearn.base import clone

    from sbt_sklearn.distributed import AcceleratedSBTClassifier, to_local

    X, y = script.classification_data()
    acc = Accelerator(cpu=True)
    est = AcceleratedSBTClassifier(accelerator=acc, **script.PARAMS)
    assert clone(est).get_params()["accelerator"] is acc
    est.fit(X, y)
    expected = SBTClassifier(**script.PARAMS).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(est.predict_proba(X), expected, rtol=1e-6, atol=1e-6)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(restored.predict_proba(X), expected, rtol=1e-6, atol=1e-6)
    local = to_local(est)
    assert type(local) is SBTClassifier and local.get_params()["d"] == script.PARAMS["d"]
    np.testing.assert_allclose(local.predict_proba(X), expected, rtol=1e-6, atol=1e-6)


def test_pals_is_rejected():
    from sbt_sklearn.distributed import AcceleratedSBTClassifier

    X, y = script.classification_data()
    with pytest.raises(ValueError, match="pals"):
        AcceleratedSBTClassifier(pals=True, **script.PARAMS).fit(X, y)
