"""Classification part of the demo: SBTClassifier and its dense twin on the vendored JapaneseVowels sample."""

from __future__ import annotations

import time

from ._progress import progress
from ._sizes import model_size, size_line

__all__ = ["demo_classification"]


def demo_classification(print_fn=print, max_epochs: int = 100, *, n_jobs="auto") -> dict:
    """Fit SBTClassifier (p=0.5) and its dense twin on JapaneseVowels and compare them.

    Both models (``d=32``, ``random_state=0``) are fitted on the sample shipped with the
    package and scored on its test part. Prints a table of test accuracy, fit time, kept
    fraction of the weights and model size (under the SBT paper's convention, under the honest
    one, and the bytes of the saved model file), then one line comparing the SBT model with its
    dense twin.

    Parameters
    ----------
    print_fn : callable, default=print
        Where the report lines go.
    max_epochs : int, default=100
        Epochs of each fit (the quick demo uses 20).
    n_jobs : "auto", int or None, default="auto"
        Threads of each fit (the estimators' ``n_jobs``).

    Returns
    -------
    rows : dict
        ``{"SBT p=0.5": ..., "dense twin": ...}``, each a dict with ``accuracy``, ``fit_s`` and
        the keys of the model's size (``kept_fraction``, ``size_bits_paper``,
        ``size_bits_honest``, ``dense_size_bits``, ``file_bytes``, ``dense_file_bytes``).

    Examples
    --------
    >>> from sbt_sklearn.demo import demo_classification
    >>> rows = demo_classification(print_fn=lambda *a: None, max_epochs=20)  # doctest: +SKIP
    >>> rows["SBT p=0.5"]["accuracy"] > 0.9  # doctest: +SKIP
    True
    """
    from ..data import load_sample_japanese_vowels
    from ..estimators import SBTClassifier

    X_train, y_train, X_test, y_test = load_sample_japanese_vowels()
    print_fn(f"JapaneseVowels: {len(X_train)} train / {len(X_test)} test series, 12 channels, "
             f"lengths {min(s.shape[1] for s in X_train)}-{max(s.shape[1] for s in X_test)} (padded with a mask)")
    # one tiny fit first, so the timings below do not include torch's one-time lazy imports
    SBTClassifier(d=8, d_ff=8, n_layers=1, max_epochs=1, n_jobs=n_jobs).fit(X_train[::10], y_train[::10])
    rows = {}
    for name, params in (("SBT p=0.5", dict(p=0.5)), ("dense twin", dict(p=0.0, binary=False))):
        print_fn(f"  fitting {name} ({max_epochs} epochs)")
        start = time.perf_counter()
        clf = SBTClassifier(d=32, max_epochs=max_epochs, random_state=0, n_jobs=n_jobs,
                            callbacks=progress(name, print_fn), **params).fit(X_train, y_train)
        fit_s = time.perf_counter() - start
        rows[name] = dict(accuracy=clf.score(X_test, y_test), fit_s=fit_s, **model_size(clf))
    sbt, dense = rows["SBT p=0.5"], rows["dense twin"]
    print_fn(f"{'model':<12}{'accuracy':>10}{'fit s':>8}{'kept':>7}{'paper kbit':>12}{'honest kbit':>13}"
             f"{'file B':>9}")
    for name, r in rows.items():
        print_fn(f"{name:<12}{100 * r['accuracy']:>9.1f}%{r['fit_s']:>8.1f}{r['kept_fraction']:>7.2f}"
                 f"{r['size_bits_paper'] / 1e3:>12.1f}{r['size_bits_honest'] / 1e3:>13.1f}{r['file_bytes']:>9,}")
    print_fn(f"SBT p=0.5 {size_line(sbt)}")
    print_fn(f"SBT model is {sbt['dense_size_bits'] / sbt['size_bits_honest']:.1f}x smaller than its dense twin "
             f"(honest convention; {sbt['dense_file_bytes'] / sbt['file_bytes']:.1f}x in file bytes) at "
             f"{100 * (sbt['accuracy'] - dense['accuracy']):+.1f} accuracy points")
    return rows
