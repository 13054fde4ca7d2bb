"""The same config on two CPU processes (gloo, started by torchrun): no duplicated images, main-only writes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from test_train_kit import kit_config, kit_env, write_config, write_kit_distribution


def test_two_process_cpu_run_gathers_without_duplicates(tmp_path: Path) -> None:
    site = write_kit_distribution(tmp_path / "site")
    run_dir = tmp_path / "run"
    cfg = kit_config(run_dir)
    cfg["trainer"] = {**cfg["trainer"], "max_steps": 4, "val_every": 2, "checkpoint_every": 2}
    cfg["data"]["val"]["args"]["count"] = 3  # 2 processes x batch 2: the last batch is padded with a duplicate
    cfg["data"]["test"] = {"name": "kit_scenes", "args": {"count": 5, "seed": 7}}  # 5 images, one at a time, on 2 processes
    path = write_config(tmp_path / "cfg.yaml", cfg)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "rsmif_core.cli", "run", str(path)]
    proc = subprocess.run(cmd, env=kit_env(site), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    ckpt = run_dir / "checkpoints" / "step_00000004"
    assert (ckpt / "random_states_0.pkl").is_file() and (ckpt / "random_states_1.pkl").is_file()  # two real ranks
    assert proc.stdout.count("saved ") == 1 and proc.stdout.count("validation at step 2") == 1  # main process only
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [h["images"] for h in metrics["validation"]] == [3.0, 3.0]
    rows = list(csv.DictReader((run_dir / "test_rr" / "per_image.csv").open()))
    assert [r["id"] for r in rows] == [f"scene/{i:03d}" for i in range(5)]
