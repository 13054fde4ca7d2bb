"""Training checkpoints: written whole or not at all, rotated, checked against the model before loading.

A checkpoint is a folder made by ``Accelerator.save_state(safe_serialization=True)`` (model weights in
safetensors; optimizer, scheduler, RNG and the registered TrainState as small torch files) plus
``rsmif_checkpoint.json`` naming the model, its band counts and ratio. It is written into a hidden
temporary folder that is renamed only once complete, so a crash mid-write leaves the previous
checkpoint untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rsmif_core.errors import CheckpointError, RunFailure
from rsmif_core.io import describe_os_error
from rsmif_core.models.weights import describe_mismatch

META_FILE = "rsmif_checkpoint.json"
CHECKPOINTS_DIR = "checkpoints"
BEST = "best"
_STEP_DIR = re.compile(r"^step_(\d+)$")


def read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: not a complete RSMIF checkpoint ({META_FILE} is missing)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint description ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return meta


class CheckpointDamaged(CheckpointError):
    """A checkpoint whose files are missing, truncated or changed since it was written."""


def file_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file of a checkpoint folder (its description excepted)."""
    out = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name != META_FILE:
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            out[path.name] = {"size": path.stat().st_size, "sha256": digest.hexdigest()}
    return out


def check_files(folder: Path, meta: dict[str, Any]) -> None:
    """Raise :class:`CheckpointDamaged` when a file differs from the manifest written with the checkpoint."""
    expected = meta.get("files")
    if not isinstance(expected, dict):  # a checkpoint from before manifests: only the weights can be checked
        if not (folder / "model.safetensors").is_file():
            raise CheckpointDamaged(f"{folder}: model.safetensors is missing; the checkpoint is incomplete")
        return
    found = file_manifest(folder)
    for name, want in expected.items():
        got = found.get(name)
        if got is None:
            raise CheckpointDamaged(f"{folder}: {name} is missing; the checkpoint is incomplete")
        if got["size"] != want.get("size"):
            raise CheckpointDamaged(f"{folder}: {name} has {got['size']} bytes where {want.get('size')} were "
                                    "written (truncated or changed)")
        if got["sha256"] != want.get("sha256"):
            raise CheckpointDamaged(f"{folder}: {name} changed since it was written (checksum differs)")


def verify_checkpoint(folder: Path, expected: dict[str, Any]) -> dict[str, Any]:
    """Check a checkpoint folder is complete and unchanged, loadable without unpickling code, and fits the model."""
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    meta = read_meta(folder)
    mismatch = describe_mismatch(meta, expected)
    if mismatch:
        raise CheckpointError(f"{folder}: checkpoint of another model: {mismatch}")
    check_files(folder, meta)
    check_torch_files_are_plain(folder)
    return meta


def newest_intact(root: Path, expected: dict[str, Any]) -> tuple[Path | None, list[str]]:
    """The newest ``step_*`` checkpoint that verifies, and why each newer one was skipped."""
    skipped: list[str] = []
    for _, folder in reversed(step_dirs(root)):
        try:
            verify_checkpoint(folder, expected)
        except CheckpointDamaged as exc:
            skipped.append(exc.message)
            continue
        return folder, skipped
    return None, skipped


def check_torch_files_are_plain(folder: Path) -> None:
    """Open every torch-serialised file with ``weights_only=True`` first.

    Accelerate restores registered objects with ``weights_only=False``; a file that passes this check
    holds only tensors, numbers, strings, containers and numpy arrays (Accelerate's own allow-list for
    RNG states), so that later load cannot run foreign code.
    """
    from accelerate.utils.other import load as load_weights_only

    for path in sorted(folder.iterdir()):
        if path.suffix not in (".pkl", ".bin", ".pt", ".pth"):
            continue
        try:
            load_weights_only(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # any failure here means: do not unpickle it
            raise CheckpointError(
                f"{path}: refused to load: it is not a plain tensor/number file ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''})"
            ) from None


def step_dirs(root: Path) -> list[tuple[int, Path]]:
    """Complete ``step_*`` checkpoints under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / META_FILE).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = step_dirs(run_dir / CHECKPOINTS_DIR)
    return found[-1][1] if found else None


def step_of(path: Path | None) -> int | None:
    """The step of a ``step_<n>`` checkpoint folder (None for ``best`` or no folder)."""
    match = _STEP_DIR.match(path.name) if path is not None else None
    return int(match.group(1)) if match else None


def _fsync_tree(folder: Path) -> None:
    """Flush a finished checkpoint's files to disk before it is renamed into place."""
    for path in folder.iterdir():
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp``; an existing ``final`` is kept aside until the new one is in place."""
    if not final.exists():
        os.replace(tmp, final)
        return
    old = final.with_name(f".old-{final.name}")
    if old.exists():
        shutil.rmtree(old)
    os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def recover_interrupted_swaps(root: Path) -> None:
    """Put back a checkpoint set aside by a swap that crashed before the new one was renamed in."""
    if not root.is_dir():
        return
    for old in root.glob(".old-*"):
        final = root / old.name.removeprefix(".old-")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, final)


class CheckpointManager:
    """Saves ``step_<n>`` and ``best`` checkpoints under ``run_dir/checkpoints`` and keeps the last K.

    ``save_state`` writes into the temporary folder from every process (each one its RNG state); only the
    main process writes the description, renames and rotates. ``agree`` makes all processes take the same
    decision after a failure on any one of them, so none is left waiting in a collective.
    """

    def __init__(
        self,
        run_dir: Path,
        save_state: Callable[[str], Any],
        is_main: bool,
        barrier: Callable[[], None],
        agree: Callable[[bool], bool],
        keep_last: int,
    ) -> None:
        self.root = run_dir / CHECKPOINTS_DIR
        self._save_state = save_state
        self.is_main = is_main
        self._barrier = barrier
        self._agree = agree
        self.keep_last = keep_last
        if is_main:
            self.root.mkdir(parents=True, exist_ok=True)
            recover_interrupted_swaps(self.root)
        barrier()

    def agree(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on any (so all take the same decision)."""
        return self._agree(flag)

    def latest(self) -> Path | None:
        found = step_dirs(self.root)
        return found[-1][1] if found else None

    def save(self, name: str, meta: dict[str, Any]) -> Path:
        final = self.root / name
        tmp = self.root / f".tmp-{name}"
        failure: BaseException | None = None
        if self.is_main and tmp.exists():
            shutil.rmtree(tmp)
        self._barrier()
        try:
            self._save_state(str(tmp))
            if self.is_main:
                meta = {**meta, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": file_manifest(tmp)}
                (tmp / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
                _fsync_tree(tmp)
        except Exception as exc:  # torch and safetensors report a full disk as RuntimeError, not OSError
            failure = exc
        if self._agree(failure is not None):
            if self.is_main:
                shutil.rmtree(tmp, ignore_errors=True)
            previous = self.latest()
            reason = describe_os_error(failure) if failure is not None else "another process failed"
            kept = f"the last good checkpoint {previous} is intact" if previous else "no earlier checkpoint exists"
            raise RunFailure(f"could not write checkpoint {final}: {reason}; {kept}")
        if self.is_main:
            _swap_in(tmp, final)
            if name != BEST:
                self._rotate()
        self._barrier()
        return final

    def _rotate(self) -> None:
        found = step_dirs(self.root)
        for _, folder in found[: max(0, len(found) - self.keep_last)]:
            shutil.rmtree(folder, ignore_errors=True)
