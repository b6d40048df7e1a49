"""Run a SCALE-Sim config (.cfg) and topology (.csv) through pysim and write
COMPUTE_REPORT.csv, DETAILED_ACCESS_REPORT.csv and BANDWIDTH_REPORT.csv."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="SCALE-Sim .cfg file")
    parser.add_argument("-t", "--topology", required=True, help="topology CSV")
    parser.add_argument("--gemm", action="store_true", help="topology is 'Layer, M, N, K'")
    parser.add_argument("-o", "--outdir", required=True, help="folder for the report CSVs")


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("pysim scalesim: being written")
