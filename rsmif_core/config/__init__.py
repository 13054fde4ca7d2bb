"""Run configuration: a YAML file plus command-line overrides, validated before anything runs."""

from rsmif_core.config.load import ConfigError, load_config, resolve_config, shipped_config, to_yaml
from rsmif_core.config.schema import (
    DataSection,
    DatasetSection,
    EvalSection,
    LossSection,
    ModelSection,
    OptimSection,
    RunConfig,
    RuntimeSection,
    ScheduleSection,
    TrainerSection,
)

__all__ = [
    "ConfigError",
    "DataSection",
    "DatasetSection",
    "EvalSection",
    "LossSection",
    "ModelSection",
    "OptimSection",
    "RunConfig",
    "RuntimeSection",
    "ScheduleSection",
    "TrainerSection",
    "load_config",
    "resolve_config",
    "shipped_config",
    "to_yaml",
]
