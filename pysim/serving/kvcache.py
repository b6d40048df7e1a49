"""KV-cache memory: paged blocks, capacity, and eviction / compression policies.

Paging (vLLM, Kwon et al., SOSP 2023): the cache is a pool of blocks of ``block_size`` tokens
(K and V of every layer); a sequence holds ceil(tokens / block_size) blocks, so at most one
partly filled block is wasted per sequence. Capacity is the device memory times
``memory_fraction`` (vLLM's gpu_memory_utilization, 0.9 by default) minus the weights and an
activation reserve, divided by the bytes of a block.

Policies decide how many tokens of a sequence's context stay cached, per layer; attention in
decode then reads only those (its cost falls with them) and the sequence holds only their
blocks. Compression runs after the prefill, which attends over and stores the whole prompt
(H2O and CAKE both select what to keep from the prefill's attention scores), so admission
still needs room for the whole prompt.

- ``FullCache``: keeps everything.
- ``RecentWindow(window, sink)``: the first ``sink`` tokens and the last ``window``
  (StreamingLLM, Xiao et al., ICLR 2024; sink = 0 is a plain sliding window).
- ``HeavyHitter(budget)``: a fixed budget per sequence, half heavy hitters by accumulated
  attention score and half recent tokens (H2O, Zhang et al., NeurIPS 2023); the cost and
  memory effect depends only on the budget.
- ``Cake(budget, preference)``: the same total budget over all layers, split across layers in
  proportion to a per-layer preference score (CAKE, Qin et al., ICLR 2025, eq. 5-6: P_l =
  H_l^(1/tau1) V_l^(1/tau2) from the spatial dispersion and temporal shift of layer l's
  attention); pysim has no attention values, so the preference profile is an input.

A ``budget`` is a token count (int) or a fraction of the prompt (float in (0, 1]), as the
papers state theirs (CAKE's 3.2 % cache).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pysim.errors import ConfigError


def _budget(budget: int | float, prompt_tokens: int) -> int:
    if isinstance(budget, float):
        return max(1, math.ceil(budget * prompt_tokens))
    return budget


def _check_budget(name: str, budget: int | float) -> None:
    ok = (isinstance(budget, int) and not isinstance(budget, bool) and budget >= 1) or (
        isinstance(budget, float) and 0 < budget <= 1)
    if not ok:
        raise ConfigError(f"{name}: budget must be an int >= 1 (tokens) or a float in (0, 1] "
                          f"(fraction of the prompt), got {budget!r}")


@dataclass(frozen=True)
class FullCache:
    """No eviction."""

    def kept(self, context: int, prompt_tokens: int, layers: int) -> float:
        """Mean over layers of the tokens kept for a context of ``context`` tokens."""
        return float(context)

    def blocks(self, context: int, prompt_tokens: int, layers: int, block_size: int) -> float:
        return float(math.ceil(context / block_size))


@dataclass(frozen=True)
class _UniformBudget:
    def _keep(self, context: int, prompt_tokens: int) -> int:
        raise NotImplementedError

    def kept(self, context: int, prompt_tokens: int, layers: int) -> float:
        return float(min(context, self._keep(context, prompt_tokens)))

    def blocks(self, context: int, prompt_tokens: int, layers: int, block_size: int) -> float:
        return float(math.ceil(self.kept(context, prompt_tokens, layers) / block_size))


@dataclass(frozen=True)
class RecentWindow(_UniformBudget):
    """Keep the ``sink`` first and ``window`` most recent tokens."""

    window: int
    sink: int = 4

    def __post_init__(self) -> None:
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise ConfigError(f"RecentWindow: window must be an int >= 1, got {self.window!r}")
        if isinstance(self.sink, bool) or not isinstance(self.sink, int) or self.sink < 0:
            raise ConfigError(f"RecentWindow: sink must be an int >= 0, got {self.sink!r}")

    def _keep(self, context: int, prompt_tokens: int) -> int:
        return self.window + self.sink


@dataclass(frozen=True)
class HeavyHitter(_UniformBudget):
    """H2O: ``budget`` tokens per sequence (heavy hitters + recent)."""

    budget: int | float

    def __post_init__(self) -> None:
        _check_budget("HeavyHitter", self.budget)

    def _keep(self, context: int, prompt_tokens: int) -> int:
        return _budget(self.budget, prompt_tokens)


@dataclass(frozen=True)
class Cake:
    """CAKE: an average ``budget`` per layer, allocated across layers in proportion to
    ``preference`` (one positive score per layer; default: equal, which is H2O's uniform
    split). A layer never keeps more than the context; what it cannot use is not moved."""

    budget: int | float
    preference: Sequence[float] | None = None
    _shares: tuple[float, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        _check_budget("Cake", self.budget)
        if self.preference is not None:
            prefs = list(self.preference)
            if not prefs or any(not (isinstance(p, (int, float)) and math.isfinite(p)
                                     and p > 0) for p in prefs):
                raise ConfigError(f"Cake: preference must list positive scores, one per "
                                  f"layer, got {self.preference!r}")
            total = sum(prefs)
            object.__setattr__(self, "_shares", tuple(p / total for p in prefs))

    def layer_budgets(self, prompt_tokens: int, layers: int) -> list[int]:
        """Tokens each layer keeps: B_l = L * B * P_l / sum(P) (CAKE eq. 6)."""
        if self._shares and len(self._shares) != layers:
            raise ConfigError(f"Cake: preference has {len(self._shares)} scores, the model "
                              f"has {layers} layers")
        shares = self._shares or (1.0 / layers,) * layers
        total = _budget(self.budget, prompt_tokens) * layers
        return [max(1, round(total * s)) for s in shares]

    def kept(self, context: int, prompt_tokens: int, layers: int) -> float:
        budgets = self.layer_budgets(prompt_tokens, layers)
        return sum(min(context, b) for b in budgets) / layers

    def blocks(self, context: int, prompt_tokens: int, layers: int, block_size: int) -> float:
        """Layer-wise paging: each layer's kept tokens in its own blocks; counted in units of
        an all-layer block."""
        budgets = self.layer_budgets(prompt_tokens, layers)
        return sum(math.ceil(min(context, b) / block_size) for b in budgets) / layers


KVPolicy = FullCache | RecentWindow | HeavyHitter | Cake


def capacity_blocks(memory_bytes: float, weight_bytes: int, kv_bytes_per_token: int,
                    block_size: int, memory_fraction: float = 0.9,
                    reserve_bytes: float = 0.0, where: str = "") -> int:
    """Blocks that fit: (memory x fraction - weights - reserve) / (block_size x bytes per
    token). Raises ConfigError when the weights leave no room for a single block."""
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ConfigError(f"block_size must be an int >= 1, got {block_size!r}")
    if not 0 < memory_fraction <= 1:
        raise ConfigError(f"memory_fraction must be in (0, 1], got {memory_fraction!r}")
    free = memory_bytes * memory_fraction - weight_bytes - reserve_bytes
    blocks = int(free // (block_size * kv_bytes_per_token))
    if blocks < 1:
        raise ConfigError(
            f"model does not fit{where}: weights {weight_bytes / 1e9:.2f} GB + reserve "
            f"{reserve_bytes / 1e9:.2f} GB vs {memory_fraction:g} x {memory_bytes / 1e9:.2f} GB "
            f"of memory leaves {max(free, 0) / 1e9:.3f} GB, less than one KV block of "
            f"{block_size * kv_bytes_per_token / 1e6:.2f} MB (or run weights from host "
            "memory: the hardware's host.offload)")
    return blocks


@dataclass
class BlockPool:
    """``total`` blocks; ``held`` maps a sequence id to the blocks it holds (a float where a
    layer-wise policy pages each layer apart)."""

    total: int
    held: dict[int, float] = field(default_factory=dict)
    used: float = 0.0

    @property
    def free(self) -> float:
        return self.total - self.used

    def resize(self, seq: int, blocks: float) -> None:
        """Set ``seq``'s holding to ``blocks`` (the caller checked it fits)."""
        self.used += blocks - self.held.get(seq, 0.0)
        self.held[seq] = blocks

    def release(self, seq: int) -> float:
        blocks = self.held.pop(seq, 0.0)
        self.used -= blocks
        return blocks


