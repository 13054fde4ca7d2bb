"""Compose a run file with command-line overrides (hydra-zen) and validate it (pydantic + the registry).

Every problem is reported at once in one :class:`ConfigError`: the file, each dotted key, what was found
and what was expected, before any work starts. A run file is a path or the name of a configuration a
plugin ships (``ramsf:pansharpening``).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
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
_MISSING = object()


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config: where, what was found, what was expected."""

    key: str
    found: Any
    expected: str

    def text(self) -> str:
        found = self.found if isinstance(self.found, str) and self.found.startswith("<") else repr(self.found)
        return f"{self.key}: found {found}; expected {self.expected}"


class ConfigError(UsageError):
    """A run configuration that cannot be used; the message lists every problem found in it."""

    def __init__(self, source: str, key: str, found: Any, expected: str) -> None:
        self.source = source
        self.problems = [Problem(key, found, expected)]
        self.key, self.found, self.expected = key, found, expected
        super().__init__(f"{source}: {self.problems[0].text()}")

    @classmethod
    def of(cls, source: str, problems: Sequence[Problem]) -> ConfigError:
        first = problems[0]
        error = cls(source, first.key, first.found, first.expected)
        if len(problems) > 1:
            error.problems = list(problems)
            error.message = f"{source}: {len(problems)} problems:\n" + "\n".join(f"  {p.text()}" for p in problems)
            error.args = (error.message,)
        return error


def shipped_config(name: str) -> Entry:
    """The registered (shipped) config ``name``; a :class:`ConfigError` with a did-you-mean otherwise."""
    from rsmif_core.plugins.manager import registry

    entry = registry().find("configs", name)
    if entry is not None:
        return entry
    known = registry().names("configs")
    plugin = name.partition(":")[0]
    same = [n for n in known if n.startswith(plugin + ":")]
    listing = f"Shipped configs of {plugin}: {', '.join(same)}" if same else f"{len(known)} shipped configs"
    raise ConfigError(name, "<file>", "<no such file or shipped config>",
                      f"an existing YAML run file or a shipped config name.{did_you_mean(name, known)} "
                      f"{listing} (rsmif config list shows them all)")


