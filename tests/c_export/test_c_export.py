"""export_c: the generated C99 code, compiled with the host's gcc (-Wall -Wextra -Werror), predicts what
the Python estimators predict on real data, for all three tasks, p in {0, 0.5, 0.75}, the sign-binary
models and their dense twins; on an emulated Cortex-M4 it prints what the host prints."""

import os
import re

import numpy as np
import pytest
from _toolchain import (
    arm_toolchain_missing,
    compile_arm,
    compile_host,
    host_compiler_missing,
    parse_numbers,
    run_host,
    run_qemu,
)

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows
from sbt_sklearn.cli import main as cli_main
from sbt_sklearn.data import load_sample_etth1, load_sample_japanese_vowels, load_sample_telemetry

pytestmark = pytest.mark.skipif(host_compiler_missing() is not None, reason=str(host_compiler_missing()))

TINY = dict(d=16, n_heads=2, n_layers=2, d_ff=32, max_epochs=2, batch_size=32, random_state=0)
#: (p, binary): the sign-binary models at three prune rates and the dense FP32 twin
VARIANTS = [(0.0, True), (0.5, True), (0.75, True), (0.0, False)]
RTOL = 1e-4


def _jv(n_train=60, n_test=12):
    X_train, y_train, X_test, _ = load_sample_japanese_vowels()
    return X_train[:n_train], y_train[:n_train], X_test[:n_test]


def _etth1_windows(window=24):
    values = load_sample_etth1().to_numpy(dtype=np.float32)[:1200]
    return sliding_windows(values, window)


def _telemetry_windows(window=20):
    train, test, _ = load_sample_telemetry("T-8")
    X_train, _ = sliding_windows(train.astype(np.float32), window, horizon=0)
    X_test, _ = sliding_windows(test.astype(np.float32), window, horizon=0)
    return X_train, np.ascontiguousarray(X_test[::97])


def _c_array(name, values, ctype="float"):
    values = np.asarray(values).reshape(-1)
    fmt = (lambda v: f"{float(v):.8e}f") if ctype == "float" else (lambda v: str(int(v)))
    body = ",\n".join(", ".join(fmt(v) for v in values[i : i + 8]) for i in range(0, len(values), 8))
    return f"static const {ctype} {name}[{max(1, len(values))}] = {{\n{body or '0'}\n}};"


def _main_c(prefix, calls, series=False):
    """A test program: for each (rows (T, C), start, capacity) call ``<prefix>_predict`` on a buffer
    holding the rows at ``start`` in a ring of ``capacity`` rows and print every output (with
    ``series``, then also ``<prefix>_series_score`` of the first output and its flag)."""
    upper = prefix.upper()
    data, offsets, meta = [], [], []
    for rows, start, capacity in calls:
        t, c = rows.shape
        ring = np.zeros((capacity, c), dtype=np.float32)
        ring[(start + np.arange(t)) % capacity] = rows
        offsets.append(sum(len(d) for d in data))
        data.append(ring.reshape(-1))
        meta += [t, start, capacity]
    return "\n".join([
        "#include <stdio.h>",
        "#include <stdint.h>",
        f'#include "{prefix}.h"',
        _c_array("data", np.concatenate(data)),
        _c_array("offsets", offsets, "int32_t"),
        _c_array("meta", meta, "int32_t"),
        "int main(void)",
        "{",
        f"    float out[{upper}_N_OUTPUTS];",
        *([f"    {prefix}_series_t state;", f"    {prefix}_series_reset(&state);"] if series else []),
        "    int32_t i, k;",
        f"    for (i = 0; i < {len(calls)}; ++i) {{",
        f"        int rc = {prefix}_predict(data + offsets[i], meta[3 * i], meta[3 * i + 1], meta[3 * i + 2], out);",
        "        if (rc != 0) {",
        '            printf("error %d\\n", rc);',
        "            return 1;",
        "        }",
        f"        for (k = 0; k < {upper}_N_OUTPUTS; ++k) {{",
        '            printf("%.9g\\n", out[k]);',
        "        }",
        *([f"        out[0] = {prefix}_series_score(&state, out);",
           f'        printf("%.9g\\n%d\\n", out[0], {prefix}_series_is_anomaly(out[0]));'] if series else []),
        "    }",
        "    return 0;",
        "}",
        "",
    ])


