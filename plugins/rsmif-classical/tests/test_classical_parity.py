"""Each classical model equals the benchmark toolbox run in GNU Octave on the stored reference scenes:
its output to 1e-6 relative (three full rows, the first and last columns, every band's mean and standard
deviation), and its Q2n, SAM and ERGAS (rsmif_core.metrics.functional) equal the toolbox's
indexes_evaluation of the toolbox's own output to 1e-3 relative."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from rsmif_classical import MODELS

from rsmif_core.metrics import functional

SCENES = ("wv2_8band", "wv2_4band", "ikonos", "geoeye1", "landsat7")  # data/*.npz
INDEX_BORDER = 21  # the toolbox's dim_cut of the stored indices


def _assert_equals_octave(fused: torch.Tensor, arrays: dict[str, np.ndarray], key: str) -> None:
    """The stored Octave samples of ``key``: rows 0, H/2, H-1, columns 0 and W-1, band means and stds (DN scale)."""
    out = fused[0].permute(1, 2, 0).numpy()  # H×W×C like the stored arrays
    h, w = out.shape[:2]
    ref_rows, ref_cols = arrays[f"{key}__rows"], arrays[f"{key}__cols"]
    scale = max(np.abs(ref_rows).max(), np.abs(ref_cols).max())
    np.testing.assert_allclose(out[[0, h // 2, h - 1]], ref_rows, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(out[:, [0, w - 1]], ref_cols, rtol=1e-6, atol=1e-6 * scale)
    flat = out.reshape(-1, out.shape[-1])
    np.testing.assert_allclose(flat.mean(0), arrays[f"{key}__mean"], rtol=1e-6)
    np.testing.assert_allclose(flat.std(0, ddof=1), arrays[f"{key}__std"], rtol=1e-6)


@pytest.mark.parametrize("method", list(MODELS))
@pytest.mark.parametrize("scene_name", SCENES)
def test_output_and_indices_equal_the_toolbox(scene_name: str, method: str, toolbox_scene: Any) -> None:
    scene = toolbox_scene(scene_name)
    batch = scene.batch
    model = MODELS[method](batch.spectral_bands, 1, batch.meta.ratio)
    with torch.no_grad():
        fused = model(batch).fused * scene.max_value  # DN scale, like the toolbox
    assert fused.dtype == torch.float64
    _assert_equals_octave(fused, scene.arrays, method)

    ratio = batch.meta.ratio
    ours = {
        "Q2n": functional.q2n(fused, scene.gt, border=INDEX_BORDER),
        "SAM": functional.sam(fused, scene.gt, border=INDEX_BORDER),
        "ERGAS": functional.ergas(fused, scene.gt, ratio, border=INDEX_BORDER),
    }
    toolbox = scene.indices[method]
    for name, value in ours.items():
        assert float(value) == pytest.approx(toolbox[name], rel=1e-3), f"{name}: ours {float(value)}, toolbox {toolbox[name]}"


def test_blockwise_bdsd_equals_the_toolbox(toolbox_scene: Any) -> None:
    """BDSD(I_MS, I_PAN, 2, 64, 'none') on the 128×128 Landsat-7 scene: four blocks with their own parameters."""
    scene = toolbox_scene("landsat7")
    model = MODELS["bdsd"](6, 1, 2, block_size=64)
    with torch.no_grad():
        fused = model(scene.batch).fused * scene.max_value
    _assert_equals_octave(fused, scene.arrays, "bdsd-block64")
