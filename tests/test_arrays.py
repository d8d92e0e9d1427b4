"""The sort-based distinct values give numpy's answers, on random keys and at the edges."""

from __future__ import annotations

import numpy as np
import pytest

from kennai.arrays import radix_sorted, unique_rows_inverse, unique_sorted


@pytest.mark.parametrize("n", [0, 1, 2, 1000, 50_000])
def test_unique_sorted_is_numpys(n: int) -> None:
    values = np.random.default_rng(n).integers(-50, 50, n)
    assert np.array_equal(unique_sorted(values), np.unique(values))
    assert np.array_equal(unique_sorted(values, kind="stable"), np.unique(values))


@pytest.mark.parametrize("n", [1, 2, 1000, 50_000])
def test_unique_rows_inverse_is_numpys(n: int) -> None:
    rows = np.random.default_rng(n).integers(-5, 5, (n, 2))
    expect = np.unique(rows, axis=0, return_inverse=True)[1].ravel()
    assert np.array_equal(unique_rows_inverse(rows), expect)


def test_rows_too_wide_for_one_key_still_agree() -> None:
    rows = np.array([[-(2**40), 2**40], [2**40, -(2**40)], [-(2**40), 2**40], [0, 0]])
    expect = np.unique(rows, axis=0, return_inverse=True)[1].ravel()
    assert np.array_equal(unique_rows_inverse(rows), expect)
    assert len(unique_rows_inverse(np.zeros((0, 2), dtype=np.int64))) == 0


@pytest.mark.parametrize("bits", [1, 15, 16, 17, 37, 62])
@pytest.mark.parametrize("n", [0, 1, 2, 1000, 50_000])
def test_radix_sort_is_numpys_at_every_width(n: int, bits: int) -> None:
    """Keys of 1 to 62 bits, with a digit boundary either side (16, 17) and duplicates."""
    rng = np.random.default_rng(n + bits)
    values = rng.integers(0, 2**bits, n, dtype=np.int64)
    values[: n // 3] = values[n // 3: 2 * (n // 3)]  # repeats
    assert np.array_equal(radix_sorted(values), np.sort(values))
    assert np.array_equal(unique_sorted(values, kind="keys"), np.unique(values))
    assert np.array_equal(radix_sorted(values.astype(np.uint64)), np.sort(values.astype(np.uint64)))


def test_keys_in_runs_and_keys_in_no_order_sort_alike() -> None:
    """``kind="keys"`` takes timsort for runs and the radix sort otherwise: both numpy's."""
    rng = np.random.default_rng(3)
    runs = np.concatenate([np.sort(rng.integers(0, 2**40, 5000)) for _ in range(4)])
    shuffled = rng.permutation(runs)
    for values in (runs, shuffled):
        assert np.array_equal(unique_sorted(values, kind="keys"), np.unique(values))
    with pytest.raises(ValueError, match="non-negative"):
        radix_sorted(np.array([3, -1, 2]))
    with pytest.raises(ValueError, match="non-negative"):
        radix_sorted(np.array([-1.0]))  # one value is checked too
    with pytest.raises(ValueError, match="integers"):
        unique_sorted(np.array([1.0, 2.0]), kind="keys")
    for small in (np.uint8, np.int16, np.uint16):
        values = rng.integers(0, 100, 1000).astype(small)
        assert np.array_equal(radix_sorted(values), np.sort(values))
        assert radix_sorted(values).dtype == small