def _build_and_run(est, calls, tmp_path, prefix="sbt_model", arm=False, series=False, **export):
    info = est.export_c(tmp_path, name=prefix, **export)
    main = tmp_path / "main.c"
    main.write_text(_main_c(prefix, calls, series))
    sources = [main, tmp_path / f"{prefix}.c"]
    host = parse_numbers(run_host(compile_host(sources, tmp_path, include_dirs=[tmp_path])))
    if not arm:
        return host, info
    elf = compile_arm(sources, tmp_path / "arm", include_dirs=[tmp_path])
    return host, parse_numbers(run_qemu(elf)), info


def _assert_close(c_out, expected):
    expected = np.asarray(expected, dtype=np.float64).reshape(-1)
    assert c_out.shape == expected.shape
    np.testing.assert_allclose(c_out, expected, rtol=RTOL, atol=RTOL * max(1.0, float(np.abs(expected).max()) * 1e-3))


def _variant(p, binary):
    return dict(TINY, p=p, binary=binary)


@pytest.mark.parametrize("p,binary", VARIANTS, ids=["p0", "p0.5", "p0.75", "dense"])
def test_classifier_matches_predict_proba_on_unequal_lengths(p, binary, tmp_path):
    X_train, y_train, X_test = _jv()
    clf = SBTClassifier(**_variant(p, binary)).fit(X_train, y_train)
    lengths = [x.shape[1] for x in X_test]
    assert len(set(lengths)) > 3  # unequal lengths, passed through n_steps
    calls = [(x.T.astype(np.float32), 0, x.shape[1]) for x in X_test]
    c_out, info = _build_and_run(clf, calls, tmp_path, max_steps=max(lengths))
    _assert_close(c_out, clf.predict_proba(X_test))
    assert info["max_steps"] == max(lengths) and not info["streamed"]
    assert clf.export_c(tmp_path / "default")["max_steps"] == clf.n_timesteps_


@pytest.mark.parametrize("p,binary", [(0.5, True), (0.0, False)], ids=["p0.5", "dense"])
def test_classifier_with_patch_tokens_matches_predict_proba(p, binary, tmp_path):
    # 4 steps per token: lengths 7..26 end mid-patch, and the C code completes the last patch with
    # the standardised mean as the estimator does
    X_train, y_train, X_test = _jv()
    clf = SBTClassifier(**_variant(p, binary), patch_len=4).fit(X_train, y_train)
    lengths = [x.shape[1] for x in X_test]
    assert {n % 4 for n in lengths} > {0}
    calls = [(x.T.astype(np.float32), 0, x.shape[1]) for x in X_test]
    c_out, info = _build_and_run(clf, calls, tmp_path, max_steps=max(lengths))
    _assert_close(c_out, clf.predict_proba(X_test))
    assert info["max_steps"] == max(lengths)


@pytest.mark.parametrize("p,binary", VARIANTS, ids=["p0", "p0.5", "p0.75", "dense"])
def test_forecaster_matches_predict_with_its_linear_base(p, binary, tmp_path):
    X, y = _etth1_windows()
    f = SBTForecaster(**_variant(p, binary)).fit(X, y)
    assert f.base_lags_ >= 1
    test = np.ascontiguousarray(X[-40::8])
    calls = [(w.T, 0, w.shape[1]) for w in test]
    c_out, info = _build_and_run(f, calls, tmp_path)
    _assert_close(c_out, f.predict(test))
    assert info["streamed"] and info["min_steps"] == f.base_lags_


