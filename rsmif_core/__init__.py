"""RSMIF: remote sensing multimodal image fusion.

Public names for users and plugins: the contracts (:class:`Batch`, :class:`FusionOutput`,
:class:`LossOutput`, :class:`FusionModel`), the plugin marker :data:`hookimpl`, the factories
``create_model`` / ``create_dataset`` / ``create_loss`` / ``create_metric`` and ``available``, and the
shared operators (sensor MTF filters, the toolbox interpolators, wavelets, window attention,
channels-last and pointwise convolutions).

Names are imported on first use, so ``import rsmif_core`` (and ``rsmif --help``) does not pay for torch.
A plugin imports only these names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rsmif_core.ops import forks as _forks  # noqa: F401  (registers the at-fork marker before any work)

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC: dict[str, str] = {
    # contracts
    "TASKS": "rsmif_core.types",
    "Batch": "rsmif_core.types",
    "BatchError": "rsmif_core.types",
    "BatchMeta": "rsmif_core.types",
    "FusionDataset": "rsmif_core.types",
    "FusionModel": "rsmif_core.types",
    "FusionOutput": "rsmif_core.types",
    "LossOutput": "rsmif_core.types",
    "collate": "rsmif_core.types",
    "lazy_attributes": "rsmif_core.lazy",
    # plugins and registry
    "hookimpl": "rsmif_core.plugins.hookspecs",
    "Register": "rsmif_core.plugins.hookspecs",
    "RegisterCommand": "rsmif_core.plugins.hookspecs",
    "RegisterConfig": "rsmif_core.plugins.hookspecs",
    "register_config_folder": "rsmif_core.plugins.hookspecs",
    "Entry": "rsmif_core.plugins.registry",
    "RsmifError": "rsmif_core.errors",
    "UsageError": "rsmif_core.errors",
    "RunFailure": "rsmif_core.errors",
    "RegistryError": "rsmif_core.plugins.registry",
    "available": "rsmif_core.plugins.factory",
    "create_dataset": "rsmif_core.plugins.factory",
    "create_loss": "rsmif_core.plugins.factory",
    "create_metric": "rsmif_core.plugins.factory",
    "create_model": "rsmif_core.plugins.factory",
    "describe": "rsmif_core.plugins.factory",
    # operators
    "ChannelsLastConv2d": "rsmif_core.ops.layers",
    "channels_last": "rsmif_core.ops.layers",
    "PointwiseConv2d": "rsmif_core.ops.layers",
    "pointwise_conv2d": "rsmif_core.ops.layers",
    "dynamic_conv2d": "rsmif_core.ops.attention",
    "local_window_attention": "rsmif_core.ops.attention",
    "position_grid": "rsmif_core.ops.attention",
    "haar_dwt": "rsmif_core.ops.wavelets",
    "haar_iwt": "rsmif_core.ops.wavelets",
    "interp23tap": "rsmif_core.ops.interp",
    "interp23tap_general": "rsmif_core.ops.interp",
    "imresize": "rsmif_core.ops.interp",
    "SENSORS": "rsmif_core.ops.mtf",
    "UnknownSensorError": "rsmif_core.ops.mtf",
    "canonical_sensor": "rsmif_core.ops.mtf",
    "decimate": "rsmif_core.ops.mtf",
    "filter_replicate": "rsmif_core.ops.mtf",
    "lp_filter_gauss": "rsmif_core.ops.mtf",
    "ms_gains": "rsmif_core.ops.mtf",
    "mtf_degrade": "rsmif_core.ops.mtf",
    "mtf_degrade_pan": "rsmif_core.ops.mtf",
    "mtf_filter": "rsmif_core.ops.mtf",
    "mtf_filter_pan": "rsmif_core.ops.mtf",
    "mtf_kernels": "rsmif_core.ops.mtf",
    "pan_gain": "rsmif_core.ops.mtf",
}

__all__ = [
    "Batch",
    "BatchError",
    "BatchMeta",
    "ChannelsLastConv2d",
    "Entry",
    "FusionDataset",
    "FusionModel",
    "FusionOutput",
    "LossOutput",
    "PointwiseConv2d",
    "Register",
    "RegisterCommand",
    "RegisterConfig",
    "register_config_folder",
    "RegistryError",
    "RsmifError",
    "RunFailure",
    "SENSORS",
    "TASKS",
    "UnknownSensorError",
    "UsageError",
    "__version__",
    "available",
    "canonical_sensor",
    "channels_last",
    "collate",
    "create_dataset",
    "create_loss",
    "create_metric",
    "create_model",
    "decimate",
    "describe",
    "dynamic_conv2d",
    "filter_replicate",
    "haar_dwt",
    "haar_iwt",
    "hookimpl",
    "imresize",
    "interp23tap",
    "interp23tap_general",
    "lazy_attributes",
    "local_window_attention",
    "lp_filter_gauss",
    "ms_gains",
    "mtf_degrade",
    "mtf_degrade_pan",
    "mtf_filter",
    "mtf_filter_pan",
    "mtf_kernels",
    "pan_gain",
    "pointwise_conv2d",
    "position_grid",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'rsmif_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from rsmif_core.errors import RsmifError, RunFailure, UsageError
    from rsmif_core.lazy import lazy_attributes
    from rsmif_core.ops.attention import (
        dynamic_conv2d,
        local_window_attention,
        position_grid,
    )
    from rsmif_core.ops.interp import imresize, interp23tap, interp23tap_general
    from rsmif_core.ops.layers import ChannelsLastConv2d, PointwiseConv2d, channels_last, pointwise_conv2d
    from rsmif_core.ops.mtf import (
        SENSORS,
        UnknownSensorError,
        canonical_sensor,
        decimate,
        filter_replicate,
        lp_filter_gauss,
        ms_gains,
        mtf_degrade,
        mtf_degrade_pan,
        mtf_filter,
        mtf_filter_pan,
        mtf_kernels,
        pan_gain,
    )
    from rsmif_core.ops.wavelets import haar_dwt, haar_iwt
    from rsmif_core.plugins.factory import (
        available,
        create_dataset,
        create_loss,
        create_metric,
        create_model,
        describe,
    )
    from rsmif_core.plugins.hookspecs import (
        Register,
        RegisterCommand,
        RegisterConfig,
        hookimpl,
        register_config_folder,
    )
    from rsmif_core.plugins.registry import Entry, RegistryError
    from rsmif_core.types import (
        TASKS,
        Batch,
        BatchError,
        BatchMeta,
        FusionDataset,
        FusionModel,
        FusionOutput,
        LossOutput,
        collate,
    )
