"""Run configuration: a YAML file plus command-line overrides, validated before anything runs."""

from typing import TYPE_CHECKING

from rsmif_core.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, {
    "ConfigError": "rsmif_core.config.load",
    "load_config": "rsmif_core.config.load",
    "to_yaml": "rsmif_core.config.load",
    "resolve_config": "rsmif_core.config.load",
    "shipped_config": "rsmif_core.config.load",
    "DataSection": "rsmif_core.config.schema",
    "DatasetSection": "rsmif_core.config.schema",
    "EvalSection": "rsmif_core.config.schema",
    "LossSection": "rsmif_core.config.schema",
    "ModelSection": "rsmif_core.config.schema",
    "OptimSection": "rsmif_core.config.schema",
    "RunConfig": "rsmif_core.config.schema",
    "RuntimeSection": "rsmif_core.config.schema",
    "ScheduleSection": "rsmif_core.config.schema",
    "TrainerSection": "rsmif_core.config.schema",
})

if TYPE_CHECKING:  # pragma: no cover
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
