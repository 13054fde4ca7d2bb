"""No-data in a PAN + MS scene: which ground holds data in both, and filling the rest before filtering.

The Wald protocol filters the whole scene (the 41-tap MTF filters, the 23-tap interpolator), so fill
values next to the data would bleed into it. Every no-data pixel is therefore given the value of the
nearest pixel with data before filtering: along a straight edge that is the edge replication the toolbox
applies at the scene's borders (``imfilter(..., 'replicate')``), so a patch beside no-data gets the values
it would get at the edge of a scene. Patches and tiles that touch no-data are dropped afterwards.
"""

from __future__ import annotations

import numpy as np


def scene_validity(pan_valid: np.ndarray, ms_valid: np.ndarray, ratio: int) -> np.ndarray:
    """h×w on the MS grid: True where the MS pixel and every one of the ratio×ratio PAN pixels under it
    hold data. ``pan_valid`` is H×W with H = ratio·h (an aligned scene)."""
    h, w = ms_valid.shape
    if pan_valid.shape != (h * ratio, w * ratio):
        raise ValueError(f"PAN mask {pan_valid.shape} is not ratio {ratio} times the MS mask {ms_valid.shape}")
    pan_cells = pan_valid.reshape(h, ratio, w, ratio).all(axis=(1, 3))
    return ms_valid & pan_cells


def expand(mask: np.ndarray, ratio: int) -> np.ndarray:
    """An MS-grid mask on the PAN grid (each MS pixel covers ratio×ratio PAN pixels)."""
    return np.repeat(np.repeat(mask, ratio, axis=0), ratio, axis=1)


def fill_nearest(array: np.ndarray, valid: np.ndarray) -> int:
    """Give every no-data pixel of C×H×W ``array`` (in place) the values of the nearest pixel with data.

    Returns how many pixels were filled. ``valid`` must hold at least one True.
    """
    missing = ~valid
    count = int(np.count_nonzero(missing))
    if count == 0:
        return 0
    from scipy import ndimage

    # int32 indices: half the memory of the default for a scene of any size below 2^31 pixels per axis
    indices = np.empty((2, *valid.shape), dtype=np.int32)
    ndimage.distance_transform_edt(missing, return_distances=False, return_indices=True, indices=indices)
    rows, cols = indices[0][missing], indices[1][missing]
    array[:, missing] = array[:, rows, cols]
    return count