class BuddyAllocator:
    """A binary buddy allocator over ``total`` KV blocks (Knuth, TAOCP vol. 1, 2.5): a request
    is rounded up to a power of two of blocks and placed in the lowest-addressed free chunk of
    that order, splitting a larger one if needed; a freed chunk merges with its free buddy.
    The pool is first cut into power-of-two chunks (963 blocks: 512 + 256 + 128 + 64 + 2 + 1),
    which never merge with each other, so free blocks can be too scattered to hold a request
    (external fragmentation) as well as rounded up (internal). The vLLM paper assumes its Orca
    baselines place KV caches this way (Kwon et al., SOSP 2023, Sec. 6.1)."""

    def __init__(self, total: int) -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ConfigError(f"BuddyAllocator: total must be an int >= 1, got {total!r}")
        self.total = total
        self.free_lists: list[set[int]] = [set() for _ in range(total.bit_length())]
        self._chunks: list[tuple[int, int]] = []  # (start, order) of the top-level chunks
        start = 0
        for order in reversed(range(total.bit_length())):
            if total >> order & 1:
                self.free_lists[order].add(start)
                self._chunks.append((start, order))
                start += 1 << order

    @staticmethod
    def order(blocks: int) -> int:
        """The power of two (as an exponent) a request of ``blocks`` is rounded up to."""
        return max(0, (int(blocks) - 1).bit_length())

    def alloc(self, blocks: int) -> int | None:
        """Offset of a chunk of 2^order(blocks) blocks, or None when none is free."""
        k = self.order(blocks)
        for o in range(k, len(self.free_lists)):
            if self.free_lists[o]:
                offset = min(self.free_lists[o])
                self.free_lists[o].discard(offset)
                while o > k:  # split, keeping the lower half
                    o -= 1
                    self.free_lists[o].add(offset + (1 << o))
                return offset
        return None

    def _top_order(self, offset: int) -> int:
        for start, order in self._chunks:
            if start <= offset < start + (1 << order):
                return order
        raise ValueError(f"offset {offset} outside the pool")

    def free(self, offset: int, blocks: int) -> None:
        """Return the chunk ``alloc(blocks)`` gave at ``offset``, merging free buddies."""
        k, top = self.order(blocks), self._top_order(offset)
        while k < top:
            buddy = offset ^ (1 << k)
            if buddy not in self.free_lists[k]:
                break
            self.free_lists[k].discard(buddy)
            offset = min(offset, buddy)
            k += 1
        self.free_lists[k].add(offset)

    @property
    def free_blocks(self) -> int:
        return sum(len(f) << o for o, f in enumerate(self.free_lists))


__all__ = ["BlockPool", "BuddyAllocator", "Cake", "FullCache", "HeavyHitter", "KVPolicy",
           "RecentWindow", "capacity_blocks"]
