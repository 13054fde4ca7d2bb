"""The typed contracts between data, models, losses and metrics.

A :class:`Batch` is what every model receives, a :class:`FusionOutput` what it returns and a
:class:`LossOutput` what a loss returns. Tensors are float, scaled to [0, 1] by ``meta.max_value``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from rsmif_core.errors import UsageError
from rsmif_core.tasks import TASKS

__all__ = ["TASKS", "Batch", "BatchError", "BatchMeta", "FusionDataset", "FusionModel", "FusionOutput", "LossOutput",
           "collate", "shape_text"]


class BatchError(UsageError):
    """A batch whose tensors do not fit together."""


@dataclass
class BatchMeta:
    """What the numbers in a batch mean: the task, the sensor, the PAN/MS scale ratio, the radiometric scale."""

    task: str = "pansharpening"
    sensor: str = "none"
    ratio: int | None = None  # None: taken from the shapes of pan and ms
    max_value: float = 1.0
    ids: list[str] = field(default_factory=list)
    mtf_gains: tuple[float, ...] | None = None  # per-band Nyquist gains when the data records them (else: the sensor's)


def shape_text(shape: Tensor | Iterable[int]) -> str:
    """``2×8×64×64``: a shape (or a tensor's) as messages print it."""
    return "×".join(str(s) for s in (shape.shape if isinstance(shape, Tensor) else shape))


@dataclass
class Batch:
    """One batch of fusion inputs.

    ``pan`` B×Cg×H×W (the guide: PAN, RGB or SAR), ``ms`` B×C×h×w (the spectral image at its own
    resolution, h = H / ratio), ``lms`` B×C×H×W (``ms`` upsampled to the guide grid), ``gt``
    B×C×H×W or None (real and full-resolution scenes have no reference).
    """

    pan: Tensor
    ms: Tensor
    lms: Tensor
    gt: Tensor | None = None
    meta: BatchMeta = field(default_factory=BatchMeta)

    def __post_init__(self) -> None:
        if isinstance(self.meta, Mapping):
            self.meta = BatchMeta(**self.meta)
        self.validate()

    def validate(self) -> None:
        named = {"pan": self.pan, "ms": self.ms, "lms": self.lms}
        if self.gt is not None:
            named["gt"] = self.gt
        for name, t in named.items():
            if not isinstance(t, Tensor):
                raise BatchError(f"Batch.{name}: expected a torch.Tensor, found {type(t).__name__}")
            if t.ndim != 4:
                raise BatchError(f"Batch.{name}: expected 4 dimensions B×C×H×W, found shape {shape_text(t)}")
        pan, ms, lms = self.pan, self.ms, self.lms
        batch = pan.shape[0]
        for name, t in named.items():
            if t.shape[0] != batch:
                raise BatchError(f"Batch.{name}: batch size {t.shape[0]} differs from pan's {batch}")
        if lms.shape[-2:] != pan.shape[-2:]:
            raise BatchError(
                f"Batch.lms: expected the guide grid {pan.shape[-2]}×{pan.shape[-1]} of pan, found {shape_text(lms)}"
            )
        if ms.shape[1] != lms.shape[1]:
            raise BatchError(f"Batch.ms: expected {lms.shape[1]} bands like lms, found shape {shape_text(ms)}")
        if self.meta.ratio is None:
            ratios = {pan.shape[-2] / ms.shape[-2], pan.shape[-1] / ms.shape[-1]}
            if len(ratios) != 1 or not float(next(iter(ratios))).is_integer():
                raise BatchError(f"Batch.ms: pan {pan.shape[-2]}×{pan.shape[-1]} is not the same integer multiple of "
                                 f"ms {shape_text(ms)} along both axes (or give meta.ratio)")
            self.meta.ratio = int(next(iter(ratios)))
        ratio = self.meta.ratio
        expected = (pan.shape[-2] // ratio, pan.shape[-1] // ratio)
        if pan.shape[-2] % ratio or pan.shape[-1] % ratio or tuple(ms.shape[-2:]) != expected:
            raise BatchError(
                f"Batch.ms: expected {expected[0]}×{expected[1]} pixels (pan {pan.shape[-2]}×{pan.shape[-1]} "
                f"divided by ratio {ratio}), found shape {shape_text(ms)}"
            )
        if self.gt is not None and self.gt.shape != lms.shape:
            raise BatchError(f"Batch.gt: expected the shape of lms {shape_text(lms)}, found {shape_text(self.gt)}")

    @property
    def spectral_bands(self) -> int:
        return int(self.lms.shape[1])

    @property
    def guide_bands(self) -> int:
        return int(self.pan.shape[1])

    def to(self, *args: Any, **kwargs: Any) -> Batch:
        """Move every tensor (like ``Tensor.to``); lets Accelerate place batches on the device."""
        gt = None if self.gt is None else self.gt.to(*args, **kwargs)
        return replace(
            self,
            pan=self.pan.to(*args, **kwargs),
            ms=self.ms.to(*args, **kwargs),
            lms=self.lms.to(*args, **kwargs),
            gt=gt,
        )

    def __len__(self) -> int:
        return int(self.pan.shape[0])


class StackedItems(list[Mapping[str, Any]]):
    """A list of dataset items whose tensors are views of already stacked batch tensors (``stacked``).

    A dataset's ``__getitems__`` returns it so that :func:`collate` takes the stacked tensors as they are
    (in a DataLoader worker they were written straight into shared memory) instead of copying every
    item again; anything else that iterates the list still sees ordinary item dicts.
    """

    def __init__(self, items: Iterable[Mapping[str, Any]], stacked: Mapping[str, Tensor]) -> None:
        super().__init__(items)
        self.stacked = dict(stacked)

    def current(self) -> dict[str, Tensor]:
        """The stacked tensors whose rows are still the items' tensors (an item's tensor replaced after
        ``__getitems__``, or items added or removed, rule its field out: it is stacked anew)."""
        kept: dict[str, Tensor] = {}
        for key, stacked in self.stacked.items():
            if len(stacked) != len(self):
                continue
            row_bytes = stacked.stride(0) * stacked.element_size()
            if all(
                isinstance(value := item.get(key), Tensor)
                and value.dtype == stacked.dtype
                and value.shape == stacked.shape[1:]
                and value.data_ptr() == stacked.data_ptr() + j * row_bytes
                for j, item in enumerate(self)
            ):
                kept[key] = stacked
        return kept


def collate(samples: list[Mapping[str, Any]]) -> Batch:
    """Stack dataset items (dicts with pan/ms/lms/gt and optional meta fields) into a :class:`Batch`.

    :class:`StackedItems` (from a dataset's ``__getitems__``) keep their stacked tensors without a copy.
    """
    if not samples:
        raise BatchError("cannot collate an empty list of samples")
    first = samples[0]
    stacked = samples.current() if isinstance(samples, StackedItems) else {}

    def stack(key: str) -> Tensor:
        if key in stacked:
            return stacked[key]
        return torch.stack([torch.as_tensor(s[key]) for s in samples])

    gt = stack("gt") if first.get("gt") is not None else None
    meta_fields = {f.name for f in fields(BatchMeta)} - {"ids"}
    meta = BatchMeta(**{k: first[k] for k in meta_fields if k in first})
    meta.ids = [str(s.get("id", i)) for i, s in enumerate(samples)]
    return Batch(pan=stack("pan"), ms=stack("ms"), lms=stack("lms"), gt=gt, meta=meta)


@dataclass
class FusionOutput:
    """What a model returns: the fused image (B×C×H×W, same scale as ``lms``) and anything its loss needs."""

    fused: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class LossOutput:
    """A loss value to minimise and its named terms, each logged on its own."""

    total: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)


_DATA_ARGUMENTS = ("self", "spectral_bands", "guide_bands", "ratio")


class FusionModel(nn.Module):
    """Base class of every fusion network.

    A subclass is built as ``Model(spectral_bands, guide_bands, ratio, *, <keyword hyperparameters>)``, each
    hyperparameter an explicit keyword parameter with its default (never ``**kwargs``: a misspelt
    ``model.args`` key must be an error), and implements ``forward(batch) -> FusionOutput``.
    ``arguments`` holds the hyperparameters it was built with, defaults included, so that saved weights
    can rebuild exactly this model (``speed_arguments`` names those of them that only change speed or memory,
    so weights load whatever their value). ``tasks`` lists the tasks it supports (a config pairing it with another
    task is refused). Methods re-implemented from published code list the authors' keys they create but
    never use in ``authors_unused_keys`` (regular expressions) and any renames in ``authors_key_renames``.
    """

    tasks: ClassVar[tuple[str, ...]] = TASKS
    speed_arguments: ClassVar[tuple[str, ...]] = ()  # arguments that change only speed or memory, not results
    authors_unused_keys: ClassVar[tuple[str, ...]] = ()
    authors_key_renames: ClassVar[dict[str, str]] = {}
    # For ``rsmif predict`` (tiled whole scenes). ``receptive_field``: how far, in guide pixels, an output pixel
    # can see from its own position (the tile margin that makes a tiled mosaic equal whole-image inference);
    # None when no margin does (statistics over the whole image, size-dependent terms) or nobody measured it.
    # ``tile_alignment``: tile origins must be multiples of it (and of the ratio) for the same output, in guide
    # pixels (2 for one 2× pooling or wavelet level on the guide grid). See rsmif_core.evaluation.scene.
    receptive_field: ClassVar[int | None] = None
    tile_alignment: ClassVar[int] = 1
    arguments: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # Recorded here, not in each subclass's __init__, so every model knows its own arguments without
        # boilerplate. Binding fails only for a call __init__ itself rejects (or copy/unpickling, which call
        # __new__ without arguments and restore the attribute).
        model = super().__new__(cls)
        try:
            bound = inspect.signature(cls.__init__).bind(model, *args, **kwargs)
        except TypeError:
            model.__dict__["arguments"] = {}
            return model
        bound.apply_defaults()
        model.__dict__["arguments"] = {k: v for k, v in bound.arguments.items() if k not in _DATA_ARGUMENTS}
        return model

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int) -> None:
        super().__init__()
        for name, value in (("spectral_bands", spectral_bands), ("guide_bands", guide_bands), ("ratio", ratio)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, found {value!r}")
        self.spectral_bands = spectral_bands
        self.guide_bands = guide_bands
        self.ratio = ratio

    def forward(self, batch: Batch) -> FusionOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def convert_authors_state_dict(self, state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Map a state_dict saved by the authors' code onto this module's names."""
        unused = [re.compile(p) for p in self.authors_unused_keys]
        out: dict[str, Tensor] = {}
        for key, value in state_dict.items():
            key = key.removeprefix("module.")
            if any(p.search(key) for p in unused):
                continue
            for old, new in self.authors_key_renames.items():
                key = re.sub(old, new, key)
            out[key] = value
        return out

    def load_authors_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True) -> Any:
        """Load weights saved by the authors' code (DataParallel prefix and unused keys handled)."""
        return self.load_state_dict(self.convert_authors_state_dict(state_dict), strict=strict)


def unwrap_authors_checkpoint(obj: Any) -> dict[str, Tensor]:
    """Accept a bare state_dict or the authors' ``{'net': state_dict, ...}`` training checkpoint."""
    if isinstance(obj, Mapping) and "net" in obj and isinstance(obj["net"], Mapping):
        obj = obj["net"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError("expected a state_dict (name -> tensor) or a dict with a 'net' state_dict")
    return dict(obj)


@runtime_checkable
class FusionDataset(Protocol):
    """What a registered dataset gives the core: items it can index and what they are.

    Items are dicts with ``pan``, ``ms``, ``lms`` (C×H×W float tensors scaled to [0, 1]), ``gt`` (or None),
    ``id`` and the :class:`BatchMeta` fields (``task``, ``sensor``, ``ratio``, ``max_value``, ``mtf_gains``);
    anything else an item carries (``crs``, ``transform``) travels beside the batch to the exporters.
    """

    task: str
    sensor: str
    spectral_bands: int
    guide_bands: int
    ratio: int
    max_value: float
    has_reference: bool

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...
