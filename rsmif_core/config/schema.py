"""The pydantic schema of a run file. Unknown keys are errors (``extra="forbid"``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
)


class Section(BaseModel):
    # inf and NaN are never a meaningful setting (an infinite learning rate would pass "positive")
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ModelSection(Section):
    """Which registered network to build; ``args`` go to its constructor (band counts and ratio come from the data)."""

    name: str = "pnn"
    args: dict[str, Any] = Field(default_factory=dict)
    # fine-tuning: start from these weights (a run folder, a checkpoint folder, a .safetensors file or the
    # authors' .pth) instead of a random initialisation; the optimizer and the schedule start afresh
    init_from: str | None = None


class DatasetSection(Section):
    """A registered dataset, its constructor ``args`` and how it is batched."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    batch_size: PositiveInt = 8
    num_workers: NonNegativeInt | None = None  # DataLoader processes; None: what the machine has (run.build)
    shuffle: bool | None = None  # default: True for train, False otherwise


class DataSection(Section):
    train: DatasetSection | None = None
    val: DatasetSection | None = None
    test: DatasetSection | None = None  # reduced resolution (with reference)
    test_fr: DatasetSection | None = None  # full resolution (no reference)


class LossSection(Section):
    name: str = "l1"
    args: dict[str, Any] = Field(default_factory=dict)


class OptimSection(Section):
    """Optimizer with the knobs the authors use."""

    name: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: PositiveFloat = 3e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegativeFloat = 0.0
    momentum: NonNegativeFloat = 0.0
    alpha: PositiveFloat = 0.99
    nesterov: bool = False


class ScheduleSection(Section):
    """Learning-rate schedule; the authors decay by 0.9 at epoch 100 (``multistep``, ``milestones: [100]``)."""

    name: Literal["none", "step", "multistep", "cosine"] = "none"
    interval: Literal["epoch", "step"] = "epoch"
    step_size: PositiveInt = 100
    milestones: list[PositiveInt] = Field(default_factory=lambda: [100])
    gamma: PositiveFloat = 0.9
    min_lr: NonNegativeFloat = 0.0
    warmup_steps: NonNegativeInt = 0


class TrainerSection(Section):
    epochs: PositiveInt | None = None
    max_steps: PositiveInt | None = None
    output_dir: str = "runs/rsmif"
    seed: int = 42
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    grad_accum_steps: PositiveInt = 1
    grad_clip: PositiveFloat | None = None
    deterministic: bool = False
    cpu: bool = False
    log_every: PositiveInt = 10
    val_every: PositiveInt | None = None  # steps; None = end of every epoch
    checkpoint_every: PositiveInt | None = None  # steps; None = end of every epoch
    keep_last: PositiveInt = 3
    best_metric: str | None = None
    best_mode: Literal["min", "max"] = "min"  # default: the metric's own direction (min for loss)
    patience: PositiveInt | None = None  # validations without a new best before stopping early; None = never
    # stop when the training loss exceeds this multiple of the first step's loss (divergence); None: only NaN/inf
    divergence_factor: PositiveFloat | None = 1000.0
    val_at_start: bool = False  # validate before the first step too (the starting point of a fine-tuning)
    final_weights: Literal["last", "best"] = "last"  # what model.safetensors holds: the last step's or the best
    log_images: bool = True
    log_features: list[str] = Field(default_factory=list)
    progress: bool = True


class EvalSection(Section):
    """How ``rsmif test`` and validation score images (toolbox definitions by default)."""

    rr_metrics: list[str] = Field(default_factory=lambda: ["sam", "ergas", "q2n", "q_index", "scc", "psnr"])
    fr_metrics: list[str] = Field(default_factory=lambda: ["d_lambda_k", "d_s", "hqnr"])
    val_metrics: list[str] = Field(default_factory=lambda: ["sam", "ergas", "psnr"])
    sensor: str | None = None  # default: the dataset's sensor
    border: NonNegativeInt = 0
    clip: bool = False
    block_size: PositiveInt = 32
    protocol: Literal["toolbox", "authors"] = "toolbox"
    batch_size: PositiveInt = 1  # rsmif test: images per forward; 1 = one image at a time (the papers' protocol)


class RuntimeSection(Section):
    """How a run uses the machine. None of these changes a result beyond float rounding."""

    threads: PositiveInt | None = None  # CPU threads for torch and the metric kernels; None: torch's default
    metric_kernels: Literal["numba", "torch"] = "numba"  # numba: fused kernels for CPU tensors; torch: batched ops
    compile: bool = False  # run the model through torch.compile where a compiler is available
    # release: the C library's default (freed buffers over 32 MiB go back to the system); reuse: freed CPU buffers stay
    # with the process for the next tensor (glibc): whole images of 512² and more run without fresh page faults, for
    # more resident memory (rsmif_core/run/cpu_memory.py)
    cpu_memory: Literal["release", "reuse"] = "release"


class RunConfig(Section):
    _source: str = PrivateAttr(default="the run configuration")  # the file it came from (set by load_config)

    @property
    def source(self) -> str:
        """The file (and overrides) this configuration was loaded from, for messages."""
        return self._source

    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection = Field(default_factory=DataSection)
    loss: LossSection = Field(default_factory=LossSection)
    optim: OptimSection = Field(default_factory=OptimSection)
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    trainer: TrainerSection = Field(default_factory=TrainerSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    runtime: RuntimeSection = Field(default_factory=RuntimeSection)