@pytest.mark.parametrize("p,binary", VARIANTS, ids=["p0", "p0.5", "p0.75", "dense"])
def test_detector_matches_score_samples_and_threshold(p, binary, tmp_path):
    X_train, X_test = _telemetry_windows()
    det = SBTAnomalyDetector(**_variant(p, binary)).fit(X_train)
    assert det.rarity_ == "max"  # the default rule: the score, then its error and rarity terms
    calls = [(w.T, 0, w.shape[1]) for w in X_test]
    c_out, _ = _build_and_run(det, calls, tmp_path)
    _assert_close(c_out.reshape(len(X_test), 3)[:, 0], det.score_samples(X_test))
    header = (tmp_path / "sbt_model.h").read_text()
    offset = float(re.search(r"#define SBT_MODEL_OFFSET (\S+)", header).group(1))
    assert offset == det.offset_ and "#define SBT_MODEL_N_OUTPUTS 3" in header


def _rarity_terms(det, X):
    """The rarity of each window's last row, computed here from the detector's tables."""
    import torch

    from sbt_sklearn.anomaly._typicality import marginal_rarity

    rows = ((np.asarray(X[:, :, -1]) - det.scaler_mean_) / det.scaler_scale_).astype(np.float32)
    values = torch.from_numpy(rows[:, det.rarity_channels_]).double()
    return marginal_rarity(values, torch.from_numpy(det.value_bins_).double()).numpy()


@pytest.mark.parametrize("rarity", [None, "marginal", "max"])
def test_detector_writes_the_score_and_its_terms_for_every_rarity_rule(rarity, tmp_path):
    values = load_sample_etth1().to_numpy(dtype=np.float32)  # continuous values: no steep tie in the tails
    X_train, _ = sliding_windows(values[:1500], 20, horizon=0)
    X_test = np.ascontiguousarray(sliding_windows(values[1500:2100], 20, horizon=0)[0][::23])
    X_test[3, 0, -1] += 10.0  # beyond the training range: the rarity's exponential tail
    det = SBTAnomalyDetector(**TINY, rarity=rarity).fit(X_train)
    alone = SBTAnomalyDetector(**TINY, rarity=None).fit(X_train)  # the same network, the error alone
    calls = [(w.T, 0, w.shape[1]) for w in X_test]
    c_out, info = _build_and_run(det, calls, tmp_path)
    if rarity is None:
        _assert_close(c_out, det.score_samples(X_test))
        return
    rows = c_out.reshape(len(X_test), 3)
    _assert_close(rows[:, 0], det.score_samples(X_test))
    _assert_close(rows[:, 1], -alone.score_samples(X_test))
    _assert_close(rows[:, 2], _rarity_terms(det, X_test))
    flags = rows[:, 0] - det.offset_ < 0
    np.testing.assert_array_equal(flags, det.predict(X_test) == -1)


@pytest.mark.parametrize("smooth,rarity", [("multiscale", "max"), (7, "max"), (1, "max"), ("multiscale", None),
                                          ("multiscale", "marginal")])
def test_detector_series_scores_match_score_series_window_by_window(smooth, rarity, tmp_path):
    # a continuous series: on one whose training scores pile up at one value (T-8's stuck telemetry)
    # the levels are steep near that value and float32 rounding on the device moves them visibly
    values = load_sample_etth1().to_numpy(dtype=np.float32)
    X_train, _ = sliding_windows(values[:1500], 20, horizon=0)
    det = SBTAnomalyDetector(**TINY, smooth=smooth, rarity=rarity).fit(X_train)
    series = values[1500:1620].copy()  # 101 consecutive windows, with a spike in the middle
    series[1570 - 1500, 0] += 8.0
    windows = sliding_windows(series, 20, horizon=0)[0]
    # the ring, the sums and the level search also on the Cortex-M4 (where its toolchain is installed)
    on_arm = smooth == "multiscale" and rarity != "marginal" and arm_toolchain_missing() is None
    run = _build_and_run(det, [(np.ascontiguousarray(w.T), 0, 20) for w in windows], tmp_path, series=True,
                         arm=on_arm)
    c_out, info = (run[0], run[2]) if on_arm else run
    if on_arm:
        np.testing.assert_allclose(run[1], c_out, rtol=1e-5, atol=1e-6)
    n_out = 1 if rarity is None else 3  # the score (and its error and rarity terms), then the series score
    rows = c_out.reshape(len(windows), n_out + 2)
    _assert_close(rows[:, 0], det.score_samples(windows))
    expected = det.score_series(series)[19:]  # the step of each window, in order
    _assert_close(rows[:, n_out], expected)
    flags = -expected > det.series_threshold_
    near = np.isclose(-expected, det.series_threshold_, rtol=1e-4)  # too close to call in float32
    np.testing.assert_array_equal(rows[~near, n_out + 1].astype(bool), flags[~near])
    streams = 2 if (rarity, smooth) == ("max", "multiscale") else 1  # "max": the error's and the rarity's
    assert info["series_state_bytes"] == 8 * streams * ((50 if smooth == "multiscale" else smooth) + (
        5 if smooth == "multiscale" else 1)) + 8
    header = (tmp_path / "sbt_model.h").read_text()
    assert float(re.search(r"#define SBT_MODEL_SERIES_THRESHOLD (\S+)", header).group(1)) == det.series_threshold_


