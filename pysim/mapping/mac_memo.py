"""The mapped figures of MAC ops, remembered per hardware by what the mapping reads of an op.

A network repeats its layers (ResNet's bottlenecks, a transformer's blocks, a training graph's
dX and dW GEMMs of identical layers), and a sweep maps the same workload again and again: the
tiling search is memoised per GEMM (``plan_gemm``), but the per-op analysis around it (tile
shapes priced by the unit's tile model, bank conflicts, scratchpad and register-file counts)
ran again for every op. Its result depends on the hardware and on the op's fields but not on
its name or its tensors' names, only on whether its A and B operands are kept on chip, the
bytes the kept area holds while it runs (the room left for tiles) and whether its output stays
on chip; ``MacMemo`` keys it so. Past the tiling search it reads the room only through the
tiling found, so that part is also kept by the tiling (``MappedOps.tiled``): a training
graph's GEMM runs beside a hundred kept-area sizes, and most of them give it the same tiling.

Hardware objects are immutable but not cheaply hashable (pydantic models of many fields), so
the memo keeps, per hardware object, a strong reference beside its entries: an ``id`` is
unique while the object lives, and the memo keeps it alive. At most ``HARDWARE`` of them are
kept (least recently used first out); ``pysim.memo.clear_caches`` clears it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

# Bounds: a sweep revisits the point it just ran (warm runs, schedules) or moves on, so a few
# hardware objects suffice; a network has tens of distinct MAC ops (a training graph a few
# hundred). A snapshot is a few KB, so the memo stays under ~30 MB.
HARDWARE = 4  # hardware objects remembered at once
PER_HARDWARE = 2048  # mapped ops remembered per hardware
ROOMS = 8  # ranges of room remembered per op (the kept area's sizes an op meets fall in few)
NAMES = frozenset({"name", "inputs", "output"})


def op_signature(op: Any) -> tuple[Any, ...]:
    """What the mapping reads of ``op``: its type and every field but its own and its
    tensors' names (hashable: the fields of a frozen op are). Built once per op and kept in
    its ``__dict__``, as ``functools.cached_property`` keeps an op's figures (CachedFigures:
    a copy with changed fields drops it)."""
    found = op.__dict__.get("_op_signature")
    if found is None:
        fields = type(op).model_fields
        found = (type(op), *(getattr(op, f) for f in fields if f not in NAMES))
        op.__dict__["_op_signature"] = found
    return found


def snapshot(m: dict[str, Any]) -> dict[str, Any]:
    """A copy of a mapping dict the mapper may go on adding to: its dicts and their lists
    copied, every other value immutable."""
    out: dict[str, Any] = {}
    for key, value in m.items():
        if isinstance(value, dict):
            value = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
        out[key] = value
    return out


class Remembered(OrderedDict[tuple[Any, ...], dict[str, Any]]):
    """Mapping dicts by key, least recently used first, at most PER_HARDWARE of them."""

    def recall(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        """A copy of the mapping remembered for ``key``, or None."""
        found = self.get(key)
        if found is None:
            return None
        self.move_to_end(key)
        return snapshot(found)

    def remember(self, key: tuple[Any, ...], m: dict[str, Any]) -> None:
        """Keep a copy of ``m`` for ``key``."""
        self[key] = snapshot(m)
        while len(self) > PER_HARDWARE:
            self.popitem(last=False)


class ByRoom(OrderedDict[tuple[Any, ...], list[tuple[int, int, dict[str, Any]]]]):
    """Mapping dicts by key and a range of the room left for tiles (the bytes of the
    capacity's varying group, lo..hi inclusive, over which the tiling search finds the same
    candidates fitting: ``GemmTiling.room``), least recently used key first."""

    def recall_at(self, key: tuple[Any, ...], room: int) -> dict[str, Any] | None:
        """A copy of the mapping remembered for ``key`` at a range holding ``room``, or None."""
        for lo, hi, m in self.get(key, ()):
            if lo <= room <= hi:
                self.move_to_end(key)
                return snapshot(m)
        return None

    def remember_at(self, key: tuple[Any, ...], room: tuple[int, int],
                    m: dict[str, Any]) -> None:
        """Keep a copy of ``m`` for ``key`` over ``room`` (at most ROOMS ranges a key)."""
        ranges = self.setdefault(key, [])
        ranges.insert(0, (room[0], room[1], snapshot(m)))
        del ranges[ROOMS:]
        self.move_to_end(key)
        while len(self) > PER_HARDWARE:
            self.popitem(last=False)


class MappedOps(Remembered):
    """One hardware object's mapped MAC ops by key; ``tiled`` the same past the tiling search,
    by what the op's key holds but the room left for tiles and by the tiling found
    (``planner._map_mac_op``: past the search the mapping reads the room only through the
    tiling); ``capacity`` its scratchpads' room as a function of the bytes kept on chip
    (``planner._capacity``, made once per hardware: a training graph's planned residency asks
    for hundreds of sizes); on a GPU, ``kernels`` its MAC ops' kernels
    (``pysim.gpu.kernels.mac_kernel``, immutable) by ``kernel_key``; ``rooms`` the mapped
    ops by what the op's key holds but the room, over the range of room that finds the same
    tiling (a training graph's op at a new kept-area size maps as at one seen before);
    ``dispatched`` the unit a dispatch by mapping chose for an op's key."""

    def __init__(self) -> None:
        super().__init__()
        self.tiled = Remembered()
        self.rooms = ByRoom()
        self.capacity: Any = None
        self.kernels: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        # the unit dispatch by mapping chose, by the op's key (planner._remembered_best)
        self.dispatched: OrderedDict[tuple[Any, ...], str] = OrderedDict()

    def kernel(self, key: tuple[Any, ...], make: Any) -> Any:
        """The kernel remembered for ``key``, else ``make()``'s, remembered."""
        found = self.kernels.get(key)
        if found is None:
            found = self.kernels[key] = make()
            while len(self.kernels) > PER_HARDWARE:
                self.kernels.popitem(last=False)
        else:
            self.kernels.move_to_end(key)
        return found


class MacMemo:
    """Per hardware object, its ``MappedOps`` (see the module docstring)."""

    def __init__(self) -> None:
        self._by_hw: OrderedDict[int, tuple[Any, MappedOps]] = OrderedDict()

    def of(self, hw: Any) -> MappedOps:
        """The mapped ops of ``hw`` (none the first time)."""
        key = id(hw)
        held = self._by_hw.get(key)
        if held is None or held[0] is not hw:
            held = (hw, MappedOps())
            self._by_hw[key] = held
            while len(self._by_hw) > HARDWARE:
                self._by_hw.popitem(last=False)
        self._by_hw.move_to_end(key)
        return held[1]

    def cache_clear(self) -> None:
        """Forget everything (``pysim.memo.clear_caches`` calls it)."""
        self._by_hw.clear()


MAPPED = MacMemo()
