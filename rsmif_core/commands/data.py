"""``rsmif data``: ``info``, ``simulate`` and ``sample``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rsmif_core.data.errors import DataError


@click.group("data")
def data_group() -> None:
    """Inspect data, build PanCollection-format files from your own scene, write the sample data."""


@data_group.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_cmd(path: Path, as_json: bool) -> None:
    """Print what a data file or folder holds (keys, shapes, dtypes, value ranges, collection, sensor) and
    what is wrong with it. Exits with status 1 when a problem is found."""
    from rsmif_core.data.info import format_info, inspect_path

    info = inspect_path(path)
    click.echo(json.dumps(info.as_dict(), indent=2, default=str) if as_json else format_info(info))

    def has_problems(i: object) -> bool:
        return bool(getattr(i, "problems", [])) or any(has_problems(c) for c in getattr(i, "children", []))

    if has_problems(info):
        raise SystemExit(1)


def _gains(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, found {text!r}", param_hint="--mtf-gains") from None


@data_group.command("simulate")
@click.option("--pan", "pan_path", required=True, type=click.Path(path_type=Path), help="Full-resolution PAN (.tif, .mat, .npy).")
@click.option("--ms", "ms_path", required=True, type=click.Path(path_type=Path), help="Full-resolution MS (.tif, .mat, .npy).")
@click.option("--sensor", required=True, help="Sensor for the MTF filter and the scale: wv3, wv2, qb, gf2, ikonos, geoeye1, none …")
@click.option("--ratio", type=int, default=None, help="PAN/MS resolution ratio (default: from the grids).")
@click.option("--patch", type=int, default=64, show_default=True, help="Training patch size (guide pixels).")
@click.option("--stride", type=int, default=None, help="Patch stride (default: 3/4 of the patch).")
@click.option("--split", type=float, default=0.9, show_default=True, help="Share of patches for training (rest: valid).")
@click.option("--test-fraction", type=float, default=0.2, show_default=True, help="Bottom share of the scene held out for testing.")
@click.option("--test-size", type=int, default=256, show_default=True, help="Reduced-resolution test tile (guide pixels).")
@click.option("--fr-size", type=int, default=512, show_default=True, help="Full-resolution test tile (guide pixels).")
@click.option("--name", default=None, help="Name in the file names (default: the sensor).")
@click.option("--max-value", type=float, default=None, help="Radiometric scale (default: from the sensor or an 8-bit input).")
@click.option("--pan-key", default=None, help="Variable of the PAN in a .mat file.")
@click.option("--ms-key", default=None, help="Variable of the MS in a .mat file.")
@click.option("--pan-degrade", type=click.Choice(["mtf", "bicubic"]), default="mtf", show_default=True,
              help="PAN reduction: its MTF filter + decimation, or MATLAB bicubic imresize (DLPan resize_images.m).")
@click.option("--mtf-gains", default=None, help="Per-band Nyquist gains, comma-separated (overrides the sensor table).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
def simulate_cmd(pan_path: Path, ms_path: Path, sensor: str, ratio: int | None, patch: int, stride: int | None,
                 split: float, test_fraction: float, test_size: int, fr_size: int, name: str | None,
                 max_value: float | None, pan_key: str | None, ms_key: str | None, pan_degrade: str,
                 mtf_gains: str | None, seed: int, out: Path) -> None:
    """Wald protocol: degrade a full-resolution PAN + MS scene and write PanCollection-format h5 files
    (train, valid, reduced-resolution test, full-resolution test)."""
    from rsmif_core.data.rasters import check_pair, read_raster
    from rsmif_core.data.sensors import sensor_max_value
    from rsmif_core.data.wald import simulate

    pan = read_raster(pan_path, pan_key)
    ms = read_raster(ms_path, ms_key)
    ratio = check_pair(pan, ms, ratio)
    if max_value is None:
        max_value = sensor_max_value(sensor)
    if max_value is None and ms.dtype == "uint8":
        max_value = 255.0
    if max_value is None:
        raise DataError(None, f"no known radiometric scale for sensor {sensor!r} and a {ms.dtype} input: pass --max-value")
    report = simulate(
        pan.array, ms.array, out, sensor=sensor, ratio=ratio, name=name, max_value=max_value, patch=patch,
        stride=stride, split=split, test_fraction=test_fraction, test_size=test_size, fr_size=fr_size,
        pan_method=pan_degrade, mtf_gains=_gains(mtf_gains), seed=seed, source=f"{pan_path.name} + {ms_path.name}",
    )
    for split_name, path in report.files.items():
        click.echo(f"{split_name:8s} {report.counts[split_name]:6d} items  {path}")
    if report.clipped_negative:
        click.echo(f"note: {report.clipped_negative} negative input values were clipped to 0")


@data_group.command("sample")
@click.option("--task", type=click.Choice(["pansharpening", "hyperspectral", "sar-optical", "ms-hs"]),
              default="pansharpening", show_default=True)
@click.option("--scene", default=None, help="pansharpening: landsat7 (default, real) or synthetic.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
def sample_cmd(task: str, scene: str | None, out: Path) -> None:
    """Write the built-in sample scene of TASK in its collection's format (h5 files or a SEN12MS-CR tree)."""
    from rsmif_core.data.sample_writer import write_sample

    written = write_sample(task, out, scene)
    shown = written if len(written) <= 8 else [*written[:4], Path("…"), *written[-2:]]
    for path in shown:
        click.echo(str(path))
    click.echo(f"wrote {len(written)} files to {out}")
