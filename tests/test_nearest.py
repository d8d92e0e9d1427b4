"""The nearest point of many, by GEOS's tree or (many queries) scipy's: the k-d tree's answer
where the nearest is unique, the lower index where several are equally near."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from kennai import nearest
from kennai.nearest import nearest_points


@pytest.fixture(params=["geos", "kd_tree"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "kd_tree":
        monkeypatch.setattr(nearest, "KD_TREE_FROM", 1)
    return str(request.param)


def test_unique_nearest_points_are_the_k_d_trees(path: str) -> None:
    rng = np.random.default_rng(7)
    points = rng.random((3000, 2)) * 1000.0
    queries = rng.random((20000, 2)) * 1400.0 - 200.0  # some far outside the points
    assert np.array_equal(nearest_points(points, queries), cKDTree(points).query(queries)[1])


def test_equally_near_points_go_to_the_lower_index(path: str) -> None:
    # A 50 m lattice listed in a shuffled order: a cell's centre is as near to its 4 corners.
    rng = np.random.default_rng(1)
    ii, jj = np.meshgrid(np.arange(20), np.arange(20))
    lattice = np.column_stack([ii.ravel(), jj.ravel()]) * 50.0
    points = lattice[rng.permutation(len(lattice))]
    queries = np.column_stack([ii[:-1, :-1].ravel(), jj[:-1, :-1].ravel()]) * 50.0 + 25.0
    got = nearest_points(points, queries)
    d2 = ((points[None, :, :] - queries[:, None, :]) ** 2).sum(axis=2)
    lowest = np.argmax(d2 == d2.min(axis=1, keepdims=True), axis=1)  # the first at the least
    assert np.array_equal(got, lowest)
    # The same place listed twice: the first listing.
    twice = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 0.0]])
    assert list(nearest_points(twice, np.array([[9.0, 1.0], [11.0, -3.0]]))) == [1, 1]


def test_small_and_empty_inputs(path: str) -> None:
    one = np.array([[5.0, 5.0]])
    assert list(nearest_points(one, np.array([[0.0, 0.0], [1e6, 1e6]]))) == [0, 0]
    assert len(nearest_points(one, np.zeros((0, 2)))) == 0
    with pytest.raises(ValueError, match="at least one point"):
        nearest_points(np.zeros((0, 2)), np.array([[0.0, 0.0]]))
