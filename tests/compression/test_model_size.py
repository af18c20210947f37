"""Size of a built SBT network agrees with the paper's parameter counts."""

from sbt_sklearn.compression import ArchSpec, paper_param_counts, size_summary
from sbt_sklearn.nn import SBTClassificationNet, SBTLastStepNet


def test_binary_weight_counts_match_the_paper_rules():
    ettm1 = size_summary(SBTLastStepNet(7, 7, d=64, p=0.5))
    spec = ArchSpec(n_channels=7, window=200, d=64, n_outputs=7, task="forecast", norm="none")
    # the paper's 100,000 adds 800 pruned LayerNorm(w) gains of its forecasting model to these weights
    assert ettm1["binary_weights"] == 99_200 == paper_param_counts(spec)["binary"]
    jv_spec = ArchSpec(n_channels=12, window=29, d=32, n_outputs=9, task="classification")
    jv = size_summary(SBTClassificationNet(12, 9, d=32, p=0.5))
    assert jv["binary_weights"] == 41_632 == paper_param_counts(jv_spec)["binary"]
    assert jv["kept_weights"] == sum(
        n - n // 2 for n in [12 * 32, 32 * 9] + [32 * 32] * 8 + [32 * 256, 256 * 32] * 2
    )


def test_dense_twin_has_no_binary_weights_and_ratio_one():
    s = size_summary(SBTLastStepNet(7, 7, d=16, d_ff=32, p=0.0, binary=False))
    assert s["binary_weights"] == 0 and s["kept_fraction"] == 1.0
    assert s["bits_paper"] == s["bits_dense"] and s["size_ratio"] == 1.0
