"""``rsmif score``: score fused images made by any tool (MATLAB, other frameworks) with RSMIF's indices."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rsmif_core.errors import UsageError
from rsmif_core.io import atomic_write

if TYPE_CHECKING:
    import torch

    from rsmif_core.metrics.files import ScoreFiles

DEFAULT_RR = ("q2n", "q_index", "sam", "ergas", "scc", "psnr", "ssim", "rmse", "cc", "rase")
DEFAULT_FR = ("d_lambda_k", "d_s", "hqnr", "d_lambda", "qnr")


def _recorded(files: ScoreFiles, key: str, notes: list[str]) -> Any:
    value = files.recorded.get(key)
    if value is not None:
        notes.append(f"{key} {value} as recorded in {files.recorded_from[key]}")
    return value


def _scale(files: ScoreFiles, sensor: str | None, notes: list[str]) -> float:
    recorded = _recorded(files, "max_value", notes)
    if recorded is not None:
        return float(recorded)
    if sensor is not None:
        from rsmif_core.data.sensors import sensor_max_value

        found = sensor_max_value(sensor)
        if found is not None:
            notes.append(f"max_value {found:g}: the scale of sensor {sensor}")
            return found
    raise UsageError("--max-value is needed: the files do not record their radiometric scale"
                     + (f" and sensor {sensor!r} has no known one" if sensor else "")
                     + " (e.g. 2047 for 11-bit WorldView/QuickBird data, 1023 for GF-2, 255 for 8-bit)")


def _ratio(files: ScoreFiles, notes: list[str], needed: bool) -> int:
    recorded = _recorded(files, "ratio", notes)
    if recorded is not None:
        return int(recorded)
    pan, ms = files.others.get("pan"), files.others.get("ms")
    if pan is not None and ms is not None and ms.array.shape[-1] and pan.array.shape[-1] % ms.array.shape[-1] == 0:
        return pan.array.shape[-1] // ms.array.shape[-1]
    if needed:
        raise UsageError("--ratio is needed for ERGAS: the files do not record the PAN/MS scale ratio")
    return 4


def _resolve_metrics(spec: str | None, full: bool) -> list[str]:
    from rsmif_core.metrics.classes import FULL_RESOLUTION, METRICS, REDUCED_RESOLUTION

    if spec is None:
        return list(DEFAULT_FR if full else DEFAULT_RR)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    allowed = FULL_RESOLUTION if full else REDUCED_RESOLUTION
    for n in names:
        if n not in METRICS:
            raise click.UsageError(f"unknown metric {n!r}; known: {', '.join(METRICS)}")
        if n not in allowed:
            mode = "full-resolution (--pan/--ms)" if full else "reduced-resolution (--reference)"
            raise click.UsageError(f"metric {n!r} does not apply in {mode} mode; use one of {', '.join(allowed)}")
    return names


def _fmt(v: float) -> str:
    return "nan" if math.isnan(v) else ("inf" if math.isinf(v) else f"{v:.4f}")


@click.command("score")
@click.option("--fused", required=True, help="Fused image file or directory (.mat, .h5, .tif, .npy; FILE::KEY picks an array).")
@click.option("--reference", "--gt", "reference", default=None, help="Reference (ground truth) file or directory: reduced-resolution indices.")
@click.option("--pan", default=None, help="PAN file or directory: full-resolution indices (with --ms).")
@click.option("--ms", default=None, help="Low-resolution MS file or directory (full resolution).")
@click.option("--lms", default=None, help="MS upsampled to the PAN grid; default: 23-tap interpolation of --ms.")
@click.option("--sensor", default=None,
              help="Sensor for the MTF filters of D_lambda^K / HQNR, e.g. wv3, wv2, qb, ikonos, geoeye1, gf2, none "
                   "[default: what the files record].")
@click.option("--ratio", type=int, default=None,
              help="PAN/MS scale ratio [default: what the files record, else PAN size / MS size].")
@click.option("--max-value", type=float, default=None,
              help="Radiometric maximum of the DN scale, e.g. 2047 for 11-bit data [default: what the files record, "
                   "else the sensor's].")
@click.option("--scale", type=click.Choice(["auto", "dn", "unit"]), default="auto", show_default=True,
              help="Value scale of the files: DN, already divided by max-value ('unit'), or detected per array.")
@click.option("--metrics", "metric_spec", default=None, help="Comma-separated indices (default: all of the mode).")
@click.option("--border", type=int, default=0, show_default=True, help="Toolbox dim_cut (21 in the 2021 benchmark).")
@click.option("--clip", is_flag=True, help="Clip the fused image to [0, 2^L] like the toolbox's th_values.")
@click.option("--block-size", type=int, default=32, show_default=True)
@click.option("--protocol", type=click.Choice(["toolbox", "authors"]), default="toolbox", show_default=True)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Write per-image values and mean/std here.")
@click.option("--per-image", is_flag=True, help="Also print every image's values.")
def score(fused: str, reference: str | None, pan: str | None, ms: str | None, lms: str | None, sensor: str | None,
          ratio: int | None, max_value: float | None, scale: str, metric_spec: str | None, border: int, clip: bool,
          block_size: int, protocol: str, csv_path: str | None, per_image: bool) -> None:
    """Score fused images against a reference (reduced resolution) or PAN + MS (full resolution).

    Images of two folders are paired by file name. The scale, sensor and ratio come from the options, else
    from what the files record (RSMIF's own outputs and `rsmif data simulate` files record them)."""
    from rsmif_core.metrics.files import read_score_files, score_images
    from rsmif_core.ops.mtf import SENSORS

    full = reference is None
    if full and (pan is None or ms is None):
        raise UsageError("give --reference for reduced-resolution indices, or --pan and --ms for full-resolution ones")
    if not full and (pan is not None or ms is not None):
        raise UsageError("--reference (reduced resolution) cannot be combined with --pan/--ms (full resolution)")
    if max_value is not None and max_value <= 0:
        raise UsageError(f"--max-value must be positive, found {max_value}")
    names = _resolve_metrics(metric_spec, full)
    files = read_score_files(fused, reference=reference, pan=pan, ms=ms, lms=lms)
    notes: list[str] = []
    sensor = sensor if sensor is not None else _recorded(files, "sensor", notes)
    if full and sensor is None and {"d_lambda_k", "hqnr"} & set(names):
        raise UsageError(f"--sensor is needed for d_lambda_k and hqnr (MTF filters; the files record none); "
                         f"known sensors: {', '.join(SENSORS)}")
    max_value = max_value if max_value is not None else _scale(files, sensor, notes)
    ratio = ratio if ratio is not None else _ratio(files, notes, needed="ergas" in names)
    values, ids, more = score_images(
        files, names=names, sensor=sensor, ratio=ratio, max_value=max_value, scale=scale, border=border, clip=clip,
        block_size=block_size, protocol=protocol,
    )
    notes += more
    _report(ids, values, csv_path, notes, "full resolution" if full else "reduced resolution", protocol,
            per_image)


def _report(ids: list[str], values: dict[str, torch.Tensor], csv_path: str | None, notes: list[str], mode: str,
            protocol: str, per_image: bool) -> None:
    import torch
    from rich.console import Console
    from rich.table import Table

    from rsmif_core.metrics.classes import METRICS, mean_std

    console = Console(soft_wrap=True)
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    stats = {n: mean_std(v) for n, v in values.items()}
    if per_image:
        images = Table(title="per image")
        images.add_column("image")
        for n in values:
            images.add_column(n, justify="right")
        for i, image_id in enumerate(ids):
            images.add_row(image_id, *(_fmt(float(v[i])) for v in values.values()))
        console.print(images)
    table = Table(title=f"rsmif score: {len(ids)} image(s), {mode}, {protocol} protocol")
    for col, justify in (("index", "left"), ("better", "center"), ("mean", "right"), ("std", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for n, (m, s) in stats.items():
        table.add_row(n, "higher" if METRICS[n].higher_is_better else "lower", _fmt(m), _fmt(s))
    console.print(table)
    bad = [n for n, v in values.items() if not torch.isfinite(v).all()]
    if bad:
        console.print(f"[bold yellow]warning:[/] non-finite values in {', '.join(bad)} (NaN inputs, or a documented "
                      "inf such as an identical image for PSNR)", highlight=False)
    if csv_path is not None:
        path = Path(csv_path)

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["image", *values])
                for i, image_id in enumerate(ids):
                    writer.writerow([image_id, *(repr(float(v[i])) for v in values.values())])
                writer.writerow(["mean", *(repr(m) for m, _ in stats.values())])
                writer.writerow(["std", *(repr(s) for _, s in stats.values())])

        atomic_write(path, write)
        console.print(f"wrote {path}", highlight=False)
