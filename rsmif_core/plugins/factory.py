"""Build registered things by name; every argument is checked against the factory's signature first."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rsmif_core.errors import UsageError
from rsmif_core.plugins.manager import registry
from rsmif_core.plugins.registry import SINGULAR, Entry, did_you_mean

# Model constructor arguments that come from the data, never from a config.
DATA_DERIVED = ("spectral_bands", "guide_bands", "ratio")


class ArgumentError(UsageError):
    """An argument a registered factory does not take."""


def describe(kind: str) -> list[Entry]:
    """Every registered entry of a kind (``models``, ``datasets``, ``losses``, ``metrics``, ``commands``, ``configs``)."""
    return registry().entries(kind)


def available(kind: str) -> list[str]:
    """Sorted registered names of a kind."""
    return registry().names(kind)


def accepted_arguments(factory: Callable[..., Any], derived: Sequence[str] = ()) -> list[str] | None:
    """The keyword arguments ``factory`` takes (``None`` when its signature cannot be read)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return None
    plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [n for n, p in params.items() if p.kind in plain and n != "self" and n not in derived]


def check_arguments(kind: str, name: str, factory: Callable[..., Any], args: Mapping[str, Any],
                    derived: Sequence[str] = ()) -> None:
    """Raise :class:`ArgumentError` naming the first argument of ``args`` that ``factory`` does not take."""
    what = f"{SINGULAR[kind]} {name!r}"
    for key in args:
        if key in derived:
            raise ArgumentError(f"{what}: argument {key!r} is taken from the data and cannot be set")
    accepted = accepted_arguments(factory, derived)
    if accepted is None:
        return
    for key in args:
        if key not in accepted:
            raise ArgumentError(f"{what} has no argument {key!r}.{did_you_mean(key, accepted)} "
                                f"It accepts: {', '.join(accepted) or 'no arguments'}")


def resolved_arguments(factory: Callable[..., Any], args: Mapping[str, Any], derived: Sequence[str] = DATA_DERIVED
                       ) -> dict[str, Any]:
    """``args`` completed with the factory's defaults: everything needed to build the same thing again."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return dict(args)
    out = {n: p.default for n, p in params.items()
           if n not in derived and n != "self" and p.default is not inspect.Parameter.empty}
    out.update(args)
    return out


def _create(kind: str, name: str, args: Mapping[str, Any], derived: Sequence[str] = (), **data: Any) -> Any:
    entry = registry().get(kind, name)
    check_arguments(kind, name, entry.factory, args, derived)
    return entry.factory(**data, **args)


def create_model(name: str, *, spectral_bands: int, guide_bands: int, ratio: int, **args: Any) -> Any:
    """``create_model("pnn", spectral_bands=8, guide_bands=1, ratio=4, **args)``; unknown ``args`` are an error."""
    return _create("models", name, args, DATA_DERIVED, spectral_bands=spectral_bands, guide_bands=guide_bands,
                   ratio=ratio)


def create_dataset(name: str, **args: Any) -> Any:
    return _create("datasets", name, args)


def create_loss(name: str, **args: Any) -> Any:
    return _create("losses", name, args)


def create_metric(name: str, **args: Any) -> Any:
    return _create("metrics", name, args)