def test_ring_buffer_start_index_reads_the_same_window(tmp_path):
    X, y = _etth1_windows()
    f = SBTForecaster(**TINY).fit(X, y)
    window = np.ascontiguousarray(X[-1].T)  # (T, C)
    t = window.shape[0]
    calls = [(window, 0, t), (window, 5, t), (window, t - 1, t + 7), (window, 3, 2 * t)]
    c_out, _ = _build_and_run(f, calls, tmp_path)
    rows = c_out.reshape(len(calls), -1)
    np.testing.assert_array_equal(rows[1:], np.repeat(rows[:1], len(calls) - 1, axis=0))
    _assert_close(rows[0], f.predict(X[-1:]))


def test_streamed_models_take_longer_windows_in_the_same_memory(tmp_path):
    X, y = _etth1_windows(24)
    f = SBTForecaster(**TINY).fit(X, y)
    long = np.ascontiguousarray(load_sample_etth1().to_numpy(dtype=np.float32)[1200:1300])  # 100 rows
    c_out, info = _build_and_run(f, [(long, 0, len(long))], tmp_path)
    _assert_close(c_out, f.predict(long.T[None]))
    short_info = f.export_c(tmp_path / "again", name="again")
    assert info["ram_bytes"] == short_info["ram_bytes"]  # fixed, whatever the window


def test_generated_code_is_self_contained(tmp_path):
    X_train, y_train, _ = _jv()
    clf = SBTClassifier(**TINY).fit(X_train, y_train)
    info = clf.export_c(tmp_path, name="vowels")
    source, header = open(info["source"]).read(), open(info["header"]).read()
    includes = set(re.findall(r"#include [<\"]([^>\"]+)[>\"]", source + header))
    assert includes == {"vowels.h", "math.h", "stdint.h", "stddef.h"}
    for banned in ("malloc", "calloc", "free(", "stdio", "double W", "FILE"):
        assert banned not in source
    assert "VOWELS_RAM_BYTES" in header and "VOWELS_FLASH_BYTES" in header
    # the sparse-binary weights are bits: no float table as large as a weight matrix
    tables = re.findall(r"static const float (\w+)\[(\d+)\]", source)
    assert max(int(n) for _, n in tables) < clf.d * clf.d_ff


def test_error_codes(tmp_path):
    X, y = _etth1_windows()
    f = SBTForecaster(**{**TINY, "base_lags": 4}).fit(X, y)
    f.export_c(tmp_path, name="m")
    (tmp_path / "main.c").write_text("\n".join([
        "#include <stdio.h>",
        '#include "m.h"',
        "static float x[10 * M_N_CHANNELS];",
        "int main(void)",
        "{",
        "    float out[M_N_OUTPUTS];",
        '    printf("%d\\n", m_predict(NULL, 5, 0, 5, out));',
        '    printf("%d\\n", m_predict(x, 3, 0, 5, out));',  # shorter than base_lags
        '    printf("%d\\n", m_predict(x, 6, 0, 5, out));',  # capacity < n_steps
        '    printf("%d\\n", m_predict(x, 5, 5, 5, out));',  # start outside the ring
        '    printf("%d\\n", m_predict(x, 4, 0, 10, out));',
        "    return 0;",
        "}",
        "",
    ]))
    out = run_host(compile_host([tmp_path / "main.c", tmp_path / "m.c"], tmp_path, include_dirs=[tmp_path]))
    assert out.split() == ["-1", "-2", "-3", "-3", "0"]


