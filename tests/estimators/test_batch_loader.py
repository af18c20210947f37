"""The shared batch loader: one vectorised fetch per batch, reshuffling, per-epoch subsets."""

import numpy as np

from sbt_sklearn.estimators._dataset import BatchLoader


class _Recorder:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def get_batch(self, positions):
        return np.asarray(positions)


def _epoch(loader):
    return np.concatenate(list(loader))


def test_every_window_once_per_epoch_in_a_new_order():
    rng = np.random.default_rng(0)
    first = _epoch(BatchLoader(_Recorder(50), batch_size=8, shuffle=True, seed=rng))
    second = _epoch(BatchLoader(_Recorder(50), batch_size=8, shuffle=True, seed=rng))  # skorch: new loader/epoch
    assert sorted(first) == sorted(second) == list(range(50))
    assert not np.array_equal(first, second)
    assert len(BatchLoader(_Recorder(50), batch_size=8)) == 7
    assert list(_epoch(BatchLoader(_Recorder(10), batch_size=4))) == list(range(10))


def test_max_samples_draws_a_fresh_subset_every_epoch():
    rng = np.random.default_rng(1)
    epochs = [_epoch(BatchLoader(_Recorder(100), batch_size=16, shuffle=True, seed=rng, max_samples=30))
              for _ in range(3)]
    assert all(len(e) == 30 == len(set(e)) for e in epochs)
    assert len(set(map(tuple, map(sorted, epochs)))) == 3
    assert len(BatchLoader(_Recorder(100), batch_size=16, max_samples=30)) == 2
    assert len(_epoch(BatchLoader(_Recorder(100), batch_size=16, max_samples=0.25, seed=0))) == 25
    assert len(_epoch(BatchLoader(_Recorder(10), batch_size=4, max_samples=500))) == 10


def test_same_seed_same_batches():
    a = _epoch(BatchLoader(_Recorder(40), batch_size=8, shuffle=True, seed=3, max_samples=20))
    b = _epoch(BatchLoader(_Recorder(40), batch_size=8, shuffle=True, seed=3, max_samples=20))
    assert np.array_equal(a, b)
