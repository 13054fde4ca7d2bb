"""Resume is bit-exact; signals checkpoint and exit 130/143; bad checkpoints, NaN loss and a full disk are clear errors."""

from __future__ import annotations

import errno
import json
import pickle
import signal
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from test_train_kit import kit, kit_config, write_config  # noqa: F401  (kit is a fixture)

from rsmif_core.cli import cli


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "model.safetensors"))


def assert_bit_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def small(run_dir: Path, **trainer: object) -> dict:
    cfg = kit_config(run_dir)
    cfg["trainer"] = {**cfg["trainer"], "log_images": False, **trainer}
    return cfg


def test_n_steps_then_resume_n_steps_equals_2n_steps(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    # 8 images, batch 2: 4 batches per epoch; 3 steps stop mid-epoch, so the resume skips 3 seen batches
    whole = write_config(tmp_path / "whole.yaml", small(tmp_path / "whole", max_steps=6, checkpoint_every=100))
    assert run(["run", str(whole)])[0] == 0
    half = write_config(tmp_path / "half.yaml", small(tmp_path / "half", max_steps=3, checkpoint_every=100))
    assert run(["run", str(half)])[0] == 0
    code, out = run(["run", str(half), "trainer.max_steps=6", "--resume"])
    assert code == 0, out
    assert "resumed from" in out and "step 3" in out and "batch 3 of the epoch" in out
    assert_bit_identical(weights(tmp_path / "whole"), weights(tmp_path / "half"))


def test_sigterm_checkpoints_exits_143_and_resume_is_bit_exact(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    # 12 images, batch 2, 2 batches per optimizer step: 3 steps per epoch. SIGTERM arrives during the
    # 3rd forward (first half of step 2); the run finishes step 2, saves it (mid-epoch) and exits 143.
    def config(name: str, at: int) -> Path:
        cfg = small(tmp_path / name, max_steps=6, grad_accum_steps=2, checkpoint_every=100)
        cfg["data"]["train"]["args"]["count"] = 12
        cfg["loss"] = {"name": "kit_signal", "args": {"at": at, "signum": int(signal.SIGTERM)}}
        return write_config(tmp_path / f"{name}.yaml", cfg)

    assert run(["run", str(config("whole", at=10**6))])[0] == 0
    stopped = config("stopped", at=3)
    code, out = run(["run", str(stopped)])
    assert code == 143, out
    assert "stopped by signal at step 2" in out
    assert (tmp_path / "stopped" / "checkpoints" / "step_00000002" / "model.safetensors").is_file()
    assert not (tmp_path / "stopped" / "model.safetensors").exists()
    code, out = run(["run", str(stopped), "loss.args.at=1000000", "--resume"])
    assert code == 0, out
    assert "batch 4 of the epoch" in out
    assert_bit_identical(weights(tmp_path / "whole"), weights(tmp_path / "stopped"))


def test_sigint_exits_130(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    cfg = small(tmp_path / "run", max_steps=6)
    del cfg["data"]["val"]
    cfg["loss"] = {"name": "kit_signal", "args": {"at": 2, "signum": int(signal.SIGINT)}}
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
    assert code == 130, out
    assert (tmp_path / "run" / "checkpoints" / "step_00000002").is_dir()


def test_nan_loss_names_the_step_and_keeps_the_last_good_checkpoint(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    cfg = small(tmp_path / "run", max_steps=6, log_every=4, val_every=100)
    cfg["loss"] = {"name": "kit_nan", "args": {"after": 3}}
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
    assert code == 3, out
    assert "NaN or infinite at step 3" in out and "step_00000002" in out
    ckpts = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert ckpts == ["step_00000002"]
    assert not (tmp_path / "run" / "model.safetensors").exists()
    good = load_file(str(tmp_path / "run" / "checkpoints" / "step_00000002" / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in good.values())


def test_full_disk_on_save_keeps_the_previous_checkpoint(kit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from accelerate import Accelerator

    real = Accelerator.save_state
    calls = {"n": 0}

    def failing(self: Accelerator, output_dir: str, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            (Path(output_dir) / "model.safetensors").write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, output_dir, **kwargs)

    monkeypatch.setattr(Accelerator, "save_state", failing)
    cfg = small(tmp_path / "run", max_steps=6, val_every=100)
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
    assert code == 1, out
    assert "No space left on device" in out and "step_00000002" in out and "intact" in out
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["step_00000002"]  # no half-written folder left, the good one untouched
    load_file(str(tmp_path / "run" / "checkpoints" / "step_00000002" / "model.safetensors"))


def test_resume_refuses_missing_foreign_and_tampered_checkpoints(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    cfg_path = write_config(tmp_path / "cfg.yaml", small(tmp_path / "run", max_steps=2, val_every=100))
    code, out = run(["run", str(cfg_path), "--resume"])
    assert code == 2 and "does not exist" in out and not (tmp_path / "run").exists()
    (tmp_path / "run").mkdir()
    code, out = run(["run", str(cfg_path), "--resume"])
    assert code == 2 and "no checkpoint found" in out

    assert run(["run", str(cfg_path)])[0] == 0
    code, out = run(["run", str(cfg_path), "--resume", "data.train.args.bands=5", "trainer.max_steps=4"])
    assert code == 2 and "checkpoint of another model" in out and "spectral_bands 4 (configured: 5)" in out
    code, out = run(["run", str(cfg_path), "--resume", "model.args.channels=[16,8]", "trainer.max_steps=4"])
    assert code == 2 and "checkpoint of another model" in out and "argument channels [8, 8] (configured: [16, 8])" in out

    class Payload:
        def __reduce__(self) -> tuple:
            return (print, ("this must never run",))

    folder = tmp_path / "run" / "checkpoints" / "step_00000002"
    state_file = folder / "custom_checkpoint_0.pkl"
    torch.save({"epoch": 0, "step": 2, "trap": Payload()}, state_file)
    code, out = run(["run", str(cfg_path), "--resume", "trainer.max_steps=4"])
    flat = " ".join(out.split())
    assert code == 2 and "skipped a damaged checkpoint" in flat and "custom_checkpoint_0.pkl has" in flat
    assert "no intact checkpoint" in flat
    # even with a manifest forged to match, the pickle gadget is refused before Accelerate's loader sees it
    from rsmif_core.training.checkpoints import META_FILE, file_manifest

    meta = json.loads((folder / META_FILE).read_text())
    meta["files"] = file_manifest(folder)
    (folder / META_FILE).write_text(json.dumps(meta))
    code, out = run(["run", str(cfg_path), "--resume", "trainer.max_steps=4"])
    assert code == 2 and "refused to load" in out and "custom_checkpoint_0.pkl" in out
    assert "this must never run" not in out
    assert pickle  # the payload above is a pickle gadget; the check must stop it before Accelerate's loader
