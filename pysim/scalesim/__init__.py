"""SCALE-Sim 3.0.0 compatibility: its config and topology formats and its report CSVs."""
