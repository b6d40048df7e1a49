"""Energy: action counts times per-action energies from the hardware's energy table."""

from pysim.energy.model import COMPONENTS, OpEnergy, leakage_pj, price_op

__all__ = ["COMPONENTS", "OpEnergy", "leakage_pj", "price_op"]