def resolve_config(name: str | Path) -> Path:
    """A config file path, or the file of a registered (shipped) config such as ``ramsf:pansharpening``.

    A name that is no file and close to a shipped config's name (``ramsf-pansharpening``) is refused with
    a did-you-mean rather than as a missing file."""
    path = Path(name)
    if path.exists():
        return path
    if ":" not in str(name):
        if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
            return path
        from rsmif_core.plugins.manager import registry

        if not did_you_mean(str(name), registry().names("configs")):
            return path
    return Path(str(shipped_config(str(name)).factory))  # a config registers its file in the place of a factory


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        what = "a folder" if path.is_dir() else "<no such file>"
        raise ConfigError(str(path), "<file>", what, "an existing YAML run file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "<file>", f"<a byte 0x{raw[exc.start]:02x} at position {exc.start} that is not UTF-8>",
                          "UTF-8 text (save the file as UTF-8)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "<file>", "<invalid YAML>", f"valid YAML ({exc})") from None
    if data is None:
        raise ConfigError(str(path), "<file>", "<an empty file>",
                          "a run configuration: sections model, data, loss, optim, schedule, trainer, eval, runtime")
    if not isinstance(data, dict):
        raise ConfigError(str(path), "<top level>", type(data).__name__, "a mapping of sections (model, data, …)")
    return data


def dotted_get(tree: Any, dotted: str, default: Any = None) -> Any:
    """``tree["a"]["b"]`` for ``"a.b"``; ``default`` when a part is missing."""
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _prepare_override(source: str, tree: dict[str, Any], item: str) -> str:
    """Hydra's grammar: ``key=value``, ``+key=value`` (add), ``++key=value`` (add or replace), ``~key`` or
    ``~key=value`` (delete). A plain ``key=value`` for a key the file lacks is taken as an addition.
    ``data=FOLDER`` (a ``rsmif data simulate`` output) is handled before, by :func:`_data_folder`."""
    key, sep, _ = item.partition("=")
    if key.startswith("~"):
        return item
    if not sep or not key.lstrip("+"):
        raise ConfigError(source, item, item, "an override of the form key=value (or +key=value, ++key=value, ~key)")
    if key.startswith("+") or dotted_get(tree, key, _MISSING) is not _MISSING:
        return item
    return "+" + item


def _data_folder(source: str, tree: dict[str, Any], folder: str) -> dict[str, Any]:
    """``data=FOLDER``: the four splits from the manifest of a ``rsmif data simulate`` folder, keeping each
    split's batching settings from the file."""
    from rsmif_core.data.errors import DataError
    from rsmif_core.data.manifest import dataset_sections

    try:
        sections = dataset_sections(folder)
    except DataError as exc:
        raise ConfigError(source, "data", folder, f"a folder written by `rsmif data simulate` ({exc.message})") from None
    configured = tree.get("data")
    data = {}
    for split, section in sections.items():
        kept = configured.get(split) if isinstance(configured, dict) else None
        batching = {k: v for k, v in kept.items() if k not in ("name", "args")} if isinstance(kept, dict) else {}
        data[split] = {**batching, **section}
    return {**tree, "data": data}


def _apply_overrides(source: str, tree: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    folders = [item.partition("=")[2] for item in overrides if item.startswith("data=")]
    if folders:
        tree = _data_folder(source, tree, folders[-1])
        overrides = [item for item in overrides if not item.startswith("data=")]
    if not overrides:
        return tree
    from hydra.errors import HydraException
    from hydra_zen import launch
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    prepared = [_prepare_override(source, tree, item) for item in overrides]
    try:
        job = launch(OmegaConf.create(tree), lambda cfg: cfg, overrides=prepared + _HYDRA_QUIET, version_base="1.3")
        composed = OmegaConf.to_container(job.return_value, resolve=True)
    except (HydraException, OmegaConfBaseException) as exc:
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


def _pydantic_problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "union"))]
        key = ".".join(loc)
        if err["type"] == "extra_forbidden":
            known = _fields_at(err["loc"][:-1])
            expected = f"no such key.{did_you_mean(str(err['loc'][-1]), known)} Known keys here: {', '.join(known)}"
            problems.append(Problem(key, err.get("input"), expected))
        elif err["type"] == "missing":
            problems.append(Problem(key, "<missing>", "this key to be set"))
        else:
            expected = err["msg"].replace("Input should be", "a value that is").lower()
            problems.append(Problem(key, err.get("input"), expected))
    return problems


class _Checker:
    """Collects every problem of the registered names, constructor arguments and paths of a config."""

    def __init__(self, check_paths: bool) -> None:
        self.check_paths = check_paths
        self.problems: list[Problem] = []

    def name(self, key: str, kind: str, name: str) -> Entry | None:
        from rsmif_core.plugins.manager import registry

        try:
            return registry().get(kind, name)
        except RegistryError as exc:
            detail = str(exc).split(". ", 1)[-1]
            self.problems.append(Problem(key, name, f"a registered {SINGULAR[kind]} name. {detail}"))
            return None

    def args(self, key: str, entry: Entry, args: dict[str, Any], derived: Sequence[str] = ()) -> None:
        """Every key of ``args`` is an argument of the factory (did-you-mean otherwise), every required
        argument is given, and the paths among them exist."""
        what = f"{SINGULAR[entry.kind]} {entry.name!r}"
        for name in args:
            if name in derived:
                self.problems.append(Problem(f"{key}.{name}", args[name], "nothing: it is taken from the data"))
        accepted = accepted_arguments(entry.factory, derived)
        if accepted is not None:
            for name in args:
                if name not in accepted and name not in derived:
                    self.problems.append(Problem(f"{key}.{name}", args[name],
                                                 f"an argument of {what}.{did_you_mean(name, accepted)} "
                                                 f"It accepts: {', '.join(accepted) or 'no arguments'}"))
            for name in _required_arguments(entry.factory, derived):
                if name not in args:
                    self.problems.append(Problem(f"{key}.{name}", "<missing>", f"this argument of {what} to be set"))
        for name, value in args.items():
            looks_like_path = name in PATH_ARG_NAMES or name.endswith(("_path", "_file", "_dir"))
            if self.check_paths and looks_like_path and isinstance(value, str) and value and not Path(value).exists():
                self.problems.append(Problem(f"{key}.{name}", value, "an existing file or folder" + _source_hint(entry)))


