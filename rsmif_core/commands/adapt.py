"""``rsmif adapt``: fine-tune a run on the scene it is to fuse, with a full-resolution loss."""

from __future__ import annotations

import sys

import click
from rich.console import Console


@click.command("adapt")
@click.argument("source")
@click.argument("overrides", nargs=-1)
@click.option("--pan", required=True, type=click.Path(), help="The scene's PAN (GeoTIFF, .mat or .npy).")
@click.option("--ms", required=True, type=click.Path(), help="The scene's MS at its own resolution.")
@click.option("--out", required=True, type=click.Path(), help="The folder of the adapted run.")
@click.option("--sensor", required=True,
              help="The scene's sensor (its MTF filter, scale and the paper's weights); 'none' for generic gains.")
@click.option("--model", default=None, help="The model of an authors' .pth SOURCE.")
@click.option("--ratio", type=int, default=None, help="PAN/MS pixel-size ratio [default: from the grids].")
@click.option("--max-value", type=float, default=None,
              help="The product's largest DN [default: the sensor's, 255 for 8-bit images].")
@click.option("--pan-key", default=None, help="The PAN variable of a .mat file.")
@click.option("--ms-key", default=None, help="The MS variable of a .mat file.")
@click.option("--loss", type=click.Choice(["lambda_pnn", "zpnn", "hqnr"]), default="lambda_pnn", show_default=True,
              help="The full-resolution loss: λ-PNN or Z-PNN with the paper's weights for the sensor, or 1 − HQNR.")
@click.option("--steps", type=int, default=100, show_default=True, help="Iterations (λ-PNN: 100).")
@click.option("--lr", type=float, default=None, help="Adam's learning rate [default: the paper's for the sensor].")
@click.option("--patches", type=int, default=16, show_default=True,
              help="Training patches; a scene no larger than this many patches trains whole.")
@click.option("--patch-size", type=int, default=256, show_default=True, help="Patch side in PAN pixels.")
@click.option("--val-every", type=int, default=10, show_default=True,
              help="Steps between the scores (loss, D_λ^K, D_s, HQNR) and checkpoints.")
@click.option("--keep", type=click.Choice(["loss", "hqnr"]), default="loss", show_default=True,
              help="The weights kept: those of the lowest loss (λ-PNN) or of the highest HQNR on the scene.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--resume", is_flag=True, help="Continue an interrupted adaptation in --out.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run in --out.")
def adapt_cmd(source: str, overrides: tuple[str, ...], pan: str, ms: str, out: str, sensor: str, model: str | None,
              ratio: int | None, max_value: float | None, pan_key: str | None, ms_key: str | None, loss: str,
              steps: int, lr: float | None, patches: int, patch_size: int, val_every: int, keep: str, seed: int, resume: bool,
              overwrite: bool) -> None:
    """Fine-tune SOURCE on the scene PAN + MS with λ-PNN's unsupervised loss (target adaptation); the run in
    --out is then ready for `rsmif predict`.

    SOURCE is a run folder, a weights file (.safetensors; an authors' .pth with --model) or a model name (a
    fresh model). OVERRIDES (key=value) change the assembled run, e.g. runtime.threads=4 or trainer.cpu=true.
    Interrupt with Ctrl-C and continue with --resume.
    """
    from rsmif_core.run.adapt import AdaptRequest, adapt

    request = AdaptRequest(source=source, pan=pan, ms=ms, out=out, sensor=sensor, model=model, ratio=ratio,
                           max_value=max_value, pan_key=pan_key, ms_key=ms_key, loss=loss, steps=steps, lr=lr,
                           patches=patches, patch_size=patch_size, val_every=val_every, keep=keep, seed=seed,
                           overrides=overrides)
    result = adapt(request, resume=resume, overwrite=overwrite, console=Console(soft_wrap=True))
    if result.exit_code:
        sys.exit(result.exit_code)
