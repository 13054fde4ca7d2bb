"""``rsmif new method NAME``: generate a method plugin from the shipped cookiecutter template.

The template lives inside the package (``rsmif_core/templates/method-plugin``) so an installed
``rsmif`` can scaffold without the repository; ``templates/method-plugin`` in the repository is a
link to it, so ``cookiecutter templates/method-plugin`` works there too. Every name is checked here
*before* cookiecutter runs, so a bad name writes nothing; the template's own pre-generation hook
calls :func:`name_problems` again for the plain-cookiecutter path.
"""

from __future__ import annotations

import json
import keyword
import logging
import re
from dataclasses import dataclass
from importlib import metadata, resources, util
from pathlib import Path
from typing import Any

from rsmif_core.errors import RunFailure, UsageError
from rsmif_core.plugins.manager import normalise_distribution, registry
from rsmif_core.tasks import TASKS

TEMPLATE_NAME = "method-plugin"
LICENSES = ("Apache-2.0", "MIT", "BSD-3-Clause")
LOSS_CHOICES = ("own", "l1", "mse")
# Passed by ``rsmif new`` to the template's pre-generation hook (a private cookiecutter variable):
# the answers these names were already checked for.
CHECKED_KEY = "_rsmif_checked"

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
_DISTRIBUTION = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class PluginNames:
    """The names a generated plugin uses; all derive from the method name unless given."""

    method: str
    package: str
    distribution: str
    loss: str | None  # the plugin's own registered loss, or None when it uses a built-in one

    @classmethod
    def derive(
        cls, method: str, package: str | None = None, distribution: str | None = None, own_loss: bool = True
    ) -> PluginNames:
        return cls(
            method=method,
            package=package or f"rsmif_{method}",
            distribution=distribution or f"rsmif-{method.replace('_', '-')}",
            loss=f"{method}_loss" if own_loss else None,
        )


def template_dir() -> Path:
    """The template folder inside the installed package."""
    path = Path(str(resources.files("rsmif_core") / "templates" / TEMPLATE_NAME))
    if not (path / "cookiecutter.json").is_file():
        raise RunFailure(f"the method-plugin template is missing from the installation: {path}/cookiecutter.json")
    return path


def _suggest(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "net_" + cleaned
    return cleaned + "_net" if keyword.iskeyword(cleaned) else cleaned


def _installed_distribution(name: str) -> str | None:
    """'name version' of an installed distribution with this (normalised) name, else None."""
    wanted = normalise_distribution(name)
    for dist in metadata.distributions():
        found = dist.metadata["Name"]
        if found and normalise_distribution(found) == wanted:
            return f"{found} {dist.version}"
    return None


def _importable(package: str) -> str | None:
    """Where a top-level module/package of this name would be imported from, else None."""
    try:
        spec = util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin or ", ".join(spec.submodule_search_locations or []) or "a namespace package"


def _registered(kind: str, name: str) -> str | None:
    """'distribution (plugin p)' that registered this name, else None."""
    entry = registry().find(kind, name)
    return None if entry is None else entry.origin


def checked_token(names: PluginNames, tasks: str) -> str:
    """What the template's pre-generation hook compares to know these exact answers were checked."""
    return "|".join([names.method, names.package, names.distribution, names.loss or "", tasks])


def template_default(key: str) -> Any:
    """A variable's default in the template's cookiecutter.json (the first entry of a choice)."""
    value = json.loads((template_dir() / "cookiecutter.json").read_text(encoding="utf-8"))[key]
    return value[0] if isinstance(value, list) else value


def parse_tasks(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def name_problems(names: PluginNames, tasks: str | None = None, check_registry: bool = True) -> list[str]:
    """Every reason these names cannot be used, each a full sentence; empty when all is well."""
    problems: list[str] = []
    method = names.method
    if not _IDENTIFIER.fullmatch(method) or keyword.iskeyword(method):
        problems.append(
            f"method name {method!r} is not a valid name: use a lower-case Python identifier "
            f"(letters, digits, underscores, starting with a letter; not a keyword), e.g. {_suggest(method)!r}"
        )
    # A package or distribution name derived from a bad method name would only repeat the problem.
    derived = PluginNames.derive(method)
    bad_package = not names.package.isidentifier() or keyword.iskeyword(names.package) or names.package != names.package.lower()
    if bad_package and not (problems and names.package == derived.package):
        problems.append(f"package name {names.package!r} is not a lower-case Python identifier, e.g. 'rsmif_{_suggest(method)}'")
    if not _DISTRIBUTION.fullmatch(names.distribution) and not (problems and names.distribution == derived.distribution):
        problems.append(
            f"distribution name {names.distribution!r} is not a valid pip name (letters, digits, '.', '-', '_'; "
            "starting and ending with a letter or digit)"
        )
    if problems:  # the checks below need well-formed names
        return problems
    installed = _installed_distribution(names.distribution)
    if installed:
        problems.append(
            f"a distribution named {names.distribution!r} is already installed ({installed}); "
            f"choose another method name or 'pip uninstall {names.distribution}' first"
        )
    where = _importable(names.package)
    if where:
        problems.append(f"a Python package {names.package!r} is already importable (from {where}); choose another name")
    if tasks is not None:
        chosen = parse_tasks(tasks)
        unknown = [t for t in chosen if t not in TASKS]
        if not chosen or unknown:
            problems.append(
                f"tasks {tasks!r}: expected a comma-separated list of {', '.join(TASKS)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
    if check_registry:
        owner = _registered("models", method)
        if owner:
            problems.append(f"model name {method!r} is already registered by {owner}; choose another method name")
        if names.loss is not None:
            owner = _registered("losses", names.loss)
            if owner:
                problems.append(f"loss name {names.loss!r} is already registered by {owner}; choose another method name")
    return problems


def generate_method_plugin(
    method: str,
    output_dir: Path,
    no_input: bool = False,
    extra_context: dict[str, Any] | None = None,
) -> Path:
    """Check the names, then run the template; return the generated project folder.

    Raises :class:`~rsmif_core.errors.UsageError` (one line per problem) before anything is written when a
    name is unusable.
    """
    from cookiecutter.exceptions import CookiecutterException, FailedHookException, OutputDirExistsException
    from cookiecutter.main import cookiecutter

    context = {"method_name": method, **(extra_context or {})}
    names = PluginNames.derive(
        method,
        context.get("package_name"),
        context.get("project_slug"),
        own_loss=context.get("default_loss", template_default("default_loss")) == "own",
    )
    tasks = context.get("tasks", template_default("tasks"))
    problems = name_problems(names, tasks)
    target = output_dir / names.distribution
    if target.exists():
        problems.append(f"{target} already exists; choose another --output-dir or method name")
    if problems:
        raise UsageError("\n".join(problems))
    context[CHECKED_KEY] = checked_token(names, tasks)
    # Cookiecutter logs a failed hook with a traceback; the hook has already printed the reason.
    quiet = logging.NullHandler()
    cookiecutter_log = logging.getLogger("cookiecutter")
    cookiecutter_log.addHandler(quiet)
    try:
        project = cookiecutter(str(template_dir()), no_input=no_input, extra_context=context, output_dir=str(output_dir))
    except FailedHookException:  # names changed at the prompt
        raise UsageError("the template refused the answers given at the prompt (reason above); nothing was written") from None
    except OutputDirExistsException as exc:
        raise UsageError(f"{exc}; choose another --output-dir or name") from None
    except CookiecutterException as exc:
        raise UsageError(f"the template failed: {exc}") from None
    finally:
        cookiecutter_log.removeHandler(quiet)
    return Path(project)
