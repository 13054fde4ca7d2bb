"""Whole scenes, tiled: ``rsmif predict``'s tiles, per-tile upsampling, pipeline and GeoTIFF writer.

* :mod:`~rsmif_core.evaluation.scene.tiling`: overlapping windows whose cropped cores give whole-image
  inference for a model whose receptive field fits in the margin;
* :mod:`~rsmif_core.evaluation.scene.upsample`: each tile's ``lms``, equal to the whole image's;
* :mod:`~rsmif_core.evaluation.scene.pipeline`: read / infer / write in three threads, bounded memory;
* :mod:`~rsmif_core.evaluation.scene.writer`: the tiled, compressed output GeoTIFF (optionally a COG);
* :mod:`~rsmif_core.evaluation.scene.receptive_field`: measure a model's receptive field and check that tiling
  it gives whole-image inference (for declaring ``FusionModel.receptive_field``).
"""

from rsmif_core.evaluation.scene.pipeline import Scaling, SceneStats, predict_scene, read_tile
from rsmif_core.evaluation.scene.receptive_field import measure_receptive_field, tiling_error
from rsmif_core.evaluation.scene.tiling import Span, Tile, TilePlan, balanced_core, plan_tiles
from rsmif_core.evaluation.scene.upsample import TileUpsampler, interpolator
from rsmif_core.evaluation.scene.writer import (
    OutputSpec,
    SceneWriter,
    choose_output,
    convert_to_cog,
    encode,
    output_block,
)

__all__ = [
    "OutputSpec",
    "Scaling",
    "SceneStats",
    "SceneWriter",
    "Span",
    "Tile",
    "TilePlan",
    "TileUpsampler",
    "balanced_core",
    "choose_output",
    "convert_to_cog",
    "encode",
    "interpolator",
    "output_block",
    "measure_receptive_field",
    "plan_tiles",
    "predict_scene",
    "read_tile",
    "tiling_error",
]
