"""Size of a built SBT network agrees with the paper's parameter counts; the retired names warn."""

import importlib

import pytest

from sbt_sklearn.compression import ArchSpec, honest_counts, paper_param_counts
from sbt_sklearn.nn import SBTClassificationNet, SBTLastStepNet, SparseBinaryLinear


def _kept(net):
    return sum(m.n_keep for m in net.modules() if isinstance(m, SparseBinaryLinear))


def test_binary_weight_counts_match_the_paper_rules():
    ettm1 = honest_counts(SBTLastStepNet(7, 7, d=64, p=0.5))
    spec = ArchSpec(n_channels=7, window=200, d=64, n_outputs=7, task="forecast", norm="none")
    # the paper's 100,000 adds 800 pruned LayerNorm(w) gains of its forecasting model to these weights
    assert ettm1["binary_params"] == 99_200 == paper_param_counts(spec)["binary"]
    jv_spec = ArchSpec(n_channels=12, window=29, d=32, n_outputs=9, task="classification")
    jv_net = SBTClassificationNet(12, 9, d=32, p=0.5)
    assert honest_counts(jv_net)["binary_params"] == 41_632 == paper_param_counts(jv_spec)["binary"]
    assert _kept(jv_net) == sum(
        n - n // 2 for n in [12 * 32, 32 * 9] + [32 * 32] * 8 + [32 * 256, 256 * 32] * 2
    )


def test_dense_twin_has_no_binary_weights_and_keeps_everything():
    net = SBTLastStepNet(7, 7, d=16, d_ff=32, p=0.0, binary=False)
    counts = honest_counts(net)
    assert counts["binary_params"] == 0 and counts["mask_bits"] == 0 and counts["seed_bits"] == 0
    assert _kept(net) == sum(m.weight.numel() for m in net.modules() if isinstance(m, SparseBinaryLinear))


@pytest.mark.parametrize("name", ["size_summary", "encode_json", "decode_json", "encode_mask", "decode_mask",
                                  "write_model_bytes", "Table6Row", "TABLE6_COLUMNS"])
def test_retired_public_names_warn_and_still_work(name):
    compression = importlib.import_module("sbt_sklearn.compression")
    assert name not in compression.__all__
    with pytest.warns(FutureWarning, match=f"compression.{name} is deprecated"):
        obj = getattr(compression, name)
    assert obj is not None
    with pytest.raises(AttributeError):
        compression.no_such_name  # noqa: B018


def test_deprecated_size_summary_counts_as_before():
    with pytest.warns(FutureWarning):
        from sbt_sklearn.compression import size_summary
    ettm1 = size_summary(SBTLastStepNet(7, 7, d=64, p=0.5))
    assert ettm1["binary_weights"] == 99_200
    s = size_summary(SBTLastStepNet(7, 7, d=16, d_ff=32, p=0.0, binary=False))
    assert s["binary_weights"] == 0 and s["kept_fraction"] == 1.0
    assert s["bits_paper"] == s["bits_dense"] and s["size_ratio"] == 1.0
