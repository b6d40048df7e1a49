"""Energy: action counts times per-action energies from the hardware's energy table."""

from pysim.energy.model import (
    COMPONENTS,
    ON_CHIP,
    RUN_COMPONENTS,
    OpEnergy,
    leakage_pj,
    overhead_pj,
    price_op,
)

__all__ = ["COMPONENTS", "ON_CHIP", "RUN_COMPONENTS", "OpEnergy", "leakage_pj", "overhead_pj",
           "price_op"]
