"""The access benchmark's sides and the references that check them (``bench/peers.py``).

A benchmark row counts only when its results equal a reference made with the same snapping;
these tests hold each side to its reference on a small jittered street grid, and the
comparison to finding a resident moved across a threshold, so that a broken side or a
comparison that passes anything cannot make a row count. They time nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import peers
from bench.snap import grid_network
from bench.stats import interleaved

THRESHOLDS = (250.0, 500.0, 800.0, 1000.0)


@pytest.fixture(scope="module")
def job() -> tuple[object, np.ndarray, np.ndarray]:
    net = grid_network(900, seed=3)  # 30 x 30 nodes, 50 m apart: 1.5 km a side
    rng = np.random.default_rng(4)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    res_xy = lo + rng.random((3000, 2)) * (hi - lo)
    place_xy = lo + rng.random((12, 2)) * (hi - lo)
    return net, res_xy, place_xy


def test_each_side_equals_its_reference(job: tuple[object, np.ndarray, np.ndarray]) -> None:
    net, res_xy, place_xy = job
    node_ref = peers.node_reference(net, res_xy, place_xy)
    assert np.isfinite(node_ref).all() and (node_ref > 1000).any()  # the cut-off matters here
    for side in (peers.scipy_job, peers.networkx_job):
        check = peers.compare(side(net, res_xy, place_xy), node_ref, THRESHOLDS)
        assert check["equal"], (side.__name__, check)
    check = peers.compare(peers.osmnx_job(net, res_xy, place_xy, THRESHOLDS), node_ref,
                          THRESHOLDS)
    assert check["equal"], check
    from kennai.snapping import EdgeIndex

    index = EdgeIndex(net, remember=0)
    edge_ref = peers.edge_reference(net, index.snap(res_xy), index.snap(place_xy))
    kennai = peers.kennai_job(net, res_xy, place_xy)
    check = peers.compare(kennai, edge_ref, THRESHOLDS)
    assert check["equal"], check
    # Snapping onto edges is not snapping to nodes: the references tell the two apart.
    assert not peers.compare(kennai, node_ref, THRESHOLDS)["equal"]


def test_pandana_equals_the_reference_on_its_own_snaps_and_metric(
        job: tuple[object, np.ndarray, np.ndarray]) -> None:
    missing = peers.pandana_status()
    if missing is not None:
        pytest.skip(f"pandana {missing}: make setup installs it with the test tools")
    from bench.stats import quiet

    net, res_xy, place_xy = job
    got = quiet(peers.pandana_job, net, res_xy, place_xy)
    ref = quiet(peers.pandana_reference, net, res_xy, place_xy)
    assert peers.compare(got, ref, THRESHOLDS)["equal"]
    both = np.isfinite(got) & np.isfinite(ref)
    assert both.sum() > len(ref) // 2
    assert np.abs(got[both] - ref[both]).max() < 1e-3  # float32 answers, millimetre weights
    # Only float32 rounding at the cut-off may put one side beyond it and not the other.
    one = np.isfinite(got) != np.isfinite(ref)
    assert (np.abs(np.where(np.isfinite(ref), ref, got)[one] - peers.CUTOFF_M) < 1e-3).all()


def test_a_resident_across_a_threshold_is_a_difference() -> None:
    ref = np.array([100.0, 240.0, 260.0, 900.0, np.inf])
    assert peers.compare(ref.copy(), ref, THRESHOLDS)["equal"]
    moved = ref.copy()
    moved[2] = 249.0  # now within 250 m
    check = peers.compare(moved, ref, THRESHOLDS)
    assert not check["equal"] and check["residents_differing"] == 1
    unreached = ref.copy()
    unreached[3] = np.inf
    assert not peers.compare(unreached, ref, THRESHOLDS)["equal"]
    # Within a millimetre of a threshold is float slack, not a difference.
    near = ref.copy()
    near[1] = 250.0 + 5e-4
    ref2 = ref.copy()
    ref2[1] = 250.0
    assert peers.compare(near, ref2, THRESHOLDS)["equal"]


def test_interleaved_runs_every_side_in_turn_and_collects_what_the_last_one_left() -> None:
    import gc
    import weakref

    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the collector frees it

    left: list[weakref.ref[Node]] = []
    seen: list[bool] = []

    def leaves_garbage() -> int:
        left.append(weakref.ref(Node()))
        return 1

    def looks() -> int:
        seen.append(left[-1]() is None)  # the cycle a's run left is gone before b runs
        return 2

    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    results, times = interleaved({"a": leaves_garbage, "b": looks}, runs=3)
    assert results == {"a": 1, "b": 2} and len(left) == 3 and seen == [True] * 3
    assert all(len(s.values) == 3 for s in times.values())
    assert gc.isenabled() == enabled and gc.get_freeze_count() >= frozen  # the caller's kept
    seen.clear()
    gc.disable()  # no automatic collection between the runs
    try:
        interleaved({"a": leaves_garbage, "b": looks}, runs=3, collect=False)
    finally:
        if enabled:
            gc.enable()
    assert seen == [False] * 3  # only frozen, not collected
