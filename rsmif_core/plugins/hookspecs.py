"""What a plugin may register, as pluggy hooks. Each hook receives a ``register`` callback.

A plugin is a module named by an entry point of the group ``rsmif``; it implements any of these hooks
with ``@rsmif_core.hookimpl``. Import heavy modules (torch, your model) inside the hook, not at the top of
the plugin module, so that ``rsmif --help`` stays fast::

    @rsmif_core.hookimpl
    def register_models(register: rsmif_core.Register) -> None:
        from my_plugin.model import MyNet

        register("mynet", MyNet, description="My fusion network")

The tasks a model supports come from its class attribute ``tasks`` (``FusionModel.tasks``), or from
``tasks=`` here for a factory function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pluggy

PROJECT = "rsmif"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """``register(name, factory, description="", tasks=())``: make ``factory`` buildable by ``name``.

    For models the factory is a :class:`~rsmif_core.FusionModel` subclass (built with the band counts and
    ratio of the data plus the config's ``model.args``); for datasets a class or function taking the config's
    ``data.<split>.args``; for losses a callable returning an ``nn.Module`` whose ``forward(output, batch)``
    returns a ``LossOutput``; for metrics a torchmetrics ``Metric`` class built with the keyword options
    ``sensor``, ``border``, ``clip``, ``block_size``, ``protocol``, ``kernels`` and ``sync_on_compute`` (see
    :mod:`rsmif_core.metrics.classes`), whose ``update(fused, batch)`` and ``compute()`` give per-image values
    and whose class attributes ``needs_reference`` and ``higher_is_better`` say what it needs and which way
    is better.
    """

    def __call__(
        self, name: str, factory: Callable[..., Any], *, description: str = "", tasks: Sequence[str] = ()
    ) -> None: ...


class RegisterCommand(Protocol):
    """``register(command)``: add a click command (or group) to the ``rsmif`` command line."""

    def __call__(self, command: Any) -> None: ...


class RegisterConfig(Protocol):
    """``register(name, path, description="")``: a run configuration shipped inside the plugin.

    Name it ``PLUGIN:TASK`` (``ramsf:pansharpening``); ``path`` is a YAML file inside the installed package
    (``Path(__file__).parent / "configs" / "pansharpening.yaml"``). It can then be used wherever a config
    file is accepted (``rsmif run ramsf:pansharpening``) and is listed by ``rsmif config list``.
    """

    def __call__(self, name: str, path: Path, *, description: str = "") -> None: ...


def register_config_folder(register: RegisterConfig, plugin: str, folder: Path) -> None:
    """Register every ``*.yaml`` in ``folder`` as ``PLUGIN:FILE`` (``pansharpening.yaml`` -> ``ramsf:pansharpening``;
    a ``PLUGIN-`` prefix of the file name is dropped). The description is the first sentence of the file's
    opening comment, ``# Method (citation): what it runs. …``, after its first ``": "``."""
    for path in sorted(Path(folder).glob("*.yaml"), key=lambda found: found.stem):
        lines = path.read_text(encoding="utf-8").splitlines()
        comment = " ".join(line.lstrip("# ").strip() for line in lines[: next(
            (i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))])
        text = comment.partition(": ")[2] or comment
        stem = path.stem.removeprefix(f"{plugin}-")
        register(f"{plugin}:{stem}", path, description=text.partition(". ")[0].rstrip("."))


@hookspec
def register_models(register: Register) -> None:
    """Register fusion networks (``FusionModel`` subclasses)."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset factories (their objects follow the ``FusionDataset`` protocol)."""


@hookspec
def register_losses(register: Register) -> None:
    """Register loss factories (``forward(output, batch) -> LossOutput``)."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register torchmetrics ``Metric`` classes."""


@hookspec
def register_commands(register: RegisterCommand) -> None:
    """Register click commands added to the ``rsmif`` command line."""


@hookspec
def register_configs(register: RegisterConfig) -> None:
    """Register run configurations shipped with the plugin."""
