"""The visual comparison of one test set: the same crop of every method's fused image in true colour (one
stretch for all), its error map against the reference at reduced resolution (one scale for all), and a zoomed
inset of a smaller square in every panel.

The stretch comes from the reference crop where there is one, else from all methods' crops together; the
error maps share one scale, the 99th percentile of all their errors, shown by the colour bar in the data's
digital numbers. The first panel is the reference (reduced resolution) or the PAN image (full resolution)
when the test set can be read here; otherwise the figure has the methods alone, and a note says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rsmif_core.errors import UsageError
from rsmif_core.evaluation.comparison.canvas import new_figure
from rsmif_core.evaluation.comparison.images import Reference, read_fused, read_reference
from rsmif_core.evaluation.comparison.testsets import Method, TestSet

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from torch import Tensor

Square = tuple[int, int, int]  # top row, left column, side
DEFAULT_CROP = 256
INSET = 0.4  # the inset's side as a share of the panel's
COLUMNS = 5  # panels per row: a figure stays within a page's width


@dataclass(frozen=True)
class FigureOptions:
    bands: tuple[int, int, int] | None = None
    crop: Square | None = None
    zoom: Square | None = None
    image_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Panel:
    title: str
    image: Tensor  # C×H×W on the [0, 1] scale, already cropped
    error: Tensor | None = None  # 1×H×W in [0, 1] of the shared error scale


def choose_image(test_set: TestSet, methods: list[Method], requested: tuple[str, ...]) -> str:
    """The first requested id of this test set, else the first id every method with images has saved."""
    for image_id in requested:
        if image_id in test_set.ids:
            return image_id
    common = [i for i in test_set.ids if all(i in m.folder.images for m in methods)]
    return common[0] if common else next(i for i in test_set.ids if any(i in m.folder.images for m in methods))


def default_crop(height: int, width: int) -> Square:
    side = min(height, width, DEFAULT_CROP)
    return (height - side) // 2, (width - side) // 2, side


def default_zoom(side: int) -> Square:
    zoom = min(side, max(4, side // 8))
    return (side - zoom) // 2, (side - zoom) // 2, zoom


def check_square(square: Square, height: int, width: int, option: str, what: str) -> None:
    y, x, side = square
    if side < 2 or y < 0 or x < 0 or y + side > height or x + side > width:
        raise UsageError(f"{option} {y},{x},{side}: the square must lie inside {what} ({height}×{width} pixels) and "
                         "be at least 2 pixels wide")


def _cut(image: Tensor, square: Square) -> Tensor:
    y, x, side = square
    return image[:, y : y + side, x : x + side]


def _bands(options: FigureOptions, sensor: str, count: int) -> tuple[int, int, int]:
    from rsmif_core.ops.visuals import rgb_bands

    bands = options.bands if options.bands is not None else rgb_bands(sensor, count)
    if any(b < 0 or b >= count for b in bands):
        raise UsageError(f"--bands {','.join(map(str, bands))}: the images have {count} bands (0 to {count - 1})")
    return bands


def _reference(test_set: TestSet, image_id: str, shape: tuple[int, ...], notes: list[str]) -> Reference | None:
    try:
        reference = read_reference(test_set.dataset, image_id)
    except UsageError as exc:
        notes.append(f"{test_set.title}: the figure has no reference panel or error maps, the test set could not "
                     f"be read here ({exc.message})")
        return None
    for tensor in (reference.gt, reference.pan):
        if tensor is not None and tuple(tensor.shape[-2:]) != tuple(shape[-2:]):
            notes.append(f"{test_set.title}: the figure has no reference panel or error maps, the test set's image "
                         f"{image_id!r} is {tuple(tensor.shape[-2:])} pixels and the saved images {tuple(shape[-2:])}")
            return None
    return reference


def comparison_figure(test_set: TestSet, options: FigureOptions, notes: list[str]) -> Figure | None:
    """The figure of ``test_set`` (None when no method saved images); notes say what was left out and why."""
    import torch

    from rsmif_core.ops.visuals import abs_error, composite, error_limit, error_map, stretch_limits

    methods = [m for m in test_set.methods if m.folder.images]
    for m in test_set.methods:
        if not m.folder.images:
            notes.append(f"{test_set.title}: {m.name} is not in the figure, {m.folder.path} holds no saved images "
                         "(`rsmif test --save tif` or `--save mat` writes them)")
    if not methods:
        return None
    image_id = choose_image(test_set, methods, options.image_ids)
    for m in [m for m in methods if image_id not in m.folder.images]:
        notes.append(f"{test_set.title}: {m.name} is not in the figure, {m.folder.path} has no saved image {image_id!r}")
    methods = [m for m in methods if image_id in m.folder.images]
    max_value = float(test_set.dataset["max_value"])
    fused = [read_fused(m.folder.images[image_id], max_value) for m in methods]
    for m, image in zip(methods[1:], fused[1:]):
        if image.shape != fused[0].shape:
            raise UsageError(f"{m.folder.images[image_id]} is {tuple(image.shape)} (bands, rows, columns) and "
                             f"{methods[0].folder.images[image_id]} {tuple(fused[0].shape)}: the same image id must "
                             "have one size")
    count, height, width = fused[0].shape
    bands = _bands(options, str(test_set.dataset["sensor"]), count)
    crop = options.crop or default_crop(height, width)
    check_square(crop, height, width, "--crop", f"the images of {test_set.title}")
    zoom = options.zoom or default_zoom(crop[2])
    check_square(zoom, crop[2], crop[2], "--zoom", "the crop")

    reference = _reference(test_set, image_id, fused[0].shape, notes)
    gt = _cut(reference.gt, crop) if reference is not None and reference.gt is not None else None
    crops = [_cut(f, crop) for f in fused]
    stretch = stretch_limits(gt[list(bands)] if gt is not None else torch.cat([c[list(bands)] for c in crops], -1))
    panels: list[Panel] = []
    if gt is not None:
        panels.append(Panel("reference", composite(gt, bands, stretch)))
    elif reference is not None and reference.pan is not None:
        pan = _cut(reference.pan, crop)
        panels.append(Panel("PAN", composite(pan, (0, 0, 0) if pan.shape[0] < 3 else (0, 1, 2))))
    limit = None
    if gt is not None and test_set.kind == "rr":
        limit = error_limit(torch.cat([abs_error(c, gt) for c in crops], -1))
    for m, c in zip(methods, crops):
        error = error_map(c, gt, limit) if gt is not None and limit is not None else None
        panels.append(Panel(m.name, composite(c, bands, stretch), error))
    title = (f"{test_set.title}\nimage {image_id}, crop rows {crop[0]}–{crop[0] + crop[2] - 1}, columns "
             f"{crop[1]}–{crop[1] + crop[2] - 1}; true colour from bands {','.join(map(str, bands))}")
    return _draw(panels, zoom, crop[2], title, None if limit is None else limit * max_value)


def _show(ax: Axes, image: Tensor, zoom: Square, side: int, **style: object) -> None:
    from matplotlib.patches import Rectangle

    array = image.permute(1, 2, 0).numpy() if image.shape[0] == 3 else image[0].numpy()
    ax.imshow(array, interpolation="nearest", **style)  # type: ignore[arg-type]
    ax.set_xticks([])
    ax.set_yticks([])
    y, x, size = zoom
    ax.add_patch(Rectangle((x - 0.5, y - 0.5), size, size, fill=False, edgecolor="red", linewidth=1))
    # the inset goes to the corner farthest from the zoomed square, so it never hides it
    left = 0.0 if x + size / 2 > side / 2 else 1 - INSET
    bottom = 1 - INSET if y + size / 2 > side / 2 else 0.0
    inset = ax.inset_axes((left, bottom, INSET, INSET))
    inset.imshow(array[y : y + size, x : x + size], interpolation="nearest", **style)  # type: ignore[arg-type]
    inset.set_xticks([])
    inset.set_yticks([])
    for spine in inset.spines.values():
        spine.set_edgecolor("red")


def _draw(panels: list[Panel], zoom: Square, side: int, title: str, error_top: float | None) -> Figure:
    """Panels in rows of at most ``COLUMNS``; with errors, each row of images has its row of error maps below."""
    import math

    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    columns = min(len(panels), COLUMNS)
    bands = math.ceil(len(panels) / columns)
    per_band = 2 if error_top is not None else 1
    figure = new_figure(2.2 * columns + (0.8 if error_top is not None else 0), 2.3 * bands * per_band + 0.5)
    axes = figure.subplots(bands * per_band, columns, squeeze=False)
    error_axes = []
    for index in range(bands * columns):
        band, column = divmod(index, columns)
        image_ax = axes[band * per_band, column]
        error_ax = axes[band * per_band + 1, column] if error_top is not None else None
        panel = panels[index] if index < len(panels) else None
        if panel is None:
            image_ax.set_visible(False)
        else:
            _show(image_ax, panel.image, zoom, side)
            image_ax.set_title(panel.title, fontsize=9)
        if error_ax is not None:
            if panel is None or panel.error is None:
                error_ax.set_visible(False)
            else:
                _show(error_ax, panel.error, zoom, side, cmap="inferno", vmin=0.0, vmax=1.0)
                error_axes.append(error_ax)
    axes[0, 0].set_ylabel("true colour", fontsize=9)
    if error_top is not None and error_axes:
        error_axes[0].set_ylabel("|error| (mean over bands)", fontsize=9)
        bar = figure.colorbar(ScalarMappable(Normalize(0.0, error_top), "inferno"), ax=list(axes.flat), shrink=0.6,
                              fraction=0.03)
        bar.set_label("|error|, digital numbers", fontsize=8)
    figure.suptitle(title, fontsize=9)
    return figure