def _source_hint(entry: Entry) -> str:
    """Where a dataset's files come from, when its class says (its ``source`` attribute)."""
    source = getattr(entry.factory, "source", None)
    return f" ({entry.name} data: get it from {source})" if isinstance(source, str) and source else ""


def _required_arguments(factory: Any, derived: Sequence[str]) -> list[str]:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return []
    plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [n for n, p in params.items()
            if p.kind in plain and p.default is inspect.Parameter.empty and n != "self" and n not in derived]


def _dataset_task(entry: Entry, args: dict[str, Any]) -> str | None:
    """The task a dataset section feeds: its ``task`` argument, or the one task its dataset serves."""
    task = args.get("task")
    if isinstance(task, str):
        return task
    return entry.tasks[0] if len(entry.tasks) == 1 else None


def registry_problems(cfg: RunConfig, check_paths: bool = True) -> list[Problem]:
    """Every problem with the registered names, constructor arguments and paths in the config, and with the
    pairing of the model and the task of its data."""
    check = _Checker(check_paths)
    model = check.name("model.name", "models", cfg.model.name)
    if model is not None:
        check.args("model.args", model, cfg.model.args, DATA_DERIVED)
    for split in ("train", "val", "test", "test_fr"):
        section = getattr(cfg.data, split)
        if section is None:
            continue
        dataset = check.name(f"data.{split}.name", "datasets", section.name)
        if dataset is None:
            continue
        check.args(f"data.{split}.args", dataset, section.args)
        task = _dataset_task(dataset, section.args)
        if model is not None and task is not None and model.tasks and task not in model.tasks:
            check.problems.append(Problem("model.name", cfg.model.name,
                                          f"a model for the task {task!r} of data.{split}; {cfg.model.name!r} "
                                          f"supports {', '.join(model.tasks)}"))
    loss = check.name("loss.name", "losses", cfg.loss.name)
    if loss is not None:
        check.args("loss.args", loss, cfg.loss.args)
    for group in ("rr_metrics", "fr_metrics", "val_metrics"):
        for i, metric in enumerate(getattr(cfg.eval, group)):
            check.name(f"eval.{group}[{i}]", "metrics", metric)
    best = cfg.trainer.best_metric
    # validation data without reference is scored with eval.fr_metrics (unless val_metrics is set)
    if best is not None and best != "loss" and best not in cfg.eval.val_metrics + cfg.eval.fr_metrics:
        check.problems.append(Problem(
            "trainer.best_metric", best, f"'loss' or one of eval.val_metrics: {', '.join(cfg.eval.val_metrics)} "
            f"(validation data without reference: eval.fr_metrics: {', '.join(cfg.eval.fr_metrics)})"))
    return check.problems


def load_config(
    path: str | Path, overrides: Sequence[str] = (), check_registry: bool = True, check_paths: bool = True
) -> RunConfig:
    """Read, compose and validate a run file (or shipped config name); raise :class:`ConfigError` listing
    every problem.

    ``check_paths=False`` validates everything but the existence of data files (configs for
    collections that are downloaded separately).
    """
    name, path = str(path), resolve_config(path)
    source = (str(path) if path == Path(name) else f"{name} ({path})") + (" (with command-line overrides)" if overrides else "")
    return config_from_tree(_read_yaml(path), source, overrides, check_registry, check_paths)


def config_from_tree(tree: dict[str, Any], source: str, overrides: Sequence[str] = (), check_registry: bool = True,
                     check_paths: bool = True) -> RunConfig:
    """A run configuration from a plain tree (what a command assembles) with ``overrides``, checked as a file is;
    ``source`` names it in messages."""
    tree = _apply_overrides(source, tree, overrides)
    try:
        cfg = RunConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError.of(source, _pydantic_problems(exc)) from None
    if check_registry:
        problems = registry_problems(cfg, check_paths)
        if problems:
            raise ConfigError.of(source, problems)
    cfg._source = source
    return cfg


def to_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
