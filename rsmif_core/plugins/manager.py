"""Load the built-in plugins and every installed distribution's ``rsmif`` entry points, in isolation.

One broken plugin never takes the others (or ``rsmif --help``) down: its error is recorded and shown
by ``rsmif plugins``. ``RSMIF_STRICT_PLUGINS=1`` re-raises instead, for plugin authors.
``RSMIF_LOAD_PLUGINS`` limits loading: empty = built-ins only, ``a,b`` = only those distributions.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from rsmif_core import __version__
from rsmif_core.plugins import hookspecs
from rsmif_core.registry import KINDS, Entry, Registry

GROUP = "rsmif"
DEFAULT_PLUGINS: tuple[str, ...] = (
    "rsmif_core.models",
    "rsmif_core.losses",
    "rsmif_core.metrics.plugin",
    "rsmif_core.data.plugin",
    "rsmif_core.commands",
)
CORE_DISTRIBUTION = "rsmif"


class PluginLoadError(RuntimeError):
    """Raised under ``RSMIF_STRICT_PLUGINS=1`` when a plugin fails to load or register."""


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str
    module: str
    builtin: bool
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "builtin": self.builtin,
            "hooks": self.hooks,
            "registered": {k: v for k, v in self.registered.items() if v},
            "error": self.error,
        }


@dataclass
class _State:
    pm: pluggy.PluginManager
    registry: Registry = field(default_factory=Registry)
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    loaded: bool = False


_state: _State | None = None


def _strict() -> bool:
    return os.environ.get("RSMIF_STRICT_PLUGINS", "") not in ("", "0", "false", "False")


def _new_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _state_or_new() -> _State:
    global _state
    if _state is None:
        _state = _State(pm=_new_pm())
    return _state


def plugin_manager() -> pluggy.PluginManager:
    return load_plugins().pm


def reset_plugins() -> None:
    """Forget everything loaded (tests, or after installing a plugin in the running interpreter)."""
    global _state
    _state = None
    importlib.invalidate_caches()


def _allowed_distributions() -> set[str] | None:
    raw = os.environ.get("RSMIF_LOAD_PLUGINS")
    if raw is None:
        return None
    return {_normalise(d) for d in raw.split(",") if d.strip()}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def _fail(state: _State, info: PluginInfo, message: str) -> None:
    info.error = message
    if _strict():
        raise PluginLoadError(f"plugin {info.name!r} from {info.distribution} {info.version}: {message}")
    print(
        f"rsmif: warning: plugin {info.name!r} from distribution {info.distribution} {info.version} "
        f"failed and was skipped: {message}",
        file=sys.stderr,
    )


def _register_module(state: _State, module: ModuleType, info: PluginInfo) -> None:
    state.infos[info.name] = info
    try:
        state.pm.register(module, name=info.name)
        state.pm.check_pending()
    except Exception as exc:  # a misspelt hook, or a module that is not a valid plugin
        if state.pm.is_registered(module):
            state.pm.unregister(module)
        _fail(state, info, f"{type(exc).__name__}: {exc}")
        return
    info.hooks = sorted(c.name for c in state.pm.get_hookcallers(module) or [])


def _call_hooks(state: _State, info: PluginInfo, module: ModuleType) -> None:
    for kind in KINDS:
        caller = getattr(state.pm.hook, f"register_{kind}")
        for impl in caller.get_hookimpls():
            if impl.plugin is not module:
                continue

            def register(name: Any, factory: Any = None, description: str = "", tasks: Any = (), _kind: str = kind) -> None:
                if _kind == "commands":  # register(click_command)
                    factory, name = name, getattr(name, "name", None) or str(name)
                if factory is None:
                    raise TypeError(f"register({name!r}) needs a factory")
                doc = description or (factory.__doc__ or "").strip().split("\n")[0]
                supported = tuple(tasks) or tuple(getattr(factory, "tasks", ()) or ())
                entry = Entry(_kind, str(name), factory, info.name, info.distribution, info.version, doc, supported)
                problem = state.registry.add(entry)
                info.registered[_kind].append(str(name))
                if problem:
                    _fail(state, info, problem)

            try:
                impl.function(register=register)
            except Exception as exc:
                _fail(state, info, f"{impl.function.__name__} raised {type(exc).__name__}: {exc}")


def load_plugins() -> _State:
    """Load built-ins and entry points once; later calls return the same state."""
    state = _state_or_new()
    if state.loaded:
        return state
    state.loaded = True
    found: list[tuple[ModuleType, PluginInfo]] = []
    for module_name in DEFAULT_PLUGINS:
        name = "rsmif." + module_name.removeprefix("rsmif_core.").removesuffix(".plugin")
        info = PluginInfo(name, CORE_DISTRIBUTION, __version__, module_name, builtin=True)
        module = importlib.import_module(module_name)  # the core's own modules must import
        found.append((module, info))
        _register_module(state, module, info)
    allowed = _allowed_distributions()
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else "<unknown>"
        version = dist.version if dist is not None else "?"
        if allowed is not None and _normalise(dist_name) not in allowed:
            continue
        if ep.name in state.infos:
            continue
        info = PluginInfo(ep.name, dist_name, version, ep.value, builtin=False)
        state.infos[ep.name] = info
        try:
            module = ep.load()
        except Exception as exc:
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            _fail(state, info, f"import of entry point {ep.name} = {ep.value} failed: {tb}")
            continue
        _register_module(state, module, info)
        if info.error is None:
            found.append((module, info))
    for module, info in found:
        if info.error is None:
            _call_hooks(state, info, module)
    return state


def plugin_infos() -> list[PluginInfo]:
    return list(load_plugins().infos.values())


def registry() -> Registry:
    return load_plugins().registry
