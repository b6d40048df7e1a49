"""Exceptions raised for bad user input. Both are ValueError subclasses."""


class ConfigError(ValueError):
    """A hardware or tool configuration is malformed: names the file, field, value and what
    is allowed."""


class WorkloadError(ValueError):
    """A workload or topology is malformed: names the file, line or field, the value and
    what is allowed."""
