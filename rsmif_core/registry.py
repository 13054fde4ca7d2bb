"""Name -> factory tables for models, datasets, losses, metrics and commands, filled by plugins."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

KINDS: tuple[str, ...] = ("models", "datasets", "losses", "metrics", "commands")
_SINGULAR = {"models": "model", "datasets": "dataset", "losses": "loss", "metrics": "metric", "commands": "command"}


class RegistryError(LookupError):
    """An unknown or ambiguous registered name."""


@dataclass
class Entry:
    """One registered thing and where it came from."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    distribution: str
    version: str
    description: str = ""
    tasks: tuple[str, ...] = ()


@dataclass
class Registry:
    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {k: {} for k in KINDS})
    conflicts: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)

    def add(self, entry: Entry) -> str | None:
        """Add an entry; return an error message if another plugin already registered the name."""
        table = self.entries[entry.kind]
        if entry.name in table or (entry.kind, entry.name) in self.conflicts:
            owners = self.conflicts.setdefault((entry.kind, entry.name), [table.pop(entry.name)] if entry.name in table else [])
            owners.append(entry)
            return conflict_message(entry.kind, entry.name, owners)
        table[entry.name] = entry
        return None

    def names(self, kind: str) -> list[str]:
        check_kind(kind)
        return sorted(set(self.entries[kind]) | {n for k, n in self.conflicts if k == kind})

    def get(self, kind: str, name: str) -> Entry:
        check_kind(kind)
        if (kind, name) in self.conflicts:
            raise RegistryError(conflict_message(kind, name, self.conflicts[(kind, name)]))
        try:
            return self.entries[kind][name]
        except KeyError:
            raise RegistryError(unknown_message(kind, name, self.names(kind))) from None


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def conflict_message(kind: str, name: str, owners: Iterable[Entry]) -> str:
    who = " and ".join(f"{e.distribution} (plugin {e.plugin})" for e in owners)
    return f"{_SINGULAR[kind]} name {name!r} is registered by both {who}; uninstall one of them"


def unknown_message(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(known) if known else "none"
    return f"unknown {_SINGULAR[kind]} {name!r}.{hint} Registered {kind}: {listing}"
