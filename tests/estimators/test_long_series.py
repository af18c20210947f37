"""Long and unequal series in SBTClassifier: patch tokens, length buckets, the adaptive training budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from sbt_sklearn import SBTClassifier
from sbt_sklearn.compression import fold_network, honest_flops
from sbt_sklearn.estimators._classifier import AUTO_MAX_TOKENS, auto_patch_len
from sbt_sklearn.estimators._dataset import BatchLoader, WindowDataset
from sbt_sklearn.nn import SBTClassificationNet, patch_tokens

TINY = dict(d=16, n_heads=2, n_layers=1, d_ff=32, max_epochs=3, batch_size=16, random_state=0)


def _panel(n=40, channels=2, lengths=(70, 131), seed=0):
    """Unequal series whose class is the sign of a bump in the first channel."""
    rng = np.random.default_rng(seed)
    series, labels = [], []
    for i in range(n):
        length = lengths[1] if i == 0 else int(rng.integers(lengths[0], lengths[1] + 1))
        x = rng.normal(scale=0.3, size=(channels, length)).astype(np.float32)
        label = i % 2
        x[0, length // 3 : length // 2] += 1.5 if label else -1.5
        series.append(x)
        labels.append(label)
    return series, np.array(labels)


# -- patch tokens ------------------------------------------------------------------------------
def test_patch_tokens_group_steps_and_mask_whole_patches_only():
    x = torch.arange(2 * 7 * 3, dtype=torch.float32).reshape(2, 7, 3)
    pad = torch.tensor([[False] * 7, [False] * 4 + [True] * 3])
    tokens, mask = patch_tokens(x, pad, 3)
    assert tokens.shape == (2, 3, 9)
    assert torch.equal(tokens[0, 0], x[0, :3].reshape(-1))  # step-major: three rows of three channels
    assert torch.equal(tokens[0, 2], torch.cat([x[0, 6], torch.zeros(6)]))  # completed with zeros
    assert mask.tolist() == [[False, False, False], [False, False, True]]  # step 3 keeps token 1 valid
    same, none = patch_tokens(x, None, 1)
    assert same is x and none is None


def test_auto_patch_len_keeps_per_step_tokens_for_short_series():
    assert [auto_patch_len(t) for t in (1, AUTO_MAX_TOKENS, AUTO_MAX_TOKENS + 1, 1460)] == [1, 1, 2, 46]
    for t in range(1, 3000, 37):
        assert -(-t // auto_patch_len(t)) <= AUTO_MAX_TOKENS


def test_short_series_build_the_per_step_network_as_before():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3, AUTO_MAX_TOKENS)).astype(np.float32)
    y = np.arange(24) % 2
    auto = SBTClassifier(**TINY).fit(X, y)
    per_step = SBTClassifier(**TINY, patch_len=1).fit(X, y)
    assert auto.patch_len_ == 1 and auto.module_.encoder.embed.in_features == 3
    np.testing.assert_array_equal(auto.predict_proba(X), per_step.predict_proba(X))


def test_long_series_get_patches_and_padding_never_changes_a_prediction():
    series, y = _panel()
    clf = SBTClassifier(**TINY).fit(series, y)
    assert clf.n_timesteps_ == max(s.shape[1] for s in series)
    assert clf.patch_len_ == auto_patch_len(clf.n_timesteps_) == 5
    assert clf.module_.encoder.embed.in_features == 2 * 5
    together = clf.predict_proba(series)  # run shortest first, in length buckets, and put back in order
    alone = np.concatenate([clf.predict_proba([s]) for s in series])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-6)
    longer = [np.pad(s, ((0, 0), (0, 0))) for s in series] + [np.zeros((2, 400), np.float32)]
    np.testing.assert_allclose(clf.predict_proba(longer)[:-1], together, rtol=0, atol=1e-6)


def test_patch_len_is_validated_and_settable():
    series, y = _panel(n=20)
    with pytest.raises(InvalidParameterError, match="patch_len"):
        SBTClassifier(patch_len=0).fit(series, y)
    clf = SBTClassifier(**TINY, patch_len=7).fit(series, y)
    assert clf.patch_len_ == 7 and clf.module_.encoder.embed.in_features == 14
    with pytest.raises(ValueError, match="patch_len"):
        SBTClassificationNet(2, 2, patch_len=0)


# -- exports and counts follow the tokens ---------------------------------------------------------
def test_folded_report_and_file_follow_the_patches(tmp_path):
    series, y = _panel(n=24)
    clf = SBTClassifier(**TINY, patch_len=4).fit(series, y)
    X = np.stack([s[:, :70] for s in series])  # complete windows of 70 steps: 18 tokens, the last half full
    folded = clf.export_folded()
    np.testing.assert_allclose(folded(torch.from_numpy(X)).numpy(), clf.predict_proba(X), rtol=0, atol=1e-5)
    assert folded.max_len >= clf.n_timesteps_
    net = clf.module_
    twin = SBTClassificationNet(8, 2, **{k: v for k, v in clf.net_.get_params_for("module").items()
                                         if k not in ("n_channels", "n_classes", "patch_len")})
    twin.load_state_dict(net.state_dict())
    assert honest_flops(net, 70) == honest_flops(twin, 18)  # 70 steps are 18 tokens of 8 inputs
    report = clf.compression_report().to_dict()
    assert report["model"]["patch_len"] == 4 and report["model"]["n_channels"] == 2
    path = tmp_path / "m.sbt"
    clf.save(path)
    loaded = SBTClassifier.load(path)
    assert loaded.patch_len_ == 4
    np.testing.assert_array_equal(loaded.predict_proba(series), clf.predict_proba(series))
    unfolded = fold_network(net, max_len=9)
    assert unfolded.max_len == 12  # 9 steps need 3 tokens of 4 steps


# -- length buckets -----------------------------------------------------------------------------
def test_training_batches_are_length_buckets_that_cover_every_series_once():
    lengths = np.random.default_rng(1).integers(5, 200, size=300)
    t = int(lengths.max())
    pad = np.arange(t)[None, :] >= lengths[:, None]
    X = np.zeros((300, 1, t), dtype=np.float32)
    seen_lengths, seen = [], []

    def make_batch(x, y, p):
        return p, y

    ds = WindowDataset(X, np.arange(300), pad, mean=[0.0], scale=[1.0], make_batch=make_batch)
    loader = BatchLoader(ds, batch_size=10, shuffle=True, seed=np.random.default_rng(0))
    for _, idx in loader:
        seen.extend(idx.tolist())
        seen_lengths.append(lengths[idx.numpy()])
    assert sorted(seen) == list(range(300))
    spread = np.mean([b.max() - b.min() for b in seen_lengths])
    assert spread < 0.25 * np.mean(lengths.max() - lengths.min())  # batches of similar lengths
    first = [i for i, _ in zip(seen, range(10))]
    again = [int(i) for _, idx in BatchLoader(ds, batch_size=10, shuffle=True, seed=np.random.default_rng(0))
             for i in idx][:10]
    assert first == again  # reproducible from the seed


def test_a_training_batch_pads_only_to_its_longest_series():
    x = torch.zeros(3, 50, 2)
    pad = torch.zeros(3, 50, dtype=torch.bool)
    pad[:, 20:] = True
    pad[1, 12:] = True
    inputs, _ = SBTClassifier._make_batch(x, None, pad)
    assert inputs["x"].shape == (3, 20, 2) and inputs["padding_mask"].shape == (3, 20)
    assert bool(inputs["padding_mask"][1, 12:].all()) and not bool(inputs["padding_mask"][0].any())


# -- the training budget --------------------------------------------------------------------------
@pytest.mark.parametrize("n, epochs, early", [(20, 500, False), (67, 334, False), (270, 112, False),
                                              (999, 100, False), (5000, 100, True)])
def test_auto_budget_rule(n, epochs, early):
    assert SBTClassifier()._training_budget(n) == (epochs, early)


def test_explicit_budget_and_pals_are_respected():
    assert SBTClassifier(max_epochs=7, early_stopping=False)._training_budget(5000) == (7, False)
    assert SBTClassifier(early_stopping=True)._training_budget(20) == (500, True)
    assert SBTClassifier(pals=True)._training_budget(5000)[1] is False
    assert SBTClassifier(batch_size=8)._training_budget(20) == (334, False)


def test_a_fit_trains_the_epochs_the_rule_gives():
    series, y = _panel(n=20)
    clf = SBTClassifier(**{**TINY, "max_epochs": "auto", "d": 8, "d_ff": 8, "batch_size": 20})
    clf._AUTO_STEPS, clf._AUTO_MIN_EPOCHS = 30, 1  # a short fit: 30 steps of one batch
    clf.fit(series, y)
    assert clf.n_epochs_ == 30 and len(clf.history_) == 30
    assert not hasattr(clf, "_fit_budget")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script is deprecated, still offered
def test_patched_models_export_to_torchscript_torch_export_and_onnx(tmp_path):
    series, y = _panel(n=24)
    clf = SBTClassifier(**TINY, patch_len=4).fit(series, y)
    X = np.stack([s[:, :70] for s in series])
    expected = clf.predict_proba(X)
    folded = clf.export_folded()
    scripted = torch.jit.script(folded)
    np.testing.assert_allclose(scripted(torch.from_numpy(X)).numpy(), expected, rtol=0, atol=1e-5)
    program = torch.export.export(folded, (torch.from_numpy(X),))
    np.testing.assert_allclose(program.module()(torch.from_numpy(X)).numpy(), expected, rtol=0, atol=1e-5)
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    clf.n_timesteps_ = 70  # the ONNX graph takes windows of n_timesteps_ steps
    session = onnxruntime.InferenceSession(clf.export_onnx(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"x": X})[0], expected, rtol=0, atol=1e-5)


def test_pals_and_the_sktime_adapter_take_patches():
    from sbt_sklearn.sktime import SBTSktimeClassifier

    series, y = _panel(n=24)
    pals = SBTClassifier(**{**TINY, "max_epochs": 4}, patch_len=4, pals=True, pals_interval=1).fit(series, y)
    assert pals.patch_len_ == 4 and len(pals.pals_history_) > 0
    X = np.stack([s[:, :70] for s in series])  # sktime's numpy3D
    adapter = SBTSktimeClassifier(**TINY, patch_len=4).fit(X, y)
    assert adapter.estimator_.patch_len_ == 4
    direct = SBTClassifier(**TINY, patch_len=4).fit(X, y)
    np.testing.assert_array_equal(adapter.predict_proba(X), direct.predict_proba(X))


def test_the_forecasters_auto_budget_keeps_ten_epochs_on_long_series():
    from sbt_sklearn import SBTForecaster

    # about 300 steps, at least 10 epochs: 3,840 windows (30 batches of 128) and more train 10 epochs
    assert SBTForecaster()._training_budget(34_560) == (10, False)
    assert SBTForecaster()._training_budget(3_840) == (10, False)
    assert SBTForecaster()._training_budget(1_200) == (30, False)
    assert SBTForecaster()._training_budget(96) == (300, False)
    assert SBTForecaster(max_windows_per_epoch=256)._training_budget(34_560) == (150, False)


def test_patch_tokens_zero_the_padded_steps_of_a_partial_patch():
    torch.manual_seed(0)
    net = SBTClassificationNet(2, 3, d=8, n_layers=1, d_ff=16, patch_len=4, max_len=8).eval()
    x = torch.randn(1, 10, 2)
    padded = torch.cat([x, torch.randn(1, 6, 2) * 100], dim=1)  # garbage in the padding
    mask = torch.tensor([[False] * 10 + [True] * 6])
    with torch.no_grad():
        torch.testing.assert_close(net(padded, mask), net(x), rtol=0, atol=1e-5)
