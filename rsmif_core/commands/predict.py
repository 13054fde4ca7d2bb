"""``rsmif predict``: fuse a whole georeferenced scene with a trained (or parameter-free) model, in tiles."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C does (the temporary output removed), with exit status 143."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(143)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("predict")
@click.argument("source")
@click.argument("overrides", nargs=-1)
@click.option("--pan", "--guide", "pan", required=True, type=click.Path(dir_okay=False),
              help="The guide image (PAN, RGB or SAR) GeoTIFF; the output is on its grid.")
@click.option("--ms", "--spectral", "ms", required=True, type=click.Path(dir_okay=False),
              help="The spectral image (MS/HS, or the cloudy optical image) GeoTIFF at its own resolution.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The fused GeoTIFF to write.")
@click.option("--checkpoint", type=click.Path(), default=None,
              help="Weights: a run folder, a checkpoint folder, a model.safetensors or an authors' .pth "
                   "[default: SOURCE when it is a run folder].")
@click.option("--max-value", type=float, default=None,
              help="The inputs' largest DN (model input = DN / max-value) [default: from the run's data, else "
                   "--sensor, else 255 for uint8 and 1 for float inputs].")
@click.option("--sensor", default=None, help="Sensor (wv3, wv2, qb, gf2, …): its DN range and MTF for models that use it.")
@click.option("--task", type=click.Choice(["pansharpening", "hyperspectral", "sar-optical", "ms-hs"]), default=None,
              help="[default: the run's data task, else the model's only task, else pansharpening]")
@click.option("--guide-range", nargs=2, type=float, default=None, metavar="LOW HIGH",
              help="Guide values mapped to [0, 1] [default: 0 and max-value; -25 0 dB for sar-optical].")
@click.option("--tile-size", "tile", type=int, default=512, show_default=True,
              help="Output pixels per tile side (the model sees tile + 2·margin); 0: the whole scene in one tile.")
@click.option("--margin", type=int, default=None,
              help="Context pixels around each tile [default: the model's receptive field; 32 when it declares none].")
@click.option("--batch-size", type=int, default=1, show_default=True, help="Tiles per forward pass.")
@click.option("--precision", type=click.Choice(["no", "bf16", "fp16"]), default="no", show_default=True,
              help="Mixed precision for the forward pass (no: float32).")
@click.option("--cpu", is_flag=True, help="Run on the CPU even where a GPU is available.")
@click.option("--threads", type=int, default=None, help="CPU threads for the model [default: the run's runtime.threads].")
@click.option("--dtype", type=click.Choice(["input", "float32"]), default="input", show_default=True,
              help="Output values: the spectral image's dtype (rounded, clipped to its range) or float32.")
@click.option("--compress", type=click.Choice(["deflate", "zstd", "lzw", "none"]), default="deflate", show_default=True)
@click.option("--cog", is_flag=True, help="Write a Cloud Optimized GeoTIFF (with overviews).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out (only once the new file is complete).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
def predict_cmd(source: str, overrides: tuple[str, ...], pan: str, ms: str, out: str, checkpoint: str | None,
                max_value: float | None, sensor: str | None, task: str | None, guide_range: tuple[float, float] | None,
                tile: int, margin: int | None, batch_size: int, precision: str, cpu: bool, threads: int | None,
                dtype: str, compress: str, cog: bool, overwrite: bool, progress: bool) -> None:
    """Fuse a whole scene: SOURCE applied to --pan and --ms, written to --out on the PAN grid.

    SOURCE is a run folder, a config file or shipped config name (PLUGIN:TASK; with --checkpoint) or the name of
    a model without parameters (e.g. exp); key=value OVERRIDES change the config. The MS may have any integer ratio to the PAN: their grids
    are matched through the georeference. The scene is fused in overlapping tiles whose margin covers the
    model's receptive field, so the result equals whole-image inference for models that declare one, with
    memory independent of the scene's size. Nothing is written at --out unless the run completes (Ctrl-C exits
    130, SIGTERM 143).
    """
    from rsmif_core.run.predict import PredictRequest, prepare_prediction, run_prediction

    console = Console()
    request = PredictRequest(
        source=source, pan=Path(pan), ms=Path(ms), out=Path(out), checkpoint=Path(checkpoint) if checkpoint else None,
        overrides=overrides, max_value=max_value, sensor=sensor, task=task,
        guide_range=tuple(guide_range) if guide_range else None,  # type: ignore[arg-type]
        tile=tile, margin=margin, batch_size=batch_size, precision=precision,  # type: ignore[arg-type]
        cpu=cpu, threads=threads, dtype=dtype, compress=compress, cog=cog, overwrite=overwrite,  # type: ignore[arg-type]
    )
    setup = prepare_prediction(request)
    for note in setup.notes:
        console.print(note, highlight=False, soft_wrap=True)
    with _sigterm_as_exit(), _progress(console, len(setup.plan), progress) as advance:
        stats = run_prediction(setup, advance)
    rate = stats.tiles / stats.seconds if stats.seconds > 0 else float("inf")
    console.print(f"wrote {setup.request.out} in {stats.seconds:.1f} s ({rate:.2f} tiles/s; model {stats.seconds_model:.1f} s, "
                  f"reading {stats.seconds_read:.1f} s, writing {stats.seconds_write:.1f} s, overlapped)", highlight=False)


@contextmanager
def _progress(console: Console, total: int, enabled: bool) -> Iterator[Any]:
    """A bar with tiles done, tiles/s, elapsed time and ETA on stderr; yields ``advance(n)`` (None when disabled)."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Speed(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text("… tiles/s" if task.speed is None else f"{task.speed:.2f} tiles/s")

    columns = (TextColumn("fusing"), BarColumn(), MofNCompleteColumn(), TextColumn("tiles"), Speed(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("tiles", total=total)
        yield lambda n: bar.advance(task, n)
