"""Readers of the fusion collections, the Wald-protocol simulator and the sample data.

Datasets (also registered by name: ``pancollection``, ``hyperpancollection``, ``ms-hs``, ``sen12mscr``,
``sample``) yield dicts of float32 tensors ``pan``, ``ms``, ``lms``, ``gt`` (absent without reference)
scaled by ``max_value``, plus ``task``, ``sensor``, ``ratio``, ``max_value`` and ``id``; batch them with
``rsmif_core.collate``. Bad files raise :class:`DataError` when the dataset is created.
"""

from typing import TYPE_CHECKING

from rsmif_core.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, {
    "SEN12MSCR": "rsmif_core.data.sen12mscr",
    "DataError": "rsmif_core.data.errors",
    "HyperPanCollection": "rsmif_core.data.hyperpancollection",
    "MSHSCollection": "rsmif_core.data.mshs",
    "PanCollection": "rsmif_core.data.pancollection",
    "SampleDataset": "rsmif_core.data.sample",
    "SimulationOptions": "rsmif_core.data.simulation",
    "dataset_sections": "rsmif_core.data.manifest",
    "reduce_resolution": "rsmif_core.data.wald",
    "simulate": "rsmif_core.data.simulation",
})

if TYPE_CHECKING:  # pragma: no cover
    from rsmif_core.data.errors import DataError
    from rsmif_core.data.hyperpancollection import HyperPanCollection
    from rsmif_core.data.manifest import dataset_sections
    from rsmif_core.data.mshs import MSHSCollection
    from rsmif_core.data.pancollection import PanCollection
    from rsmif_core.data.sample import SampleDataset
    from rsmif_core.data.sen12mscr import SEN12MSCR
    from rsmif_core.data.simulation import SimulationOptions, simulate
    from rsmif_core.data.wald import reduce_resolution

__all__ = [
    "SEN12MSCR",
    "DataError",
    "HyperPanCollection",
    "MSHSCollection",
    "PanCollection",
    "SampleDataset",
    "SimulationOptions",
    "dataset_sections",
    "reduce_resolution",
    "simulate",
]
