"""The environment variables RSMIF reads, all of them, in one place.

None of them changes a result; each maps onto an explicit option that code below the command line
receives as an argument:

* ``RSMIF_LOAD_PLUGINS``: load only these plugin distributions (comma-separated; empty: built-ins only);
* ``RSMIF_STRICT_PLUGINS=1``: a plugin that fails to load raises instead of being skipped (for plugin authors);
* ``RSMIF_DEBUG=1``: print the traceback of an unexpected error (same as ``rsmif --debug``);
* ``RSMIF_SHARED``: the reference folder the tests and benchmarks read (never the installed product).

A distributed launch (``torchrun``, ``accelerate launch``) is recognised from the variables those
launchers set (``WORLD_SIZE``, ``LOCAL_RANK``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_TRUE = ("1", "true", "yes", "on")


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


@dataclass(frozen=True)
class Environment:
    load_plugins: frozenset[str] | None
    strict_plugins: bool
    debug: bool
    shared: Path | None
    distributed_launch: bool


def read_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """Read RSMIF's environment variables (``os.environ`` unless given)."""
    env = os.environ if environ is None else environ
    raw_plugins = env.get("RSMIF_LOAD_PLUGINS")
    from rsmif_core.plugins.manager import normalise_distribution

    load = None if raw_plugins is None else frozenset(normalise_distribution(d) for d in raw_plugins.split(",") if d.strip())
    shared = env.get("RSMIF_SHARED")
    world = env.get("WORLD_SIZE", "1")
    local_rank = env.get("LOCAL_RANK", "-1")
    launched = (world.isdigit() and int(world) > 1) or (local_rank.lstrip("-").isdigit() and int(local_rank) >= 0)
    return Environment(
        load_plugins=load,
        strict_plugins=_flag(env.get("RSMIF_STRICT_PLUGINS")),
        debug=_flag(env.get("RSMIF_DEBUG")),
        shared=Path(shared) if shared else None,
        distributed_launch=launched,
    )


def require_deterministic_cublas() -> None:
    """cuBLAS is deterministic only with a fixed workspace, which it reads from the environment."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
