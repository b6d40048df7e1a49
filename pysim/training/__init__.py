"""Training on the simulated hardware (issue 15): `step` derives and simulates one training
step of a workload (on one device or, ``data_parallel=N``, on N with gradient all-reduces
overlapped with the backward pass, ZeRO's partitions, gradient accumulation and Megatron-LM's
tensor parallelism),
`pipeline_step` one over a pipeline of devices, `run` a sequence of epochs under a precision
schedule.
docs/training.md has the model, its formulas and their sources."""

from pysim.training.data_parallel import Bucket, DataParallel
from pysim.training.formats import FORMATS, RECIPES, Format, Recipe, get_format, get_recipe
from pysim.training.graph import TrainingGraph, TrainOp, build_training_graph
from pysim.training.monarch import monarchize
from pysim.training.optim import OPTIMIZERS, Optimizer, get_optimizer
from pysim.training.pipeline import PipelineStep, pipeline_step
from pysim.training.schedule import RunReport, Schedule, run
from pysim.training.step import Memory, TrainingStep, step, training_form

__all__ = [
    "FORMATS",
    "OPTIMIZERS",
    "RECIPES",
    "Bucket",
    "DataParallel",
    "Format",
    "Memory",
    "Optimizer",
    "PipelineStep",
    "Recipe",
    "RunReport",
    "Schedule",
    "TrainOp",
    "TrainingGraph",
    "TrainingStep",
    "build_training_graph",
    "get_format",
    "get_optimizer",
    "get_recipe",
    "monarchize",
    "pipeline_step",
    "run",
    "step",
    "training_form",
]
