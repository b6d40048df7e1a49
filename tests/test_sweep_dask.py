"""Sweeps on a Dask cluster (a 2-worker LocalCluster, started once): through the client's
Executor and by scheduler address, both equal to the serial sweep."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pysim.sweep import search, sweep

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"
SPACE = {"units.0.rows": [8, 16, 32], "scratchpads.0.size_kib": [2, 64],
         "dram.bandwidth_gb_per_s": [12.8, 25.6]}


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


def test_dask_executor_and_scheduler_address_equal_the_serial_sweep(cluster, tmp_path):
    serial = sweep(EDGE, TINY, SPACE)
    with distributed.Client(cluster) as client:
        on_dask = sweep(EDGE, TINY, SPACE, executor=client.get_executor(),
                        out=tmp_path / "runs.parquet")
        workers = client.run(lambda: 1)
    assert len(workers) == 2
    pd.testing.assert_frame_equal(serial, on_dask)
    assert on_dask.attrs == {"computed": 12, "reused": 0}
    by_address = sweep(EDGE, TINY, SPACE, scheduler=cluster.scheduler_address,
                       out=tmp_path / "again.parquet")
    pd.testing.assert_frame_equal(serial, by_address)
    found = search(EDGE, TINY, SPACE, n_trials=8, population_size=4, seed=3,
                   scheduler=cluster.scheduler_address)
    assert list(found["trial"]) == list(range(8))
