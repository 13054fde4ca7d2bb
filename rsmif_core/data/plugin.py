"""Registers the built-in datasets and the ``rsmif data`` command group."""

from __future__ import annotations

from rsmif_core.plugins.hookspecs import Register, hookimpl


@hookimpl
def register_datasets(register: Register) -> None:
    from rsmif_core.data.hyperpancollection import HyperPanCollection
    from rsmif_core.data.mshs import MSHSCollection
    from rsmif_core.data.pancollection import PanCollection
    from rsmif_core.data.sample import SampleDataset
    from rsmif_core.data.sen12mscr import SEN12MSCR

    register("pancollection", PanCollection, description="PanCollection h5 (gt/ms/lms/pan; WV3, QB, GF2, WV2)",
             tasks=("pansharpening",))
    register("hyperpancollection", HyperPanCollection,
             description="HyperPanCollection h5 (GT/LMS/MS/PAN; WDC, Pavia, Botswana, FR1)", tasks=("hyperspectral",))
    register("ms-hs", MSHSCollection, description="CAVE/Harvard-style h5 (GT/HSI_up/LRHSI/RGB)", tasks=("ms-hs",))
    register("sen12mscr", SEN12MSCR, description="SEN12MS-CR GeoTIFF tree (S1 + cloudy S2 -> clear S2)",
             tasks=("sar-optical",))
    register("sample", SampleDataset, description="built-in sample scene per task (no file needed)",
             tasks=("pansharpening", "hyperspectral", "sar-optical", "ms-hs"))


@hookimpl
def register_commands(register: Register) -> None:
    from rsmif_core.data.commands import data_group

    register(data_group)
