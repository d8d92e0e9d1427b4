"""The sort-based distinct values give numpy's answers, on random keys and at the edges."""

from __future__ import annotations

import numpy as np
import pytest

from kennai.arrays import unique_rows_inverse, unique_sorted


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
