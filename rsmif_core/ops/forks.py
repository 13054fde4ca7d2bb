"""Whether this process was forked from one that had imported RSMIF (set by an at-fork handler, no torch needed).

GNU OpenMP's threads do not survive fork, but its record of them does: once the parent has run a parallel region
(any multi-threaded PyTorch op), a region in a forked child waits forever for them. :func:`rsmif_core.ops.threads.run_parts`
therefore runs a forked child's parts on a pool of its own. The handler is registered when ``rsmif_core`` is
imported, so it covers parents that ran PyTorch's regions before they ever used an RSMIF kernel.
"""

from __future__ import annotations

import os

forked = False


def _mark_forked() -> None:
    global forked
    forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)
