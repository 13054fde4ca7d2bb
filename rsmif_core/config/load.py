"""Compose a run file with command-line overrides (hydra-zen) and validate it (pydantic + the registry).

Every problem becomes one :class:`ConfigError` naming the file, the dotted key, what was found and
what was expected, raised before any work starts.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from rsmif_core.config.schema import RunConfig
from rsmif_core.errors import UsageError
from rsmif_core.plugins.factory import DATA_DERIVED, accepted_arguments
from rsmif_core.plugins.registry import SINGULAR, Entry, RegistryError, did_you_mean

_HYDRA_QUIET = [
    "hydra.output_subdir=null",
    "hydra.run.dir=.",
    "hydra/job_logging=disabled",
    "hydra/hydra_logging=disabled",
]
PATH_ARG_NAMES = ("path", "root", "file")


class ConfigError(UsageError):
    """A run configuration that cannot be used; the message says where and what was expected."""

    def __init__(self, source: str, key: str, found: Any, expected: str) -> None:
        self.source, self.key, self.found, self.expected = source, key, found, expected
        found_text = found if isinstance(found, str) and found.startswith("<") else repr(found)
        super().__init__(f"{source}: {key}: found {found_text}; expected {expected}")


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(str(path), "<file>", "<no such file>", "an existing YAML run file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "<file>", "<invalid YAML>", f"valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "<top level>", type(data).__name__, "a mapping of sections (model, data, …)")
    return data


_MISSING = object()


def dotted_get(tree: Any, dotted: str, default: Any = None) -> Any:
    """``tree["a"]["b"]`` for ``"a.b"``; ``default`` when a part is missing."""
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _apply_overrides(source: str, tree: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    if not overrides:
        return tree
    from hydra.errors import HydraException
    from hydra_zen import launch
    from omegaconf import OmegaConf

    prepared = []
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep:
            raise ConfigError(source, item, item, "an override of the form key=value")
        plain = key.lstrip("+~")
        # New keys (e.g. model.args.x) need Hydra's '+'; users should not have to know that.
        prepared.append(item if key != plain or dotted_get(tree, plain, _MISSING) is not _MISSING else "+" + item)
    try:
        job = launch(OmegaConf.create(tree), lambda cfg: cfg, overrides=prepared + _HYDRA_QUIET, version_base="1.3")
        composed = OmegaConf.to_container(job.return_value, resolve=True)
    except HydraException as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(source, "<command line>", " ".join(overrides), f"valid overrides ({first})") from None
    assert isinstance(composed, dict)
    return composed  # type: ignore[return-value]


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


def _fields_at(loc: Sequence[Any]) -> list[str]:
    cls: type[BaseModel] | None = RunConfig
    for part in loc:
        if cls is None or part not in cls.model_fields:
            return []
        cls = _unwrap_model(cls.model_fields[part].annotation)
    return list(cls.model_fields) if cls is not None else []


def _pydantic_error(source: str, exc: ValidationError) -> ConfigError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "union"))]
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        known = _fields_at(err["loc"][:-1])
        return ConfigError(source, key, err.get("input"), f"no such key; known keys here: {', '.join(known)}")
    if err["type"] == "missing":
        return ConfigError(source, key, "<missing>", "this key to be set")
    return ConfigError(source, key, err.get("input"), err["msg"].replace("Input should be", "a value that is").lower())


def _check_name(source: str, key: str, kind: str, name: str) -> Entry:
    from rsmif_core.plugins.manager import registry

    try:
        return registry().get(kind, name)
    except RegistryError as exc:
        detail = str(exc).split(". ", 1)[-1]
        raise ConfigError(source, key, name, f"a registered {SINGULAR[kind]} name. {detail}") from None


def _check_args(source: str, key: str, entry: Entry, args: dict[str, Any], derived: Sequence[str] = (),
                check_paths: bool = True) -> None:
    """Every key of ``args`` is an argument of the registered factory (did-you-mean otherwise); paths exist."""
    what = f"{SINGULAR[entry.kind]} {entry.name!r}"
    for name in args:
        if name in derived:
            raise ConfigError(source, f"{key}.{name}", args[name], "nothing: it is taken from the data")
    accepted = accepted_arguments(entry.factory, derived)
    if accepted is not None:
        for name in args:
            if name not in accepted:
                raise ConfigError(source, f"{key}.{name}", args[name],
                                  f"an argument of {what}.{did_you_mean(name, accepted)} "
                                  f"It accepts: {', '.join(accepted) or 'no arguments'}")
    for name, value in args.items():
        looks_like_path = name in PATH_ARG_NAMES or name.endswith(("_path", "_file", "_dir"))
        if check_paths and looks_like_path and isinstance(value, str) and value and not Path(value).exists():
            raise ConfigError(source, f"{key}.{name}", value, "an existing file or folder")


def _dataset_task(entry: Entry, args: dict[str, Any]) -> str | None:
    """The task a dataset section feeds: its ``task`` argument, or the one task its dataset serves."""
    task = args.get("task")
    if isinstance(task, str):
        return task
    return entry.tasks[0] if len(entry.tasks) == 1 else None


def validate_registered(cfg: RunConfig, source: str, check_paths: bool = True) -> None:
    """Check every registered name, constructor argument and path in the config, and that the model supports
    the task of its data."""
    model = _check_name(source, "model.name", "models", cfg.model.name)
    _check_args(source, "model.args", model, cfg.model.args, DATA_DERIVED)
    for split in ("train", "val", "test", "test_fr"):
        section = getattr(cfg.data, split)
        if section is None:
            continue
        dataset = _check_name(source, f"data.{split}.name", "datasets", section.name)
        _check_args(source, f"data.{split}.args", dataset, section.args, check_paths=check_paths)
        task = _dataset_task(dataset, section.args)
        if task is not None and model.tasks and task not in model.tasks:
            raise ConfigError(source, "model.name", cfg.model.name,
                              f"a model for the task {task!r} of data.{split}; {cfg.model.name!r} supports "
                              f"{', '.join(model.tasks)}")
    loss = _check_name(source, "loss.name", "losses", cfg.loss.name)
    _check_args(source, "loss.args", loss, cfg.loss.args)
    for group in ("rr_metrics", "fr_metrics", "val_metrics"):
        for i, metric in enumerate(getattr(cfg.eval, group)):
            _check_name(source, f"eval.{group}[{i}]", "metrics", metric)
    best = cfg.trainer.best_metric
    if best is not None and best != "loss" and best not in cfg.eval.val_metrics:
        raise ConfigError(source, "trainer.best_metric", best, f"'loss' or one of eval.val_metrics: {', '.join(cfg.eval.val_metrics)}")


def load_config(
    path: str | Path, overrides: Sequence[str] = (), check_registry: bool = True, check_paths: bool = True
) -> RunConfig:
    """Read, compose and validate a run file; raise :class:`ConfigError` on the first problem.

    ``check_paths=False`` validates everything but the existence of data files (configs for
    collections that are downloaded separately).
    """
    path = Path(path)
    source = str(path) + (" (with command-line overrides)" if overrides else "")
    tree = _read_yaml(path)
    tree = _apply_overrides(source, tree, overrides)
    try:
        cfg = RunConfig.model_validate(tree)
    except ValidationError as exc:
        raise _pydantic_error(source, exc) from None
    if check_registry:
        validate_registered(cfg, source, check_paths)
    return cfg


def to_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
