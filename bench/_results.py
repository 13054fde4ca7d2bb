"""Write a benchmark's result into ``bench/RESULTS.md``: one section per benchmark, stamped with date and machine.

Benchmark figures live there (and in closing notes), never in docstrings, where they would go stale.
``record("bench_models (cpu)", table)`` replaces the section of that title, or appends it;
``with recorded("bench_data"):`` records everything printed in the block.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import platform
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import TextIO

RESULTS = Path(__file__).with_name("RESULTS.md")
_HEADER = "# Benchmark results\n\nWritten by the scripts in `bench/`; each section is replaced when its script runs again.\n"


def machine() -> str:
    """CPU model, cores, torch threads and version, and the GPU when one is used."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores"]
    try:
        import torch

        parts.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        if torch.cuda.is_available():
            parts.append(torch.cuda.get_device_name(0))
    except ImportError:
        pass
    try:
        parts.append(f"load average {os.getloadavg()[0]:.1f}")
    except OSError:
        pass
    return "; ".join(parts)


def record(title: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section ``## title`` with ``body``, stamped with the date and machine."""
    stamp = f"_{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC — {machine()}_"
    section = f"## {title}\n\n{stamp}\n\n{body.strip()}\n"
    text = path.read_text(encoding="utf-8") if path.is_file() else _HEADER
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class _Tee(io.TextIOBase):
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.lines.append(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def recorded(title: str) -> Iterator[None]:
    """Print as usual and record everything this process printed meanwhile as the section ``title``."""
    tee = _Tee(sys.stdout)
    with redirect_stdout(tee):
        yield
    text = "".join(tee.lines).strip()
    if text:
        record(title, f"```\n{text}\n```")
