"""The serving loop as a SimPy simulation: arrivals, a scheduler, the KV-cache pool.

Two processes share one ``_State``: ``request_arrivals`` puts each request in the waiting
queue at its arrival time and wakes an idle engine; ``engine_iterations`` asks the scheduler
for the next iteration's batch, holds for its cost (pysim/serving/cost.py) and then applies
it: prefilled chunks, one token per decode sequence, finished requests leaving. Schedulers:

- ``static``: when the engine is free, take up to ``max_batch`` waiting requests, reserve KV
  for their whole prompt + output, pad the prompts to the longest, and decode until the
  longest output is done; every request returns when the batch ends (the baseline of Orca,
  Yu et al., OSDI 2022, and vLLM, section 6).
- ``continuous``: iteration-level scheduling as vLLM does (Kwon et al., SOSP 2023, section
  4.5): swapped-out sequences come back first; else waiting requests are admitted FCFS while
  their prompts fit the free blocks, ``max_batch`` sequences and ``max_batched_tokens`` prompt
  tokens, and run a prefill-only iteration; else every running sequence decodes one token.
  When a decode needs a block and none is free, the most recently admitted sequence is
  preempted: its blocks are freed and it is recomputed later (prompt + tokens so far as a
  new prompt), or swapped to host memory at ``host_bandwidth_gb_per_s`` and back.
- ``chunked``: Sarathi-Serve's stall-free batching (Agrawal et al., OSDI 2024): every
  iteration runs all decodes plus prefill chunks up to ``token_budget`` tokens in total.

``speculative`` (pysim/serving/speculative.py): each decode step is gamma draft steps and one
target verification over gamma + 1 tokens per sequence, which then advances by its accepted
tokens + 1 (continuous and chunked schedulers). ``parallel`` (pysim/serving/parallel.py): the
model over tp x pp devices; the KV cache gets their memory less the weights.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import simpy

from pysim.errors import ConfigError, WorkloadError
from pysim.gpu.presets import GpuPreset
from pysim.serving.cost import Cost, CostModel, IterationShape
from pysim.serving.dynamic import ExitProfile, LayerSkip, Routing
from pysim.serving.kvcache import BlockPool, BuddyAllocator, FullCache, KVPolicy, capacity_blocks
from pysim.serving.metrics import ServingResult
from pysim.serving.model import LLMSpec, model
from pysim.serving.offload import hardware_of, kv_min_bytes
from pysim.serving.offload import plan as plan_offload
from pysim.serving.parallel import ParallelConfig, kv_bytes_per_token
from pysim.serving.requests import Request
from pysim.serving.speculative import SpeculativeConfig

SCHEDULERS = ("static", "continuous", "chunked", "orca")
PREEMPTION = ("recompute", "swap")
# What an Orca-style scheduler reserves per request at admission (the vLLM paper's Orca (Max),
# (Pow2) and (Oracle) baselines, Kwon et al., SOSP 2023, Sec. 6.1): the model's whole context;
# the prompt plus the next power of two of the output length ("over-reserves the space for
# outputs by at most 2x. For example, if the true output length is 25, it reserves 32"); or the
# prompt plus exactly the output length. With ``buddy`` (the paper's assumption) each
# reservation is then placed by a buddy allocator, so rounded up to a power of two of blocks.
RESERVATIONS = ("max", "pow2", "oracle")


# The swap link of a hardware without a ``host`` link: PCIe 4.0 x16's 31.5 GB/s per direction,
# rounded (PCI-SIG PCI Express Base Specification 4.0).
SWAP_GB_PER_S = 32.0


@dataclass(frozen=True)
class ServeConfig:
    """Scheduler and memory settings (see the module docstring). ``max_batch``: sequences
    per iteration (vLLM's max_num_seqs, 256); ``max_batched_tokens``: prompt tokens per
    prefill iteration (continuous; vLLM's max_num_batched_tokens); ``token_budget``: tokens
    per iteration (chunked); ``block_size``: tokens per KV block (vLLM's 16);
    ``memory_gb``: device memory (default: the hardware's, e.g. a GPU preset's HBM);
    ``memory_fraction``: share usable (vLLM's gpu_memory_utilization, 0.9);
    ``host_bandwidth_gb_per_s``: swap link (default: the hardware's ``host`` link at its
    achieved rate, pysim/config/host.py; 32 GB/s, PCIe 4.0 x16, where it has none);
    ``watermark``: share of blocks a prefill admission must leave free (vLLM's 0.01), to
    keep running sequences room to grow; ``reservation``: what the ``orca`` scheduler
    (iteration-level batching, Yu et al., OSDI 2022, over a contiguous per-request KV cache)
    reserves at admission, one of ``RESERVATIONS``; ``buddy``: orca places reservations with a
    buddy allocator (kvcache.BuddyAllocator: power-of-two chunks, as the vLLM paper's Orca
    baselines), else it counts exact block numbers against the pool; ``speculative``: a
    SpeculativeConfig (draft model, gamma, alpha) or None; ``parallel``: a ParallelConfig (tp, pp,
    micro-batches)."""

    scheduler: str = "continuous"
    max_batch: int = 256
    max_batched_tokens: int = 4096
    token_budget: int = 512
    block_size: int = 16
    memory_gb: float | None = None
    memory_fraction: float = 0.9
    kv_policy: KVPolicy = field(default_factory=FullCache)
    preemption: str = "recompute"
    host_bandwidth_gb_per_s: float | None = None
    watermark: float = 0.01
    reservation: str = "max"
    buddy: bool = True
    routing: Routing = field(default_factory=Routing)
    exit_profile: ExitProfile | None = None
    layer_skip: LayerSkip | None = None
    seed: int = 0
    speculative: SpeculativeConfig | None = None
    parallel: ParallelConfig = field(default_factory=ParallelConfig)

    @property
    def swap_bytes_per_s(self) -> float:
        """The swap link in B/s (``serve`` fills ``host_bandwidth_gb_per_s`` from the hardware
        where it is None, before any sequence swaps)."""
        assert self.host_bandwidth_gb_per_s is not None
        return self.host_bandwidth_gb_per_s * 1e9

    def __post_init__(self) -> None:
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if self.reservation not in RESERVATIONS:
            raise ConfigError(f"reservation must be one of {RESERVATIONS}, got "
                              f"{self.reservation!r}")
        if self.preemption not in PREEMPTION:
            raise ConfigError(f"preemption must be one of {PREEMPTION}, got "
                              f"{self.preemption!r}")
        for name in ("max_batch", "max_batched_tokens", "token_budget", "block_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {v!r}")
        if self.memory_gb is not None and not self.memory_gb > 0:
            raise ConfigError(f"memory_gb must be > 0, got {self.memory_gb!r}")
        if not 0 <= self.watermark < 1:
            raise ConfigError(f"watermark must be in [0, 1), got {self.watermark!r}")
        bw = self.host_bandwidth_gb_per_s
        if bw is not None and not (isinstance(bw, (int, float)) and 0 < bw < float("inf")):
            raise ConfigError(f"host_bandwidth_gb_per_s must be a finite number > 0 or None, "
                              f"got {bw!r}")
        if not isinstance(self.routing, Routing):
            raise ConfigError(f"routing must be a Routing, got {self.routing!r}")
        if self.exit_profile is not None and not isinstance(self.exit_profile, ExitProfile):
            raise ConfigError(f"exit_profile must be an ExitProfile or None, got "
                              f"{self.exit_profile!r}")
        if self.layer_skip is not None and not isinstance(self.layer_skip, LayerSkip):
            raise ConfigError(f"layer_skip must be a LayerSkip or None, got "
                              f"{self.layer_skip!r}")
        if self.exit_profile is not None and self.layer_skip is not None:
            raise ConfigError("give exit_profile (early exit) or layer_skip (skipping inside "
                              "the network), not both")
        if not isinstance(self.parallel, ParallelConfig):
            raise ConfigError(f"parallel must be a ParallelConfig, got {self.parallel!r}")
        if self.speculative is not None:
            if not isinstance(self.speculative, SpeculativeConfig):
                raise ConfigError(f"speculative must be a SpeculativeConfig or None, got "
                                  f"{self.speculative!r}")
            if self.scheduler not in ("continuous", "chunked"):
                raise ConfigError(f"speculative decoding needs scheduler 'continuous' or "
                                  f"'chunked', got {self.scheduler!r}")

    @property
    def lookahead(self) -> int:
        """KV slots a decode step writes per sequence: 1, or gamma + 1 when speculating."""
        return 1 if self.speculative is None else self.speculative.gamma + 1


class _Seq:
    """A request in flight. ``prompt_len``: tokens to prefill (prompt, plus tokens generated
    before a recompute preemption); ``context``: tokens whose K/V are cached."""

    __slots__ = ("req", "prompt_len", "prefilled", "context", "generated", "first_token_s",
                 "last_token_s", "max_itl_s", "finish_s", "scheduled_s", "preemptions",
                 "swapped_blocks", "buddy_offset")

    def __init__(self, req: Request) -> None:
        self.req = req
        self.prompt_len = req.prompt_tokens
        self.prefilled = self.context = self.generated = self.preemptions = 0
        self.first_token_s = self.last_token_s = self.finish_s = self.scheduled_s = math.nan
        self.max_itl_s = 0.0
        self.swapped_blocks = 0.0
        self.buddy_offset: int | None = None


@dataclass
class _Plan:
    prefill: list[tuple[_Seq, int]]
    decode: list[_Seq]
    swap_s: float = 0.0
    padded: tuple[int, int] | None = None  # static: (rows, padded prompt) / decode rows
    advance: Sequence[int] | None = None  # speculative: tokens each decode sequence gains


class _State:
    def __init__(self, spec: LLMSpec, cfg: ServeConfig, pool: BlockPool,
                 block_bytes: int) -> None:
        self.spec, self.cfg, self.pool, self.block_bytes = spec, cfg, pool, block_bytes
        self.waiting: deque[_Seq] = deque()
        self.swapped: deque[_Seq] = deque()
        self.running: list[_Seq] = []
        self.finished: list[_Seq] = []
        self.static_rows: list[_Seq] = []
        self.wakeup: simpy.Event | None = None
        self.in_system: list[tuple[float, int]] = []
        self.preemptions = 0
        self.swap_s = 0.0
        self.iteration = 0  # iterations run so far (a recorded routing replays by it)
        self.buddy = (BuddyAllocator(pool.total) if cfg.scheduler == "orca" and cfg.buddy
                      else None)

    # blocks a sequence holds once its context is ``context`` tokens (after compression)
    def blocks(self, seq: _Seq, context: int) -> float:
        return self.cfg.kv_policy.blocks(context, seq.req.prompt_tokens, self.spec.layers,
                                         self.cfg.block_size)

    def preempt(self, seq: _Seq) -> None:
        self.preemptions += 1
        seq.preemptions += 1
        held = self.pool.release(seq.req.id)
        if self.cfg.preemption == "swap" and seq.prefilled >= seq.prompt_len:
            seq.swapped_blocks = held
            self.swap_s += held * self.block_bytes / self.cfg.swap_bytes_per_s
            self.swapped.append(seq)
        else:  # recompute: everything so far becomes the prompt of a new prefill
            seq.prompt_len = seq.req.prompt_tokens + seq.generated
            seq.prefilled = seq.context = 0
            self.waiting.appendleft(seq)


def _make_room(st: _State, seq: _Seq, need: float) -> bool:
    """Free blocks for ``seq`` to hold ``need`` by preempting the latest admitted sequences;
    False when ``seq`` itself had to go."""
    run = st.running
    while need - st.pool.held.get(seq.req.id, 0.0) > st.pool.free + 1e-9:
        victim = run.pop()
        st.preempt(victim)
        if victim is seq:
            return False
    st.pool.resize(seq.req.id, need)
    return True


def _decodes(st: _State, seqs: Sequence[_Seq]) -> list[_Seq]:
    """Reserve each decoding sequence's next token's block, preempting where needed."""
    out = []
    for seq in list(seqs):
        if seq in st.running and _make_room(st, seq,
                                            st.blocks(seq, seq.context + st.cfg.lookahead)):
            out.append(seq)
    return [s for s in out if s in st.running]


def _admit(st: _State, seq: _Seq, now: float) -> bool:
    need = math.ceil(seq.prompt_len / st.cfg.block_size)
    keep = st.cfg.watermark * st.pool.total if st.running else 0.0
    if need + keep > st.pool.free + 1e-9 or len(st.running) >= st.cfg.max_batch:
        return False
    st.pool.resize(seq.req.id, need)
    st.waiting.popleft()
    st.running.append(seq)
    if math.isnan(seq.scheduled_s):
        seq.scheduled_s = now
    return True


def _schedule_continuous(st: _State, now: float) -> _Plan | None:
    cfg, plan = st.cfg, _Plan([], [])
    while st.swapped and len(st.running) < cfg.max_batch \
            and st.swapped[0].swapped_blocks <= st.pool.free + 1e-9:
        seq = st.swapped.popleft()
        st.pool.resize(seq.req.id, seq.swapped_blocks)
        plan.swap_s += seq.swapped_blocks * st.block_bytes / cfg.swap_bytes_per_s
        st.running.append(seq)
    if not st.swapped:
        tokens = 0
        while st.waiting and (not plan.prefill
                              or tokens + st.waiting[0].prompt_len <= cfg.max_batched_tokens):
            seq = st.waiting[0]
            if not _admit(st, seq, now):
                break
            plan.prefill.append((seq, seq.prompt_len))
            tokens += seq.prompt_len
        if plan.prefill:
            return plan
    plan.decode = _decodes(st, st.running)
    return plan if plan.decode or plan.swap_s else None


def _schedule_chunked(st: _State, now: float) -> _Plan | None:
    cfg, plan = st.cfg, _Plan([], [])
    plan.decode = _decodes(st, [s for s in st.running if s.prefilled >= s.prompt_len])
    budget = cfg.token_budget - len(plan.decode) * cfg.lookahead
    for seq in [s for s in st.running if s.prefilled < s.prompt_len]:
        if budget <= 0:
            break
        chunk = min(budget, seq.prompt_len - seq.prefilled)
        plan.prefill.append((seq, chunk))
        budget -= chunk
    while budget > 0 and st.waiting and _admit(st, st.waiting[0], now):
        seq = st.running[-1]
        chunk = min(budget, seq.prompt_len)
        plan.prefill.append((seq, chunk))
        budget -= chunk
    return plan if plan.decode or plan.prefill else None


def _schedule_static(st: _State, now: float) -> _Plan | None:
    cfg = st.cfg
    if st.static_rows:  # the batch decodes every row, finished or not, until all are done
        longest = max(s.req.prompt_tokens for s in st.static_rows)
        step = max(s.generated for s in st.static_rows)
        return _Plan([], [s for s in st.static_rows if s.finish_s != s.finish_s
                          and s.generated < s.req.output_tokens],
                     padded=(len(st.static_rows), longest + step))
    while st.waiting and len(st.running) < cfg.max_batch:
        seq = st.waiting[0]
        need = max(st.blocks(seq, seq.prompt_len + seq.req.output_tokens),
                   math.ceil(seq.prompt_len / cfg.block_size))
        if not _admit_reserving(st, seq, need, now):
            break
    if not st.running:
        return None
    st.static_rows = list(st.running)
    longest = max(s.prompt_len for s in st.static_rows)
    return _Plan([(s, s.prompt_len) for s in st.static_rows], [],
                 padded=(len(st.static_rows), longest))


def _admit_reserving(st: _State, seq: _Seq, need: float, now: float,
                     buddy: BuddyAllocator | None = None) -> bool:
    """Admit the first waiting sequence holding ``need`` blocks for its whole life (static
    batching, Orca); False, admitting nothing, when they are not free. With ``buddy`` the
    blocks are a power-of-two chunk from that allocator."""
    if buddy is not None:
        offset = buddy.alloc(int(need))
        if offset is None:
            return False
        seq.buddy_offset = offset
        need = float(1 << buddy.order(int(need)))
    elif need > st.pool.free + 1e-9:
        return False
    st.pool.resize(seq.req.id, need)
    st.waiting.popleft()
    st.running.append(seq)
    seq.scheduled_s = now
    return True


def _reserved_blocks(spec: LLMSpec, cfg: ServeConfig, req: Request) -> int:
    """The KV blocks an Orca-style scheduler reserves for ``req`` (``ServeConfig.reservation``),
    never less than the request needs nor more than the model's context (before a buddy
    allocator rounds it up)."""
    prompt, out = req.prompt_tokens, req.output_tokens
    length = prompt + out
    tokens = {"max": spec.max_context, "pow2": prompt + (1 << (out - 1).bit_length()),
              "oracle": length}[cfg.reservation]
    return math.ceil(max(length, min(tokens, spec.max_context)) / cfg.block_size)


def _schedule_orca(st: _State, now: float) -> _Plan | None:
    """Iteration-level batching with selective batching (Orca): each iteration decodes every
    running sequence and prefills the newly admitted ones; a request is admitted when its
    whole reservation fits, held until it finishes, so nothing is ever preempted."""
    cfg, plan = st.cfg, _Plan([], [])
    plan.decode = [s for s in st.running if s.prefilled >= s.prompt_len]
    tokens = 0
    while st.waiting and len(st.running) < cfg.max_batch and (
            not plan.prefill or tokens + st.waiting[0].prompt_len <= cfg.max_batched_tokens):
        seq = st.waiting[0]
        if not _admit_reserving(st, seq, _reserved_blocks(st.spec, st.cfg, seq.req), now,
                                st.buddy):
            break
        plan.prefill.append((seq, seq.prompt_len))
        tokens += seq.prompt_len
    return plan if plan.decode or plan.prefill else None


SCHEDULE: dict[str, Callable[[_State, float], _Plan | None]] = {
    "static": _schedule_static, "continuous": _schedule_continuous,
    "chunked": _schedule_chunked, "orca": _schedule_orca}


def _shape(st: _State, plan: _Plan, rng: np.random.Generator) -> IterationShape:
    spec, cfg = st.spec, st.cfg
    policy = cfg.kv_policy
    if plan.padded is not None and plan.prefill:  # static prefill: rows padded to the longest
        rows, length = plan.padded
        prefills: tuple[tuple[int, int], ...] = ((length, length),) * rows
        tokens, emitting, dec, kv = rows * length, rows, 0, 0.0
    elif plan.padded is not None:
        rows, length = plan.padded
        kv = policy.kept(length + 1, length, spec.layers)
        tokens, emitting, dec, prefills = rows, rows, rows, ()
    else:
        prefills = tuple((c, s.prefilled + c) for s, c in plan.prefill)
        dec, q = len(plan.decode), cfg.lookahead  # q: tokens each decode verifies
        kv = sum(policy.kept(s.context + q, s.req.prompt_tokens, spec.layers)
                 for s in plan.decode) / dec if dec else 0.0
        tokens = dec * q + sum(c for _, c in plan.prefill)
        emitting = dec * q + sum(1 for s, c in plan.prefill if s.prefilled + c >= s.prompt_len)
    experts: tuple[int, ...] = ()
    if spec.experts > 1:
        experts = cfg.routing.expert_tokens(tokens, spec.experts, spec.top_k, rng,
                                            st.iteration)
    layers = None
    depth = cfg.exit_profile if cfg.exit_profile is not None else cfg.layer_skip
    if depth is not None:
        layers = depth.depth(dec, bool(prefills), spec.layers, rng)
    return IterationShape(tokens=tokens, emitting=emitting, decode_batch=dec,
                          decode_kv_mean=kv, prefills=prefills, expert_tokens=experts,
                          layers=layers, decode_q_len=cfg.lookahead if dec else 1)


def _draft_cost(st: _State, plan: _Plan, draft: CostModel) -> Cost:
    """The draft model's part of an iteration: it prefills the same prompt chunks as the
    target, and proposes gamma tokens for every decode sequence (gamma decode steps over its
    own full cache, one token longer each step)."""
    gamma = st.cfg.lookahead - 1
    total = Cost()
    if plan.prefill:
        total = total + draft.iteration(IterationShape(
            tokens=sum(c for _, c in plan.prefill), emitting=0,
            prefills=tuple((c, s.prefilled + c) for s, c in plan.prefill)))
    dec = len(plan.decode)
    if dec:
        mean = sum(s.context for s in plan.decode) / dec
        for i in range(gamma):
            total = total + draft.iteration(IterationShape(
                tokens=dec, emitting=dec, decode_batch=dec, decode_kv_mean=mean + 1 + i))
    return total


def _emit(seq: _Seq, now: float) -> None:
    seq.generated += 1
    if math.isnan(seq.first_token_s):
        seq.first_token_s = now
    else:
        seq.max_itl_s = max(seq.max_itl_s, now - seq.last_token_s)
    seq.last_token_s = now


def _finish(st: _State, seq: _Seq, now: float) -> None:
    seq.finish_s = now
    held = st.pool.release(seq.req.id)
    if st.buddy is not None and seq.buddy_offset is not None:
        st.buddy.free(seq.buddy_offset, int(held))
        seq.buddy_offset = None
    st.running.remove(seq)
    st.finished.append(seq)
    st.in_system.append((now, -1))


def _apply(st: _State, plan: _Plan, now: float) -> int:
    """Advance the plan's sequences to ``now``; returns the tokens emitted."""
    static = plan.padded is not None
    grows = not static and st.cfg.scheduler != "orca"  # orca holds its reservation
    emitted = len(plan.decode)
    for seq, chunk in plan.prefill:
        seq.prefilled += chunk
        seq.context += chunk
        if seq.prefilled >= seq.prompt_len:
            emitted += 1
            _emit(seq, now)
            if grows:
                st.pool.resize(seq.req.id, st.blocks(seq, seq.context))
    for i, seq in enumerate(plan.decode):
        gain = 1 if plan.advance is None else min(int(plan.advance[i]),
                                                  seq.req.output_tokens - seq.generated)
        emitted += gain - 1
        seq.context += gain
        for _ in range(gain):
            _emit(seq, now)
        if grows:
            st.pool.resize(seq.req.id, st.blocks(seq, seq.context))
    if static:
        if all(s.generated >= s.req.output_tokens for s in st.static_rows):
            for seq in st.static_rows:
                _finish(st, seq, now)
            st.static_rows = []
        return emitted
    for seq in [s for s, _ in plan.prefill] + plan.decode:
        if seq.generated >= seq.req.output_tokens and seq in st.running:
            _finish(st, seq, now)
    return emitted


def request_arrivals(env: simpy.Environment, st: _State,
                     requests: Sequence[Request]) -> Any:
    for req in requests:
        if req.arrival_s > env.now:
            yield env.timeout(req.arrival_s - env.now)
        st.waiting.append(_Seq(req))
        st.in_system.append((env.now, +1))
        if st.wakeup is not None and not st.wakeup.triggered:
            st.wakeup.succeed()


def engine_iterations(env: simpy.Environment, st: _State, cost: CostModel, total: int,
                      log: list[tuple], rng: np.random.Generator,
                      progress: Callable[[int], None] | None,
                      draft: CostModel | None = None) -> Any:
    schedule = SCHEDULE[st.cfg.scheduler]
    spec_cfg = st.cfg.speculative
    # acceptance draws have a stream of their own: the routing / exit draws stay as they were
    accept_rng = np.random.default_rng([st.cfg.seed, 1])
    while len(st.finished) < total:
        st.swap_s = 0.0
        plan = schedule(st, env.now)
        if plan is None:
            st.wakeup = env.event()
            yield st.wakeup
            continue
        shape = _shape(st, plan, rng)
        st.iteration += 1
        c = cost.iteration(shape) if shape.tokens else cost.iteration(
            IterationShape(tokens=0, emitting=0)).scale(0)
        if spec_cfg is not None and draft is not None:
            c = c + _draft_cost(st, plan, draft)
            plan.advance = spec_cfg.tokens(accept_rng, len(plan.decode)).tolist()
        seconds = c.seconds + plan.swap_s + st.swap_s
        start, done_before = env.now, len(st.finished)
        yield env.timeout(seconds)
        emitted = _apply(st, plan, env.now)
        log.append((start, seconds, len(plan.prefill), sum(ch for _, ch in plan.prefill),
                    shape.decode_batch, emitted, shape.tokens, st.pool.used, len(st.running),
                    len(st.waiting) + len(st.swapped), c.joules, plan.swap_s + st.swap_s,
                    shape.layers if shape.layers is not None else st.spec.layers))
        if progress is not None and len(st.finished) > done_before:
            progress(len(st.finished) - done_before)


def host_gb_per_s(hw: Any) -> float:
    """The swap link's bandwidth (GB/s): the hardware's ``host`` link at its achieved rate
    (a GPU preset's PCIe, configs/gpu/*.yaml), else ``SWAP_GB_PER_S``."""
    host = getattr(hardware_of(hw), "host", None)
    return float(host.bandwidth_gb_per_s) if host is not None else SWAP_GB_PER_S


def memory_bytes(hw: Any, memory_gb: float | None) -> float:
    """Device memory in bytes: ``memory_gb`` (1e9 bytes) if given, else the hardware's DRAM
    capacity (``dram.capacity_gib``; a GPU preset's is its HBM, configs/gpu/*.yaml). Raises
    ConfigError when neither states it."""
    if memory_gb is not None:
        return memory_gb * 1e9
    if isinstance(hw, GpuPreset):
        hw = hw.hardware
    capacity = getattr(getattr(hw, "dram", None), "capacity_gib", None)
    if isinstance(capacity, (int, float)) and capacity > 0:
        return float(capacity) * 2**30
    name = getattr(hw, "name", type(hw).__name__)
    raise ConfigError(f"hardware {name!r} states no memory capacity (dram.capacity_gib); "
                      "pass memory_gb=")


def _check_requests(requests: Sequence[Request], spec: LLMSpec, cfg: ServeConfig,
                    blocks: int) -> None:
    if not requests:
        raise WorkloadError("no requests to serve")
    for i, r in enumerate(requests):
        if not isinstance(r, Request):
            raise WorkloadError(f"requests[{i}] must be a pysim.serving.Request, got "
                                f"{type(r).__name__}")
        for m in (spec,) if cfg.speculative is None else (spec, cfg.speculative.spec):
            if r.prompt_tokens + r.output_tokens > m.max_context:
                raise WorkloadError(
                    f"{r.label}: prompt_tokens {r.prompt_tokens} + output_tokens "
                    f"{r.output_tokens} exceeds {m.name}'s context of {m.max_context}")
        # a decode step holds its lookahead (speculation's gamma + 1 slots) until verified
        need = max(math.ceil(r.prompt_tokens / cfg.block_size), cfg.kv_policy.blocks(
            r.prompt_tokens + r.output_tokens + cfg.lookahead - 1, r.prompt_tokens,
            spec.layers, cfg.block_size))
        if need > blocks:
            raise WorkloadError(
                f"{r.label}: needs {need:g} KV blocks of {cfg.block_size} tokens "
                f"(prompt_tokens {r.prompt_tokens}, output_tokens {r.output_tokens}); the "
                f"cache holds {blocks}")
        if cfg.scheduler == "orca":
            res = _reserved_blocks(spec, cfg, r)
            room, how = blocks, "the cache holds"
            if cfg.buddy:  # the largest power-of-two chunk of the pool
                res, room, how = 1 << BuddyAllocator.order(res), 1 << (blocks.bit_length() - 1), \
                    "the buddy allocator's largest chunk is"
            if res > room:
                raise WorkloadError(
                    f"{r.label}: orca (reservation {cfg.reservation!r}) reserves {res} KV "
                    f"blocks of {cfg.block_size} tokens; {how} {room} (raise memory_gb)")


def serve(hw: Any, llm: str | LLMSpec, requests: Sequence[Request],
          config: ServeConfig | None = None, *, cost_model: CostModel | None = None,
          draft_cost_model: CostModel | None = None,
          progress: Callable[[int], None] | None = None, **settings: Any) -> ServingResult:
    """Serve ``requests`` with model ``llm`` (a name in pysim.serving.MODELS or an LLMSpec)
    on ``hw`` (anything ``pysim.simulate`` accepts). Settings: a ServeConfig, or its fields
    as keywords. ``cost_model`` reuses a CostModel (and its cache) across runs, as
    ``draft_cost_model`` does for the speculative draft (one device); ``progress`` is called
    with the number of requests each iteration finishes.

    Raises ConfigError on bad settings or a model that does not fit the memory, and
    WorkloadError on a request longer than the model's context or the whole cache."""
    cfg = config if config is not None else ServeConfig(**settings)
    if config is not None and settings:
        raise ConfigError("give a ServeConfig or keyword settings, not both")
    hardware = hardware_of(hw) or hw  # a path loaded once, for the host link and memory
    if cfg.host_bandwidth_gb_per_s is None:
        cfg = replace(cfg, host_bandwidth_gb_per_s=host_gb_per_s(hardware))
    spec = model(llm)
    par = cfg.parallel
    par.check(spec)
    draft = cfg.speculative.spec if cfg.speculative is not None else None
    # tp x pp devices pool their memory; the weights (and a draft's) are split across them
    weights = spec.weight_bytes + (draft.weight_bytes if draft else 0)
    kv_token = kv_bytes_per_token(spec, par.tp) + (draft.kv_bytes_per_token if draft else 0)
    block_bytes = cfg.block_size * kv_token
    where = f" ({spec.name} on {getattr(hw, 'name', 'the hardware')}"
    if par.devices > 1:
        where += f", tp {par.tp} x pp {par.pp} = {par.devices} devices"
    memory = memory_bytes(hardware, cfg.memory_gb) * par.devices
    # weights that do not fit run from host memory where the hardware offloads them
    offload = plan_offload(hardware, spec, weights, memory, cfg.memory_fraction,
                           kv_min_bytes(spec, cfg.block_size, block_bytes), par.devices)
    on_device = weights - (offload.bytes if offload is not None else 0)
    total = capacity_blocks(memory, round(on_device), kv_token, cfg.block_size,
                            cfg.memory_fraction, where=where + ")")
    _check_requests(requests, spec, cfg, total)
    cost = cost_model if cost_model is not None else CostModel(hw, spec, parallel=par)
    cost.offload = offload
    if cost.spec != spec:
        raise ConfigError(f"cost_model prices {cost.spec.name}, not {spec.name}")
    if cost.parallel != par:
        raise ConfigError(f"cost_model prices {cost.parallel}, not {par}")
    draft_cost = None
    if draft is not None:
        draft_cost = draft_cost_model if draft_cost_model is not None else CostModel(hw, draft)
        if draft_cost.spec != draft:
            raise ConfigError(f"draft_cost_model prices {draft_cost.spec.name}, not "
                              f"{draft.name}")
    st = _State(spec, cfg, BlockPool(total), block_bytes)
    env = simpy.Environment()
    log: list[tuple] = []
    ordered = sorted(requests, key=lambda r: (r.arrival_s, r.id))
    env.process(request_arrivals(env, st, ordered))
    env.process(engine_iterations(env, st, cost, len(ordered), log,
                                  np.random.default_rng(cfg.seed), progress, draft_cost))
    env.run()
    return ServingResult.build(spec, cfg, total, st.finished, log, st.in_system, cost)


__all__ = ["PREEMPTION", "RESERVATIONS", "SCHEDULERS", "ServeConfig", "memory_bytes", "serve"]