def test_bad_arguments_are_clear_errors(tmp_path):
    X, y = _etth1_windows()
    f = SBTForecaster(**TINY).fit(X, y)
    for name in ("int", "1abc", "a-b", "", "x" * 60):
        with pytest.raises(ValueError, match="C identifier"):
            f.export_c(tmp_path, name=name)
    with pytest.raises(ValueError, match="max_steps"):
        f.export_c(tmp_path, max_steps=0)
    assert not os.listdir(tmp_path)


def test_command_line(tmp_path, capsys):
    X, y = _etth1_windows()
    f = SBTForecaster(**TINY).fit(X, y)
    f.save(tmp_path / "model.sbt")
    assert cli_main(["export-c", str(tmp_path / "model.sbt"), str(tmp_path / "c"), "--name", "ett"]) == 0
    assert sorted(os.listdir(tmp_path / "c")) == ["ett.c", "ett.h"]
    assert "ett.c" in capsys.readouterr().out
    assert cli_main(["export-c", str(tmp_path / "missing.sbt"), str(tmp_path / "c")]) == 2
    (tmp_path / "junk.sbt").write_bytes(b"junk")
    assert cli_main(["export-c", str(tmp_path / "junk.sbt"), str(tmp_path / "c")]) == 2
    assert "error" in capsys.readouterr().out


@pytest.mark.skipif(arm_toolchain_missing() is not None, reason=str(arm_toolchain_missing()))
@pytest.mark.parametrize("task", ["classifier", "forecaster", "detector"])
def test_cortex_m4_prints_what_the_host_prints(task, tmp_path):
    export = {}
    if task == "classifier":
        X_train, y_train, X_test = _jv(n_test=4)
        est = SBTClassifier(**_variant(0.5, True)).fit(X_train, y_train)
        calls = [(x.T.astype(np.float32), 0, x.shape[1]) for x in X_test]
        expected = est.predict_proba(X_test)
        export = {"max_steps": max(x.shape[1] for x in X_test)}
    elif task == "forecaster":
        X, y = _etth1_windows()
        est = SBTForecaster(**_variant(0.5, True)).fit(X, y)
        test = np.ascontiguousarray(X[-4:])
        calls = [(w.T, 0, w.shape[1]) for w in test]
        expected = est.predict(test)
    else:
        X_train, X_test = _telemetry_windows()
        est = SBTAnomalyDetector(**_variant(0.5, True)).fit(X_train)
        X_test = X_test[:4]
        calls = [(w.T, 0, w.shape[1]) for w in X_test]
        expected = est.score_samples(X_test)
    host, arm, _ = _build_and_run(est, calls, tmp_path, arm=True, **export)
    _assert_close(host if task != "detector" else host.reshape(len(X_test), 3)[:, 0], expected)
    np.testing.assert_allclose(arm, host, rtol=1e-5, atol=1e-6)


def test_unfitted_unwritable_and_interrupted_exports(tmp_path, monkeypatch):
    from sklearn.exceptions import NotFittedError

    import sbt_sklearn.compression._format as fmt

    with pytest.raises(NotFittedError):
        SBTForecaster().export_c(tmp_path)
    X, y = _etth1_windows()
    f = SBTForecaster(**TINY).fit(X, y)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError):
        f.export_c(blocker / "sub")
    # the second file fails: the first is removed again, nothing half-written stays
    real, calls = fmt.write_file_atomic, []

    def failing(path, blob):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(path, blob)

    monkeypatch.setattr(fmt, "write_file_atomic", failing)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        f.export_c(out)
    assert len(calls) == 2 and os.listdir(out) == []
