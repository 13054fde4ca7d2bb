"""Registers the built-in quality indices and the ``rsmif score`` command."""

from __future__ import annotations

from rsmif_core.plugins.hookspecs import Register, hookimpl

_PAN_TASKS = ("pansharpening", "hyperspectral")


@hookimpl
def register_metrics(register: Register) -> None:
    """Every index of :mod:`rsmif_core.metrics.classes`, by its functional name."""
    from rsmif_core.metrics.classes import METRICS

    for name, cls in METRICS.items():
        kind = "reduced resolution, needs gt" if cls.needs_reference else "full resolution, no reference"
        better = "higher is better" if cls.higher_is_better else "lower is better"
        doc = (cls.__doc__ or name).strip().split("\n")[0].rstrip(".")
        register(name, cls, description=f"{doc} ({kind}; {better})", tasks=() if cls.needs_reference else _PAN_TASKS)


@hookimpl
def register_commands(register: Register) -> None:
    from rsmif_core.metrics.score import score

    register(score)
