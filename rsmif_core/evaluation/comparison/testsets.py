"""Group test folders into test sets (one per resolution) and give every method a unique name.

Folders of one kind (rr or fr) must come from one test set: the same dataset name, arguments, image ids,
sensor, ratio and scale. Reduced- and full-resolution folders are two test sets, so two tables.

A method is named by its model (``per_image.json``'s ``model``). Where one resolution has several folders of
one model, the arguments that differ between them are added (``pnn (width=64)``); where even those agree (two
trainings of one configuration), the folder's name is (``pnn (run_a)``; a default ``<run>/test_rr`` folder
gives the run's name, so a run's rr and fr tests keep one name); where that agrees too, the folder's path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rsmif_core.errors import UsageError
from rsmif_core.evaluation.comparison.folders import IDENTITY, ScoredFolder

KINDS = {"rr": "reduced resolution", "fr": "full resolution"}


@dataclass(frozen=True)
class Method:
    name: str
    folder: ScoredFolder


@dataclass(frozen=True)
class TestSet:
    """The methods scored on one test set at one resolution, in the order their folders were given."""

    kind: str
    dataset: dict[str, Any]
    methods: list[Method]

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.dataset["ids"]]

    @property
    def metrics(self) -> list[str]:
        """Every metric any method was scored with, in the order they first appear."""
        names: dict[str, None] = {}
        for method in self.methods:
            names.update(dict.fromkeys(method.folder.metrics))
        return list(names)

    @property
    def directions(self) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for method in self.methods:
            for metric, higher in method.folder.directions.items():
                out.setdefault(metric, higher)
        return out

    @property
    def title(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in sorted(self.dataset["args"].items()))
        return (f"{self.dataset['name']}{f' ({args})' if args else ''}, {KINDS[self.kind]}, "
                f"{len(self.ids)} image{'s' if len(self.ids) != 1 else ''}")


def _difference(key: str, first: Any, second: Any) -> str:
    if key == "ids":
        a, b = [str(i) for i in first], [str(i) for i in second]
        if len(a) != len(b):
            return f"{len(a)} images in the first, {len(b)} in the second"
        i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), 0)
        return f"image {i + 1} is {a[i]!r} in the first and {b[i]!r} in the second"
    return f"{key} is {first!r} in the first and {second!r} in the second"


def check_same_test_set(first: ScoredFolder, other: ScoredFolder) -> None:
    """A usage error naming both folders and what differs when they were not scored on one test set."""
    for key in IDENTITY:
        a, b = first.dataset.get(key), other.dataset.get(key)
        if _canonical(a) != _canonical(b):
            raise UsageError(
                f"{first.path} and {other.path} were tested on different {KINDS[first.kind]} test sets: the dataset's "
                f"{_difference(key, a, b)}. A report compares methods on "
                "one test set per resolution; make one report per test set")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _label(folder: ScoredFolder) -> str:
    """A folder's own name, or its run's name for a default ``<run>/test_<kind>`` folder."""
    path = folder.path.resolve() if folder.path.name in ("", ".", "..") else folder.path
    if path.name.startswith("test_") and path.parent.name:
        return path.parent.name
    return path.name


def method_names(folders: list[ScoredFolder]) -> list[str]:
    """One name per folder (see the module's docstring): the model, plus what tells apart folders of one model
    and one kind."""
    names = [f.model for f in folders]
    for model in dict.fromkeys(names):
        members = [i for i, f in enumerate(folders) if f.model == model]
        kinds = [folders[i].kind for i in members]
        if len(set(kinds)) == len(kinds):
            continue  # at most one folder of this model per test set: its name is enough
        arguments = [folders[i].arguments for i in members]
        keys = sorted({k for a in arguments for k in a})
        differing = [k for k in keys if len({_canonical(a.get(k)) for a in arguments}) > 1]
        parts = [[f"{k}={a[k]}" if k in a else f"no {k}" for k in differing] for a in arguments]
        for i, shown, kind in zip(members, parts, kinds):
            if sum(other == shown and k == kind for other, k in zip(parts, kinds)) > 1:
                shown = [*shown, _label(folders[i])]
            names[i] = f"{model} ({', '.join(shown)})" if shown else model
    return names


def group_test_sets(folders: list[ScoredFolder]) -> list[TestSet]:
    """The test sets of ``folders``, reduced resolution first; folders of one kind from different test sets are a
    usage error."""
    names = method_names(folders)
    sets = []
    for kind in KINDS:
        members = [(n, f) for n, f in zip(names, folders) if f.kind == kind]
        if not members:
            continue
        first = members[0][1]
        for _, other in members[1:]:
            check_same_test_set(first, other)
        counts: dict[str, int] = {}
        for name, _ in members:
            counts[name] = counts.get(name, 0) + 1
        # the same model, arguments and folder name: only the paths tell the folders apart
        methods = [Method(f"{name} [{folder.path}]" if counts[name] > 1 else name, folder) for name, folder in members]
        sets.append(TestSet(kind, first.dataset, methods))
    return sets
