"""Read what the comparison figure shows: a method's saved fused image, and the test set's reference.

Saved images are GeoTIFFs on the data's DN scale (``max_value`` in their tags) or ``.mat`` files holding
``sr`` (H×W×C on the [0, 1] scale); both come back as C×H×W tensors on the [0, 1] scale. The reference is
not in a test folder: it is read from the test set that ``per_image.json`` names, through the dataset
registry, so it is the very item the method was scored against.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsmif_core.errors import RsmifError, UsageError

if TYPE_CHECKING:
    from torch import Tensor


def read_fused(path: Path, max_value: float) -> Tensor:
    """C×H×W float32 on the [0, 1] scale; ``max_value`` is the test set's, used where the file records none."""
    import numpy as np
    import torch

    try:
        if path.suffix == ".mat":
            from scipy.io import loadmat

            mat = loadmat(path)
            if "sr" not in mat:
                raise UsageError(f"{path}: no 'sr' image (keys: {', '.join(k for k in mat if not k.startswith('__'))})")
            array = np.asarray(mat["sr"], dtype=np.float32)
            array = array[:, :, None] if array.ndim == 2 else array
            chw = array.transpose(2, 0, 1)
        else:
            import rasterio
            from rasterio.errors import NotGeoreferencedWarning

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(path) as src:
                    scale = float(src.tags().get("max_value", max_value))
                    chw = src.read().astype(np.float32) / np.float32(scale)
    except RsmifError:
        raise
    except Exception as exc:
        raise UsageError(f"{path}: could not read the saved image ({type(exc).__name__}: {exc})") from None
    return torch.from_numpy(np.ascontiguousarray(chw))


@dataclass(frozen=True)
class Reference:
    """The item's reference (``gt``, reduced resolution) and guide (``pan``), C×H×W on the [0, 1] scale."""

    gt: Tensor | None
    pan: Tensor | None


def read_reference(dataset: dict[str, Any], image_id: str) -> Reference:
    """The item ``image_id`` of the test set ``dataset`` (``per_image.json``'s section). Raises
    :class:`UsageError` saying why when the test set cannot be read here (a moved file, a missing plugin)."""
    from rsmif_core.plugins.factory import create_dataset

    name, args = dataset["name"], dataset["args"]
    try:
        data = create_dataset(name, **args)
        ids = [str(i) for i in dataset["ids"]]
        index = ids.index(image_id)
        item = data[index]
        if str(item.get("id")) != image_id:  # the list and the dataset disagree on the order: look it up
            item = next(data[i] for i in range(len(data)) if str(data[i].get("id")) == image_id)
    except RsmifError as exc:
        raise UsageError(f"test set {name} {args}: {exc.message}") from None
    except StopIteration:
        raise UsageError(f"test set {name} {args} holds no image {image_id!r} any more") from None
    except Exception as exc:
        raise UsageError(f"test set {name} {args}: {type(exc).__name__}: {exc}") from None
    gt, pan = item.get("gt"), item.get("pan")
    return Reference(gt.float() if gt is not None else None, pan.float() if pan is not None else None)
