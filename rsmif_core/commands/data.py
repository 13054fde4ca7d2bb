"""``rsmif data``: ``info``, ``simulate`` and ``sample``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.group("data")
def data_group() -> None:
    """Inspect data, build PanCollection-format files from your own scene, write the sample data."""


@data_group.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Check only this many evenly spread items of each array [default: every item].")
def info_cmd(path: Path, as_json: bool, sample: int | None) -> None:
    """Print what a data file or folder holds (keys, shapes, dtypes, value ranges, collection, sensor) and
    what is wrong with it: every item is checked for NaN/inf values and for items without data (all zero).
    Exits with status 1 when a problem is found."""
    from rich.console import Console
    from rich.progress import Progress

    from rsmif_core.data.info import format_info, inspect_path

    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, Any] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(f"checking {what}", total=total)
            bar.update(tasks[what], completed=done)

        info = inspect_path(path, sample, progress)
    click.echo(json.dumps(info.as_dict(), indent=2, default=str) if as_json else format_info(info))

    def has_problems(i: object) -> bool:
        return bool(getattr(i, "problems", [])) or any(has_problems(c) for c in getattr(i, "children", []))

    if has_problems(info):
        raise SystemExit(1)


def _gains(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, found {text!r}", param_hint="--mtf-gains") from None


def _scene_paths(pans: tuple[Path, ...], mss: tuple[Path, ...], scenes: Path | None) -> list[tuple[Path, Path]]:
    if len(pans) != len(mss):
        raise click.UsageError(f"{len(pans)} --pan and {len(mss)} --ms given: pass one --ms for each --pan (in order)")
    pairs = list(zip(pans, mss))
    if scenes is not None:
        from rsmif_core.data.rasters import read_scene_list

        pairs.extend(read_scene_list(scenes))
    if not pairs:
        raise click.UsageError("no scene given: pass --pan and --ms, or --scenes LIST")
    return pairs


@data_group.command("simulate")
@click.option("--pan", "pan_paths", multiple=True, type=click.Path(path_type=Path),
              help="Full-resolution PAN (.tif, .mat, .npy); repeat with --ms for several scenes.")
@click.option("--ms", "ms_paths", multiple=True, type=click.Path(path_type=Path),
              help="Full-resolution MS of the same ground (.tif, .mat, .npy), one per --pan.")
@click.option("--scenes", "scene_list", type=click.Path(path_type=Path), default=None,
              help="A text file listing scenes, one 'PAN MS' pair per line (paths relative to the file; # comments).")
@click.option("--sensor", required=True, help="Sensor for the MTF filters and the scale: wv3, wv2, qb, gf2, ikonos, geoeye1, none …")
@click.option("--ratio", type=int, default=None, help="PAN/MS resolution ratio (default: from the grids or shapes).")
@click.option("--patch", type=int, default=None,
              help="Training patch size, reduced guide pixels (default: 64, or less to fit the scene).")
@click.option("--stride", type=int, default=None, help="Patch stride (default: 3/4 of the patch).")
@click.option("--split", type=float, default=0.9, show_default=True,
              help="Share of the training area's rows for training patches; the strip below holds validation patches.")
@click.option("--test-fraction", type=float, default=0.2, show_default=True,
              help="Share of each scene's rows (at the bottom) held out for test tiles.")
@click.option("--test-size", type=int, default=None,
              help="Reduced-resolution test tile, a multiple of 32 (default: 256, or less to fit the scene).")
@click.option("--fr-size", type=int, default=None,
              help="Full-resolution test tile in PAN pixels, a multiple of 32 (default: 512, or less to fit the scene).")
@click.option("--name", default=None, help="Name in the file names (default: the sensor).")
@click.option("--max-value", type=float, default=None, help="Radiometric scale (default: from the sensor or an 8-bit input).")
@click.option("--pan-key", default=None, help="Variable of the PAN in a .mat file.")
@click.option("--ms-key", default=None, help="Variable of the MS in a .mat file.")
@click.option("--pan-degrade", type=click.Choice(["mtf", "bicubic"]), default="mtf", show_default=True,
              help="PAN reduction: its MTF filter + decimation, or MATLAB bicubic imresize (DLPan resize_images.m).")
@click.option("--mtf-gains", default=None,
              help="Per-band Nyquist gains of the MS, comma-separated, each in (0, 1) (default: the sensor's table).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder (new or empty).")
@click.option("--overwrite", is_flag=True, help="Replace the files of an earlier simulation in --out (others are kept).")
def simulate_cmd(pan_paths: tuple[Path, ...], ms_paths: tuple[Path, ...], scene_list: Path | None, sensor: str,
                 ratio: int | None, patch: int | None, stride: int | None, split: float, test_fraction: float,
                 test_size: int | None, fr_size: int | None, name: str | None, max_value: float | None,
                 pan_key: str | None, ms_key: str | None, pan_degrade: str, mtf_gains: str | None, out: Path,
                 overwrite: bool) -> None:
    """Wald protocol: degrade full-resolution PAN + MS scenes and write PanCollection-format h5 files
    (train, valid, reduced-resolution test, full-resolution test) and their manifest rsmif-data.yaml.

    Each scene's area with data is cut top to bottom into training, validation and test strips; patches
    and tiles touching no-data are dropped. Sizes not given are chosen to fit (a note says so)."""
    from rsmif_core.data.layout import Request
    from rsmif_core.data.rasters import read_raster
    from rsmif_core.data.simulation import SimulationOptions, check_output_folder, simulate

    check_output_folder(out, overwrite)
    scenes = [(read_raster(pan, pan_key), read_raster(ms, ms_key))
              for pan, ms in _scene_paths(pan_paths, ms_paths, scene_list)]
    request = Request(patch=patch, stride=stride, test_size=test_size, fr_size=fr_size, split=split,
                      test_fraction=test_fraction)
    options = SimulationOptions(sensor=sensor, ratio=ratio, max_value=max_value, mtf_gains=_gains(mtf_gains),
                                name=name, pan_method=pan_degrade, request=request)
    report = simulate(scenes, out, options, overwrite=overwrite)
    for note in report.notes:
        click.echo(f"note: {note}")
    sizes = report.sizes
    click.echo(f"sensor {report.sensor}, ratio {report.ratio}, scale {report.max_value:g}, MTF gains "
               f"{', '.join(f'{g:g}' for g in report.mtf_gains)}; patches {sizes.patch} (stride {sizes.stride}), "
               f"test tiles {sizes.test_size} (reduced) and {sizes.fr_size} (full resolution)")
    dropped = ", ".join(f"{k} {v}" for k, v in report.dropped.items())
    click.echo(f"dropped for touching no-data: {dropped}")
    for split_name, path in report.files.items():
        click.echo(f"{split_name:8s} {report.counts[split_name]:6d} items  {path}")
    click.echo(f"manifest {report.manifest}")


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
