"""Name -> factory tables for models, datasets, losses, metrics, commands and shipped configs.

A name belongs to the first plugin that registers it (the core's built-ins register first); a later
plugin registering the same name is refused, and the clash is recorded so that ``rsmif plugins`` can
show it and the message can say which one is active.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rsmif_core.errors import UsageError

KINDS: tuple[str, ...] = ("models", "datasets", "losses", "metrics", "commands", "configs")
SINGULAR = {"models": "model", "datasets": "dataset", "losses": "loss", "metrics": "metric", "commands": "command",
            "configs": "config"}


class RegistryError(UsageError, LookupError):
    """An unknown registered name, or an unknown kind."""


@dataclass(frozen=True)
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

    @property
    def origin(self) -> str:
        return f"{self.distribution} (plugin {self.plugin})"


@dataclass(frozen=True)
class Clash:
    """A name registered twice: the first registration stays active, the second was refused."""

    kind: str
    name: str
    active: Entry
    refused: Entry

    def message(self) -> str:
        return (f"{SINGULAR[self.kind]} name {self.name!r} is registered by both {self.active.origin} and "
                f"{self.refused.origin}; {self.active.origin} stays active and {self.refused.distribution}'s "
                f"{SINGULAR[self.kind]} is not available under that name (rename it in {self.refused.distribution})")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise RegistryError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


class Registry:
    """The tables of every kind. ``fill(kind)`` is called once, before a kind is first read (lazy loading)."""

    def __init__(self, fill: Callable[[str], None] | None = None) -> None:
        self._tables: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self._clashes: list[Clash] = []
        self._fill = fill
        self._filled: set[str] = set()

    def _table(self, kind: str) -> dict[str, Entry]:
        check_kind(kind)
        if kind not in self._filled:
            self._filled.add(kind)
            if self._fill is not None:
                self._fill(kind)
        return self._tables[kind]

    def add(self, entry: Entry) -> Clash | None:
        """Add ``entry``; when its name is taken, keep the first and return the recorded clash."""
        table = self._tables[entry.kind]
        active = table.get(entry.name)
        if active is not None:
            clash = Clash(entry.kind, entry.name, active, entry)
            self._clashes.append(clash)
            return clash
        table[entry.name] = entry
        return None

    def names(self, kind: str) -> list[str]:
        return sorted(self._table(kind))

    def entries(self, kind: str) -> list[Entry]:
        table = self._table(kind)
        return [table[n] for n in sorted(table)]

    def find(self, kind: str, name: str) -> Entry | None:
        return self._table(kind).get(name)

    def get(self, kind: str, name: str) -> Entry:
        entry = self.find(kind, name)
        if entry is None:
            raise RegistryError(unknown_message(kind, name, self.names(kind)))
        return entry

    def clashes(self) -> list[Clash]:
        for kind in KINDS:
            self._table(kind)
        return list(self._clashes)


def unknown_message(kind: str, name: str, known: list[str]) -> str:
    listing = ", ".join(known) if known else "none"
    return f"unknown {SINGULAR[kind]} {name!r}.{did_you_mean(name, known)} Registered {kind}: {listing}"
