"""Load the built-ins and every installed distribution's ``rsmif`` entry points, each in isolation.

One broken plugin never takes the others (or ``rsmif --help``) down: whatever it raises on import or in
a hook (``SystemExit`` included; only ``KeyboardInterrupt`` passes) is recorded, reported and shown by
``rsmif plugins``. A :class:`PluginSelection` says which distributions load and whether a failure is
re-raised (strict, for plugin authors); the command line builds it from ``RSMIF_LOAD_PLUGINS`` and
``RSMIF_STRICT_PLUGINS`` (read in :mod:`rsmif_core.config.environment`, nowhere else).

Modules are imported once; each kind's hooks run the first time that kind is asked for, so listing the
commands does not import every model.
"""

from __future__ import annotations

import importlib
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from rsmif_core.errors import PluginLoadError
from rsmif_core.plugins import hookspecs
from rsmif_core.plugins.registry import KINDS, SINGULAR, Entry, Registry

GROUP = "rsmif"
BUILTINS_MODULE = "rsmif_core.plugins.builtins"
BUILTINS_NAME = "rsmif"
CORE_DISTRIBUTION = "rsmif"


class PluginWarning(UserWarning):
    """A plugin that failed to load or register (reported, then skipped)."""


def normalise_distribution(name: str) -> str:
    """A distribution name compared the way packaging does (``Rsmif_Foo.bar`` -> ``rsmif-foo-bar``)."""
    return "-".join(part for part in name.strip().lower().replace("_", "-").replace(".", "-").split("-") if part)


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=3)


@dataclass(frozen=True)
class PluginSelection:
    """Which installed plugins load. ``only``: normalised distribution names (``None``: all; empty: built-ins
    only). ``strict``: a failing plugin raises :class:`PluginLoadError` instead of being skipped.
    ``report`` receives each problem's message (default: a :class:`PluginWarning`)."""

    only: frozenset[str] | None = None
    strict: bool = False
    report: Callable[[str], None] = field(default=_warn, compare=False)


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
    clashes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "builtin": self.builtin,
            "hooks": self.hooks,
            "registered": {k: v for k, v in self.registered.items() if v},
            "clashes": self.clashes,
            "error": self.error,
        }


