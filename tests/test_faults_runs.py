"""Faults during training and testing, injected for real: a disk that fills up (a small tmpfs where this
process may mount one, else a writer made to fail with ENOSPC), truncated checkpoints, kill -9 in the middle
of a save, NaN in the data, divergence. Each test checks the exit status, the message, and that every file
the user had is byte-identical afterwards."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from test_train_kit import fill_disk, kit, kit_config, kit_env, write_config, write_kit_distribution  # noqa: F401

from rsmif_core.cli import cli


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones included) and the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def small(run_dir: Path, **trainer: object) -> dict:
    cfg = kit_config(run_dir)
    cfg["trainer"] = {**cfg["trainer"], "log_images": False, **trainer}
    return cfg


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 4 MiB tmpfs mounted on a folder when this process may mount (root on Linux); None otherwise."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0:
        yield None
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_disk_full_during_a_checkpoint_keeps_the_previous_one_and_resume_continues(
        kit: Path, tmp_path: Path, small_disk: Path | None, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    run_dir = (small_disk or tmp_path) / "run"
    filler = (small_disk or tmp_path) / "filler.bin"
    cfg = small(run_dir, max_steps=6, val_every=100, checkpoint_every=2, log_every=1)
    cfg["data"].pop("val")
    if small_disk is not None:  # the disk really fills up during step 3; the checkpoint of step 4 fails
        cfg["loss"] = {"name": "kit_fill_disk", "args": {"at": 3, "target": str(filler)}}
    else:
        import rsmif_core.training.checkpoints as checkpoints

        original = checkpoints.CheckpointManager.save

        def failing(self: checkpoints.CheckpointManager, name: str, meta: dict) -> Path:
            if name == "step_00000004":
                self._save_state = lambda d: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))
            return original(self, name, meta)

        monkeypatch.setattr(checkpoints.CheckpointManager, "save", failing)
    config = write_config(tmp_path / "cfg.yaml", cfg)
    code, out = run(["run", str(config)])
    assert code == 1, out
    assert "could not write checkpoint" in out and "No space left on device" in out
    assert "step_00000002 is intact" in out and "Traceback" not in out
    checkpoints_dir = run_dir / "checkpoints"
    assert sorted(p.name for p in checkpoints_dir.iterdir()) == ["step_00000002"]  # no .tmp- left behind
    filler.unlink(missing_ok=True)  # space again
    resume = ["run", str(config), "--resume"] + (["loss.name=l1", "~loss.args"] if small_disk is not None else [])
    code, out = run(resume)
    assert code == 0, out
    assert "resumed from" in out and "step_00000002" in out and "step 2" in out  # it verified and loaded
    assert (run_dir / "model.safetensors").is_file()


def test_resume_skips_a_truncated_newest_checkpoint_and_stays_bit_exact(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    whole = write_config(tmp_path / "whole.yaml", small(tmp_path / "whole", max_steps=6, checkpoint_every=100))
    assert run(["run", str(whole)])[0] == 0
    part = write_config(tmp_path / "part.yaml", small(tmp_path / "part", max_steps=4, checkpoint_every=2, keep_last=3))
    assert run(["run", str(part)])[0] == 0
    newest = tmp_path / "part" / "checkpoints" / "step_00000004" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # what a crash mid-copy leaves
    code, out = run(["run", str(part), "trainer.max_steps=6", "--resume"])
    assert code == 0, out
    assert "skipped a damaged checkpoint" in out and "step_00000004" in out and "truncated" in out
    assert "resumed from" in out and "step 2" in out
    a, b = load_file(str(tmp_path / "whole" / "model.safetensors")), load_file(str(tmp_path / "part" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_kill_9_in_the_middle_of_a_checkpoint_leaves_the_previous_one_intact(tmp_path: Path) -> None:
    root = write_kit_distribution(tmp_path / "site")
    run_dir = tmp_path / "run"
    cfg = small(run_dir, max_steps=400, val_every=1000, checkpoint_every=1, keep_last=2, log_every=1000)
    config = write_config(tmp_path / "cfg.yaml", cfg)
    env = kit_env(root)
    proc = subprocess.Popen([sys.executable, "-m", "rsmif_core.cli", "run", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = run_dir / "checkpoints"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # a complete checkpoint exists and the next one is being written
            if list(checkpoints.glob("step_*")) and list(checkpoints.glob(".tmp-step_*")):
                break
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    resumed = subprocess.run([sys.executable, "-m", "rsmif_core.cli", "run", str(config), "--resume",
                              "trainer.max_steps=401", "trainer.checkpoint_every=1000"],
                             env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout and (run_dir / "model.safetensors").is_file()


def test_nan_in_the_data_stops_training_naming_the_item(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    cfg = small(tmp_path / "run", max_steps=8, checkpoint_every=2, val_every=100, log_every=1)
    cfg["data"]["train"]["args"].update(nan_item=5)
    cfg["data"]["train"]["shuffle"] = False
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
    assert code == 3, out
    assert "the loss became NaN or infinite at step 3" in out and "scene/005" in out
    assert "last good checkpoint" in out and "step_00000002" in out
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_a_diverging_run_stops_and_nothing_diverged_is_saved_as_best(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    cfg = small(tmp_path / "run", max_steps=40, checkpoint_every=100, val_every=1, log_every=1)
    cfg["optim"] = {"name": "sgd", "lr": 1e6}
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
    assert code == 3, out
    assert "validation loss at step 1" in out and "diverged" in out and "Lower optim.lr" in out
    assert not (tmp_path / "run" / "model.safetensors").exists()
    assert not (tmp_path / "run" / "checkpoints" / "best").exists()  # the diverged model was never kept
    # without validation the training loss itself gives it away
    cfg["data"].pop("val")
    cfg["trainer"]["output_dir"] = str(tmp_path / "run2")
    code, out = run(["run", str(write_config(tmp_path / "cfg2.yaml", cfg))])
    assert code == 3, out
    assert ("the loss diverged at step" in out and "trainer.divergence_factor" in out) or "NaN or infinite" in out
    assert "the batch held scene/" in out and not (tmp_path / "run2" / "model.safetensors").exists()


def test_test_outputs_survive_a_failed_export(kit: Path, tmp_path: Path, small_disk: Path | None,  # noqa: F811
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "run"
    cfg = small(run_dir, max_steps=2, val_every=100, checkpoint_every=100)
    cfg["data"]["test"] = {"name": "kit_scenes", "args": {"count": 3, "seed": 7, "georeferenced": True, "size": 64}}
    config = write_config(tmp_path / "cfg.yaml", cfg)
    assert run(["run", str(config)])[0] == 0
    out = (small_disk or tmp_path) / "out"
    code, text = run(["test", str(run_dir), "--save", "tif", "--out", str(out)])
    assert code == 0, text
    before = fingerprint(out)
    assert any(name.endswith(".tif") for name in before)
    if small_disk is not None:  # leave no room on the disk
        fill_disk(small_disk / "filler.bin")
    else:  # the writer's own write fails as a full disk makes it fail
        import rsmif_core.evaluation.export as export

        real = export.atomic_write

        def failing(path: Path, write, verify=None, mode=None):  # type: ignore[no-untyped-def]
            def broken(tmp: Path) -> None:
                write(tmp)
                raise OSError(errno.ENOSPC, "No space left on device")

            return real(path, broken, verify, mode)

        monkeypatch.setattr(export, "atomic_write", failing)
    code, text = run(["test", str(run_dir), "--save", "tif", "--dtype", "float32", "--out", str(out), "--overwrite"])
    assert code == 1, text
    assert "No space left on device" in text and "Traceback" not in text
    assert fingerprint(out) == before  # the earlier test is byte-identical; no staging folder left


def test_new_files_follow_the_umask(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    previous = os.umask(0o022)
    try:
        run_dir = tmp_path / "run"
        cfg = small(run_dir, max_steps=2, val_every=100, checkpoint_every=100)
        cfg["data"]["test"] = {"name": "kit_scenes", "args": {"count": 2, "seed": 7}}
        assert run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])[0] == 0
        code, text = run(["test", str(run_dir), "--save", "mat", "--out", str(tmp_path / "t")])
        assert code == 0, text
    finally:
        os.umask(previous)
    written = [run_dir / "model.safetensors", run_dir / "config.yaml", run_dir / "metrics.json",
               tmp_path / "t" / "per_image.csv", tmp_path / "t" / "per_image.json",
               *(tmp_path / "t" / "images").iterdir()]
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {"0o644"}


def test_a_pickled_pth_is_refused_with_how_to_convert_it(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    run_dir = tmp_path / "run"
    cfg = small(run_dir, max_steps=2, val_every=100, checkpoint_every=100)
    cfg["data"]["test"] = {"name": "kit_scenes", "args": {"count": 2, "seed": 7}}
    config = write_config(tmp_path / "cfg.yaml", cfg)
    assert run(["run", str(config)])[0] == 0
    pth = tmp_path / "model.pth"
    torch.save({"net": torch.nn.Linear(2, 2)}, pth)  # a whole module: unpickling it would run code
    code, text = run(["test", str(config), "--checkpoint", str(pth), "--out", str(tmp_path / "o")])
    assert code == 2 and "not a loadable state_dict" in text and "torch.save(model.state_dict()" in text
    assert "weights_only=False" not in text


def test_data_info_checks_every_item_for_nan_and_no_data(tmp_path: Path) -> None:
    from data.fixtures import PAN_KEYS, fusion_arrays, write_h5

    arrays = fusion_arrays(n=40, bands=4, size=16)
    arrays["pan"][25, 0, 3, 3] = float("nan")  # far from the items a sample of 8 would read
    arrays["gt"][31] = 0.0  # an item without data
    path = write_h5(tmp_path / "train_wv3.h5", arrays, PAN_KEYS)
    before = fingerprint(tmp_path)
    code, out = run(["data", "info", str(path)])
    assert code == 1, out
    assert "key 'pan': 1 items hold NaN or infinite values (items 25)" in out
    assert "key 'gt': 1 items hold no data (all zero: items 31)" in out
    assert "every one of 40 items checked" in out
    code, out = run(["data", "info", str(path), "--sample", "4"])  # a quick look says what it checked
    assert "4 of 40 items checked" in out
    assert fingerprint(tmp_path) == before
