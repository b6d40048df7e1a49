"""Exceptions raised for bad user input (ValueError subclasses) and for a missing optional
dependency (MissingExtra)."""


class ConfigError(ValueError):
    """A hardware or tool configuration is malformed: names the file, field, value and what
    is allowed."""


class WorkloadError(ValueError):
    """A workload or topology is malformed: names the file, line or field, the value and
    what is allowed."""


class MissingExtra(ImportError):
    """An optional dependency is not installed: names the feature and the pip extra that
    installs it (the CLI prints it as one line and exits 2)."""

    def __init__(self, feature: str, module: str, extra: str) -> None:
        super().__init__(f"{feature} needs the {module!r} package, which is not installed: "
                         f"pip install 'pysim[{extra}]'")
        self.extra = extra


def require(module: str, feature: str, extra: str):  # noqa: ANN201 - the module
    """Import ``module`` for ``feature``, or raise MissingExtra naming ``extra``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(feature, module, extra) from None
