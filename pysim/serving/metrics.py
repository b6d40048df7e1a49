"""Serving metrics: one row per request and per iteration, and a summary.

Per request (``ServingResult.requests``): arrival, first scheduling, first token and finish
times; TTFT = first token - arrival; TPOT = (last token - first token) / (output tokens - 1)
(the mean inter-token latency, ITL, of that request; vLLM's benchmark definitions);
end-to-end = finish - arrival; the longest gap between two tokens; preemptions.
Per iteration (``ServingResult.iterations``): start, seconds, prefill sequences and tokens,
decode batch, tokens emitted, tokens run, KV blocks used, running and queued sequences,
joules, swap seconds, layers run.
Summary: percentiles, throughput over the makespan (first arrival to last finish), goodput
(requests per second meeting both latency targets: DistServe, Zhong et al., OSDI 2024), KV
utilisation, energy per output token (iterations only; idle power is not modelled), and the
time-average number of requests in the system (from arrival to finish) for Little's law
L = lambda x W.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

ITERATION_COLUMNS = ("start_s", "seconds", "prefill_seqs", "prefill_tokens", "decode_batch",
                     "emitted", "tokens", "kv_blocks_used", "running", "queued", "energy_j",
                     "swap_s", "layers")


@dataclass(frozen=True)
class Summary:
    """Headline figures of a run (seconds, tokens, joules)."""

    requests: int
    makespan_s: float
    throughput_tokens_per_s: float
    throughput_requests_per_s: float
    ttft_p50_s: float
    ttft_p90_s: float
    ttft_p99_s: float
    tpot_p50_s: float
    tpot_p90_s: float
    tpot_p99_s: float
    e2e_p50_s: float
    e2e_p90_s: float
    e2e_p99_s: float
    mean_itl_s: float
    preemptions: int
    kv_utilisation_mean: float
    kv_utilisation_peak: float
    energy_per_token_j: float
    iterations: int
    goodput_requests_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ServingResult:
    """What ``serve`` returns: per-request and per-iteration DataFrames, the KV capacity in
    blocks, and the cost model (``cost.calls`` simulations, ``cost.hits`` cache hits)."""

    model: str
    scheduler: str
    kv_blocks: int
    block_size: int
    requests: pd.DataFrame
    iterations: pd.DataFrame
    in_system: pd.DataFrame
    cost: Any

    @classmethod
    def build(cls, spec: Any, cfg: Any, blocks: int, finished: list, log: list[tuple],
              in_system: list[tuple[float, int]], cost: Any) -> ServingResult:
        rows = []
        for s in sorted(finished, key=lambda s: s.req.id):
            r = s.req
            tpot = ((s.last_token_s - s.first_token_s) / (r.output_tokens - 1)
                    if r.output_tokens > 1 else np.nan)
            rows.append((r.id, r.arrival_s, r.prompt_tokens, r.output_tokens, s.scheduled_s,
                         s.first_token_s, s.finish_s, s.first_token_s - r.arrival_s, tpot,
                         s.finish_s - r.arrival_s, s.max_itl_s, s.preemptions))
        import pandas as pd

        req = pd.DataFrame(rows, columns=["id", "arrival_s", "prompt_tokens", "output_tokens",
                                          "scheduled_s", "first_token_s", "finish_s", "ttft_s",
                                          "tpot_s", "e2e_s", "max_itl_s", "preemptions"])
        it = pd.DataFrame(log, columns=list(ITERATION_COLUMNS))
        it["kv_utilisation"] = it["kv_blocks_used"] / blocks
        ev = pd.DataFrame(in_system, columns=["time_s", "change"]).sort_values(
            "time_s", kind="stable")
        ev["in_system"] = ev["change"].cumsum()
        return cls(spec.name, cfg.scheduler, blocks, cfg.block_size, req, it, ev, cost)

    @property
    def makespan_s(self) -> float:
        return float(self.requests["finish_s"].max() - self.requests["arrival_s"].min())

    def mean_in_system(self) -> float:
        """Time-average number of requests between arrival and finish, over the makespan
        (integrated from the arrival / departure event log)."""
        t = self.in_system["time_s"].to_numpy()
        n = self.in_system["in_system"].to_numpy()
        return float(np.sum(n[:-1] * np.diff(t)) / self.makespan_s)

    def summary(self, ttft_slo_s: float | None = None,
                tpot_slo_s: float | None = None) -> Summary:
        """Headline figures; goodput counts requests within both given targets."""
        r, it = self.requests, self.iterations
        span = self.makespan_s
        out_tokens = int(r["output_tokens"].sum())

        def pct(col: str, q: float) -> float:
            return float(np.nanpercentile(r[col], q)) if r[col].notna().any() else np.nan

        goodput = None
        if ttft_slo_s is not None or tpot_slo_s is not None:
            ok = np.ones(len(r), dtype=bool)
            if ttft_slo_s is not None:
                ok &= (r["ttft_s"] <= ttft_slo_s).to_numpy()
            if tpot_slo_s is not None:
                ok &= (r["tpot_s"].fillna(0) <= tpot_slo_s).to_numpy()
            goodput = float(ok.sum() / span)
        busy = it["seconds"].to_numpy()
        util = it["kv_utilisation"].to_numpy()
        return Summary(
            requests=len(r), makespan_s=span,
            throughput_tokens_per_s=out_tokens / span,
            throughput_requests_per_s=len(r) / span,
            ttft_p50_s=pct("ttft_s", 50), ttft_p90_s=pct("ttft_s", 90),
            ttft_p99_s=pct("ttft_s", 99),
            tpot_p50_s=pct("tpot_s", 50), tpot_p90_s=pct("tpot_s", 90),
            tpot_p99_s=pct("tpot_s", 99),
            e2e_p50_s=pct("e2e_s", 50), e2e_p90_s=pct("e2e_s", 90), e2e_p99_s=pct("e2e_s", 99),
            mean_itl_s=float(np.nanmean(r["tpot_s"])) if r["tpot_s"].notna().any() else np.nan,
            preemptions=int(r["preemptions"].sum()),
            kv_utilisation_mean=float(np.sum(util * busy) / busy.sum()) if busy.sum() else 0.0,
            kv_utilisation_peak=float(util.max()) if len(util) else 0.0,
            energy_per_token_j=float(it["energy_j"].sum() / out_tokens),
            iterations=len(it), goodput_requests_per_s=goodput)


__all__ = ["ITERATION_COLUMNS", "ServingResult", "Summary"]
