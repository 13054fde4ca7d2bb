"""runtime.cpu_memory: ``reuse`` keeps freed CPU buffers in the process (no fresh page faults for the next large
tensor), ``release`` (the default) leaves the C library as it is; a misspelt value is refused by name."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rsmif_core.config import ConfigError, load_config

# Twelve 128 MiB tensors, one after the other; the page faults of each allocation and first touch, in a fresh
# process (the setting is process-wide).
_FAULTS = textwrap.dedent("""
    import json, resource, sys
    import torch
    from rsmif_core.config.schema import RuntimeSection
    from rsmif_core.run.build import apply_runtime

    apply_runtime(RuntimeSection(cpu_memory=sys.argv[1]))
    faults = []
    for _ in range(12):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        x = torch.ones(32 << 20)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        del x
    print(json.dumps(faults))
""")
PAGES = (128 << 20) // 4096


def _faults(setting: str) -> list[int]:
    out = subprocess.run([sys.executable, "-c", _FAULTS, setting], capture_output=True, text=True, check=True).stdout
    faults: list[int] = json.loads(out.strip().splitlines()[-1])
    return faults


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's allocator")
def test_reuse_takes_large_tensors_from_freed_memory_and_release_does_not() -> None:
    released, reused = _faults("release"), _faults("reuse")
    # the default gives every 128 MiB block back, so each new one is paged in again (or nearly, with huge pages)
    assert all(f > PAGES // 600 for f in released), released
    # reuse: after a few calls (PyTorch's aligned blocks need the heap to settle) no new pages at all
    assert sum(reused[-5:]) < PAGES // 100 < sum(released[-5:]), (released, reused)


def test_a_misspelt_setting_is_refused_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model:\n  name: pnn\ntrainer:\n  epochs: 1\n", encoding="utf-8")
    assert load_config(cfg, []).runtime.cpu_memory == "release"
    assert load_config(cfg, ["runtime.cpu_memory=reuse"]).runtime.cpu_memory == "reuse"
    with pytest.raises(ConfigError) as info:
        load_config(cfg, ["runtime.cpu_memory=resue"])
    assert info.value.key == "runtime.cpu_memory" and "reuse" in info.value.expected and "release" in info.value.expected
