"""``rsmif convert-weights``: the authors' released checkpoints as safetensors weights."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("convert-weights")
@click.argument("method")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("destination", type=click.Path(dir_okay=False))
@click.option("--spectral-bands", type=int, default=8, show_default=True, help="Bands of the spectral image.")
@click.option("--guide-bands", type=int, default=1, show_default=True, help="Bands of the guide (PAN 1, SAR 2, RGB 3).")
@click.option("--ratio", type=int, default=4, show_default=True, help="Guide/spectral resolution ratio.")
def convert_weights(method: str, source: str, destination: str, spectral_bands: int, guide_bands: int, ratio: int) -> None:
    """Convert an authors' checkpoint (.pth: a state_dict or {'net': ...}) of METHOD to safetensors."""
    from rsmif_core.run.weights import convert_authors_checkpoint

    n = convert_authors_checkpoint(method, Path(source), Path(destination), spectral_bands, guide_bands, ratio)
    click.echo(f"wrote {destination} ({n} tensors)")
