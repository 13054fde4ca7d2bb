"""An interrupted ``rsmif predict`` (Ctrl-C, SIGTERM, kill -9) leaves nothing at the output path."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _scenes import make_run_folder, write_scene

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture(scope="module")
def slow_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A PNN prediction of a 512×512 scene in 256 small tiles: long enough (seconds) to interrupt midway."""
    root = tmp_path_factory.mktemp("interrupt")
    run = make_run_folder(root / "run", "pnn", spectral_bands=4, ratio=4)
    pan, ms = write_scene(root / "scene", 512, 512, ratio=4, bands=4)
    return root, [str(run), "--pan", str(pan), "--ms", str(ms), "--tile-size", "32", "--no-progress"]


def _default_sigint() -> None:
    # A shell's background job starts with SIGINT ignored, and Python then never installs its Ctrl-C handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str], out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rsmif_core.cli", "predict", *args, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def wait_for_temporary(out: Path, proc: subprocess.Popen[str], timeout: float = 120.0) -> Path:
    """The temporary file the run writes beside ``out``, once it exists and has grown."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in out.parent.glob(f".{out.name}.*.tmp") if p.stat().st_size > 0]
        if found:
            time.sleep(0.5)  # well inside the run (it takes several seconds)
            return found[0]
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no temporary output appeared")


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_removes_the_partial_file_and_keeps_the_earlier_output(slow_job: tuple[Path, list[str]],
                                                                        tmp_path: Path, sig: int, status: int) -> None:
    _, args = slow_job
    out = tmp_path / "fused.tif"
    out.write_bytes(b"the earlier result")
    proc = start([*args, "--overwrite"], out)
    wait_for_temporary(out, proc)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == status, stderr
    assert out.read_bytes() == b"the earlier result"
    assert [p.name for p in tmp_path.iterdir()] == ["fused.tif"]  # the temporary file is gone


def test_kill_9_leaves_nothing_at_the_output_path(slow_job: tuple[Path, list[str]], tmp_path: Path) -> None:
    _, args = slow_job
    out = tmp_path / "fused.tif"
    proc = start(args, out)
    temporary = wait_for_temporary(out, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert not out.exists()
    # SIGKILL allows no clean-up: the hidden temporary file beside it is all that remains
    assert [p.name for p in tmp_path.iterdir()] == [temporary.name] and temporary.name.startswith(".fused.tif.")

