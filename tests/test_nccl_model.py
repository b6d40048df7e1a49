"""NCCL's collective cost model (pysim/interconnect.py, ``collectives: nccl``): per call the
fastest of LL / LL128 / Simple, with the constants of NVIDIA/nccl src/graph/tuning.cc
(commit b647562): baseLat Ring 6.6 / 14.0 / 8.4 us, hwLat NVLink Ring 0.6 / 1.9 / 3.4 us, bus
bandwidth 1/4 (<= 87.7 GB/s) / 0.92 / 1 of the link."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysim.errors import ConfigError
from pysim.gpu import preset
from pysim.interconnect import NCCL_PROTOCOLS, Link, link_of

BW = 300e9  # A100 NVLink, per direction
NVLINK = Link(BW, 0.0, 0.0, NCCL_PROTOCOLS["nvlink"])


def _by_hand(name: str, nbytes: float, n: int) -> float:
    base, step, bw = {"LL": (6.6, 0.6, min(BW / 4, 87.7e9)), "LL128": (14.0, 1.9, 0.92 * BW),
                      "Simple": (8.4, 3.4, BW)}[name]
    steps = 2 * (n - 1)
    return (base + steps * step) * 1e-6 + steps / n * nbytes / bw


@pytest.mark.parametrize(("n", "nbytes", "protocol"), [
    *((n, b, "LL") for n in (2, 4, 8) for b in (2, 256 << 10)),
    (4, 4 << 20, "LL128"), (8, 4 << 20, "LL128"),
    (2, 4 << 20, "Simple"),  # on two devices Simple's 2 steps cost less than LL128's
    *((n, 1 << 30, "Simple") for n in (2, 4, 8))])
def test_allreduce_takes_the_fastest_protocol(n, nbytes, protocol):
    assert NVLINK.allreduce_protocol(nbytes, n) == protocol
    assert NVLINK.allreduce_s(nbytes, n) == pytest.approx(_by_hand(protocol, nbytes, n))
    assert NVLINK.allreduce_s(nbytes, n) == pytest.approx(
        min(_by_hand(p, nbytes, n) for p in ("LL", "LL128", "Simple")))


def test_tiny_allreduce_is_nccls_ll_latency():
    # 6.6 + 2 (n - 1) x 0.6 us: the figure NCCL's tuner predicts for a few bytes
    assert NVLINK.allreduce_s(2, 2) == pytest.approx(7.8e-6, rel=1e-5)
    assert NVLINK.allreduce_s(2, 8) == pytest.approx(15.0e-6, rel=1e-5)
    assert NVLINK.allreduce_s(2, 1) == NVLINK.allgather_s(2, 1) == 0.0


def test_allgather_ll_moves_a_third_and_p2p_switches_at_16_kib():
    n, nbytes = 4, 64 << 10
    ll_bw = min(BW / 3, 87.7e9)  # a third of 300 GB/s, over LL's cap
    ll = 6.6e-6 + 3 * 0.6e-6 + 3 / 4 * nbytes / ll_bw
    assert NVLINK.allgather_s(nbytes, n) == pytest.approx(ll)
    assert NVLINK.p2p_s(16 << 10) == pytest.approx(7.2e-6 + (16 << 10) / ll_bw)
    assert NVLINK.p2p_s((16 << 10) + 1) == pytest.approx(11.8e-6 + ((16 << 10) + 1) / BW)


def test_pci_has_no_ll128():
    assert [p.name for p in NCCL_PROTOCOLS["pci"]] == ["LL", "Simple"]
    pci = Link(32e9, 0.0, 0.0, NCCL_PROTOCOLS["pci"])
    assert pci.allreduce_protocol(8 << 20, 8) in ("LL", "Simple")


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(nbytes=st.floats(0, 4e9), more=st.floats(0, 4e9), n=st.integers(2, 64),
       bw=st.floats(1e9, 2e12), faster=st.floats(1.0, 10.0))
def test_never_slower_with_fewer_bytes_more_bandwidth_or_fewer_devices(nbytes, more, n, bw,
                                                                       faster):
    link = Link(bw, 0.0, 0.0, NCCL_PROTOCOLS["nvlink"])
    quick = Link(bw * faster, 0.0, 0.0, NCCL_PROTOCOLS["nvlink"])
    for f in ("allreduce_s", "allgather_s"):
        t = getattr(link, f)(nbytes, n)
        assert t <= getattr(link, f)(nbytes + more, n) * (1 + 1e-12)
        assert getattr(quick, f)(nbytes, n) <= t * (1 + 1e-12)
        assert getattr(link, f)(nbytes, n - 1) <= t * (1 + 1e-12)


def test_presets_use_nccls_model_and_the_config_refuses_a_ring_latency():
    for name in ("a100", "h100", "h200", "b200"):
        link = link_of(preset(name))
        assert link is not None and link.protocols == NCCL_PROTOCOLS["nvlink"]
        assert link.call_s == 0.0
    hw = preset("a100").hardware
    with pytest.raises(ConfigError, match=r"interconnect\.latency_us.*collectives: ring"):
        hw.with_overrides({"interconnect.latency_us": 1.9})
    ring = hw.with_overrides({"interconnect.collectives": "ring",
                              "interconnect.latency_us": 1.9})
    assert link_of(ring).protocols == ()
    with pytest.raises(ConfigError, match="interconnect.collectives"):
        hw.with_overrides({"interconnect.collectives": "nvls"})
