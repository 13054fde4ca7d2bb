"""The core's own models, datasets, losses and metrics, registered through the same hooks as any plugin."""

from __future__ import annotations

from pathlib import Path

from rsmif_core.plugins.hookspecs import Register, RegisterConfig, hookimpl, register_config_folder

_PAN_TASKS = ("pansharpening", "hyperspectral")

# PNN's run configurations in rsmif_core/configs/ (pnn-SETTING.yaml is registered as pnn:SETTING).


@hookimpl
def register_models(register: Register) -> None:
    from rsmif_core.models.baselines import EXP, PNN

    register("pnn", PNN, description="PNN (Masi et al. 2016): three convolutions on concat(lms, guide)")
    register("exp", EXP, description="EXP: the upsampled spectral image itself (no learning)")


@hookimpl
def register_losses(register: Register) -> None:
    from rsmif_core.losses.full_resolution import hqnr, lambda_pnn, zpnn
    from rsmif_core.losses.pixel import l1, mse

    register("l1", l1)
    register("mse", mse)
    register("zpnn", zpnn, tasks=_PAN_TASKS)
    register("lambda_pnn", lambda_pnn, tasks=_PAN_TASKS)
    register("hqnr", hqnr, tasks=_PAN_TASKS)


@hookimpl
def register_metrics(register: Register) -> None:
    """Every index of :mod:`rsmif_core.metrics.classes`, by its functional name."""
    from rsmif_core.metrics.classes import METRICS

    for name, cls in METRICS.items():
        kind = "reduced resolution, needs gt" if cls.needs_reference else "full resolution, no reference"
        better = "higher is better" if cls.higher_is_better else "lower is better"
        doc = (cls.__doc__ or name).strip().split("\n")[0].rstrip(".")
        register(name, cls, description=f"{doc} ({kind}; {better})", tasks=() if cls.needs_reference else _PAN_TASKS)


@hookimpl
def register_datasets(register: Register) -> None:
    from rsmif_core.data.hyperpancollection import HyperPanCollection
    from rsmif_core.data.mshs import MSHSCollection
    from rsmif_core.data.pancollection import PanCollection
    from rsmif_core.data.sample import SampleDataset
    from rsmif_core.data.scene_patches import ScenePatches
    from rsmif_core.data.sen12mscr import SEN12MSCR

    register("pancollection", PanCollection, description="PanCollection h5 (gt/ms/lms/pan; WV3, QB, GF2, WV2)",
             tasks=("pansharpening",))
    register("hyperpancollection", HyperPanCollection,
             description="HyperPanCollection h5 (GT/LMS/MS/PAN; WDC, Pavia, Botswana, FR1)", tasks=("hyperspectral",))
    register("ms-hs", MSHSCollection, description="CAVE/Harvard-style h5 (GT/HSI_up/LRHSI/RGB)", tasks=("ms-hs",))
    register("sen12mscr", SEN12MSCR, description="SEN12MS-CR GeoTIFF tree (S1 + cloudy S2 -> clear S2)",
             tasks=("sar-optical",))
    register("scene_patches", ScenePatches, tasks=_PAN_TASKS,
             description="full-resolution patches without reference of a PAN + MS pair or a 'data simulate' folder")
    register("sample", SampleDataset, description="built-in sample scene per task (no file needed)",
             tasks=("pansharpening", "hyperspectral", "sar-optical", "ms-hs"))


@hookimpl
def register_configs(register: RegisterConfig) -> None:
    register_config_folder(register, "pnn", Path(__file__).resolve().parents[1] / "configs")