class Plugins:
    """The loaded plugins of this process and the registry they filled."""

    def __init__(self, selection: PluginSelection) -> None:
        self.selection = selection
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.modules: list[tuple[ModuleType, PluginInfo]] = []
        self.registry = Registry(fill=self._call_hooks)
        self._load()

    # ----- loading ---------------------------------------------------------------------------
    def _load(self) -> None:
        from rsmif_core import __version__

        builtins = importlib.import_module(BUILTINS_MODULE)  # the core's own module must import
        self._add_module(builtins, PluginInfo(BUILTINS_NAME, CORE_DISTRIBUTION, __version__, BUILTINS_MODULE, True))
        for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
            dist = ep.dist
            dist_name = dist.metadata["Name"] if dist is not None else "<unknown>"
            if self.selection.only is not None and normalise_distribution(dist_name) not in self.selection.only:
                continue
            if ep.name in self.infos:
                continue
            info = PluginInfo(ep.name, dist_name, dist.version if dist is not None else "?", ep.value, builtin=False)
            self.infos[ep.name] = info
            module: ModuleType | None = None
            with self._isolated(info, f"import of entry point {ep.name} = {ep.value} failed"):
                module = ep.load()
            if module is not None:
                with self._isolated(info, "not a valid plugin module"):
                    self._add_module(module, info)

    def _add_module(self, module: ModuleType, info: PluginInfo) -> None:
        self.infos[info.name] = info
        try:
            self.pm.register(module, name=info.name)
            self.pm.check_pending()  # a misspelt hook name
        except Exception:
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            raise
        info.hooks = sorted(c.name for c in self.pm.get_hookcallers(module) or [])
        self.modules.append((module, info))

    @contextmanager
    def _isolated(self, info: PluginInfo, what: str) -> Iterator[None]:
        """Record and report anything a plugin raises (KeyboardInterrupt excepted) instead of propagating it."""
        try:
            yield
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a plugin's SystemExit must not end the command either
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            self._problem(info, f"{what}: {detail}")

    def _problem(self, info: PluginInfo, message: str, *, error: bool = True) -> None:
        if error:
            info.error = message if info.error is None else f"{info.error}; {message}"
        text = (f"plugin {info.name!r} from distribution {info.distribution} {info.version} failed and was "
                f"skipped: {message}") if error else message
        if self.selection.strict:
            raise PluginLoadError(text)
        self.selection.report(text)

    # ----- registration, one kind at a time --------------------------------------------------
    def _call_hooks(self, kind: str) -> None:
        caller = getattr(self.pm.hook, f"register_{kind}")
        impls = {impl.plugin: impl for impl in caller.get_hookimpls()}
        for module, info in self.modules:
            impl = impls.get(module)
            if impl is None or info.error is not None:
                continue
            with self._isolated(info, f"{impl.function.__name__} raised"):
                impl.function(register=self._register_for(kind, info))

    def _register_for(self, kind: str, info: PluginInfo) -> Callable[..., None]:
        def register(name: Any, factory: Any = None, *, description: str = "", tasks: Any = ()) -> None:
            if kind == "commands":  # register(click_command)
                factory, name = name, getattr(name, "name", None) or str(name)
            if factory is None:
                raise TypeError(f"register({name!r}) needs a factory")
            if kind == "configs":
                problem = _config_problem(str(name), factory)
                if problem is not None:
                    self._problem(info, f"config {name!r} not registered: {problem}", error=False)
                    return
                factory = Path(factory)
                doc, supported = description, tuple(tasks) or config_tasks(str(name))
            else:
                doc = description or (getattr(factory, "__doc__", None) or "").strip().split("\n")[0]
                supported = tuple(tasks) or tuple(getattr(factory, "tasks", ()) or ())
            entry = Entry(kind, str(name), factory, info.name, info.distribution, info.version, doc, supported)
            clash = self.registry.add(entry)
            if clash is None:
                info.registered[kind].append(str(name))
                return
            message = clash.message()
            info.clashes.append(message)
            active_info = self.infos.get(clash.active.plugin)
            if active_info is not None:
                active_info.clashes.append(message)
            self._problem(info, f"{SINGULAR[kind]} {name!r} not registered: {message}", error=False)

        return register

    def all_infos(self) -> list[PluginInfo]:
        self.registry.clashes()  # runs every kind's hooks
        return list(self.infos.values())


def config_tasks(name: str) -> tuple[str, ...]:
    """The task of a shipped config named ``PLUGIN:TASK`` or ``PLUGIN:TASK-VARIANT`` (empty when none)."""
    from rsmif_core.types import TASKS

    setting = name.partition(":")[2]
    found = [t for t in TASKS if setting == t or setting.startswith(t + "-")]
    return (max(found, key=len),) if found else ()


def _config_problem(name: str, path: Any) -> str | None:
    """Why a shipped config cannot be registered (its name must hold a ':' to be told from a file name)."""
    plugin, colon, setting = name.partition(":")
    if not (plugin and colon and setting):
        return "a shipped config is named PLUGIN:TASK (e.g. ramsf:pansharpening)"
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        return f"its file {path} does not exist (is it included in the package data of the distribution?)"
    return None


_plugins: Plugins | None = None
_selection = PluginSelection()


def reset_plugins(selection: PluginSelection | None = None) -> None:
    """Forget everything loaded and choose which plugins load next (default: all, not strict).

    The command line calls it first with the selection of its environment; tests call it to isolate.
    """
    global _plugins, _selection
    _plugins = None
    _selection = selection or PluginSelection()
    importlib.invalidate_caches()


def plugins() -> Plugins:
    """The loaded plugins (loaded on first use, once per process)."""
    global _plugins
    if _plugins is None:
        _plugins = Plugins(_selection)
    return _plugins


def plugin_infos() -> list[PluginInfo]:
    return plugins().all_infos()


def registry() -> Registry:
    return plugins().registry
