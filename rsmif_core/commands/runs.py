"""``rsmif run`` (train, then test) and ``rsmif test`` (score a run or a parameter-free model)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console


@click.command("run")
@click.argument("config")
@click.argument("overrides", nargs=-1)
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in trainer.output_dir (mid-epoch).")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run in trainer.output_dir.")
def run_cmd(config: str, overrides: tuple[str, ...], resume: bool, overwrite: bool) -> None:
    """Train CONFIG (a YAML file or a shipped config name, with key=value OVERRIDES), then test on data.test /
    data.test_fr when set.

    A folder that holds an earlier run is never replaced without --overwrite. Exits 130 on Ctrl-C and 143 on
    SIGTERM after writing a checkpoint.
    """
    from rsmif_core.config import load_config
    from rsmif_core.run.train import train_and_test

    cfg = load_config(config, overrides)
    result = train_and_test(cfg, resume=resume, console=Console(soft_wrap=True), overwrite=overwrite)
    if result.exit_code:
        sys.exit(result.exit_code)


@click.command("test")
@click.argument("source")
@click.argument("overrides", nargs=-1)
@click.option("--checkpoint", type=click.Path(), default=None,
              help="Weights: a run folder, a checkpoint folder, a model.safetensors file or an authors' .pth state_dict "
                   "[default: SOURCE when it is a run folder; none for a model without parameters].")
@click.option("--type", "kind", type=click.Choice(["rr", "fr"]), default="rr", show_default=True,
              help="rr: reduced resolution, reference metrics; fr: full resolution, no-reference metrics.")
@click.option("--save", type=click.Choice(["mat", "tif"]), default=None, help="Also write each fused image.")
@click.option("--dtype", type=click.Choice(["float32", "uint16"]), default="float32", show_default=True,
              help="GeoTIFF values on the data's DN scale: float32 as computed, or uint16 rounded and clipped.")
@click.option("--out", type=click.Path(), default=None,
              help="Output folder [default: <run folder or trainer.output_dir>/test_<type>, or test_<type>_2, … when that "
                   "holds an earlier test].")
@click.option("--overwrite", is_flag=True, help="Replace an earlier test in the output folder.")
def test_cmd(source: str, overrides: tuple[str, ...], checkpoint: str | None, kind: str, save: str | None,
             dtype: str, out: str | None, overwrite: bool) -> None:
    """Score SOURCE on the test split, one image at a time: mean ± std table, per-image CSV/JSON rows.

    SOURCE is a finished run folder (its saved config and best weights) or a config file.
    """
    from rsmif_core.config import load_config
    from rsmif_core.run.test import default_test_folder, run_test

    run_dir = Path(source)
    if run_dir.is_dir():
        cfg = load_config(run_dir / "config.yaml", overrides)
        weights: Path | None = Path(checkpoint) if checkpoint else run_dir
    else:
        cfg = load_config(source, overrides)
        weights = Path(checkpoint) if checkpoint else None
    console = Console(soft_wrap=True)
    out_dir = Path(out) if out else default_test_folder(
        run_dir if run_dir.is_dir() else Path(cfg.trainer.output_dir), kind, overwrite)
    if not out and out_dir.name != f"test_{kind}":
        console.print(f"note: {out_dir.parent / f'test_{kind}'} holds an earlier test (kept; --overwrite replaces it): "
                      f"writing to {out_dir}")
    run_test(
        cfg, weights, "rr" if kind == "rr" else "fr",
        save="mat" if save == "mat" else "tif" if save == "tif" else None,
        out_dir=out_dir, console=console, overwrite=overwrite, dtype="uint16" if dtype == "uint16" else "float32",
    )
