"""Keep freed CPU memory in the process for the next tensor (the ``runtime.cpu_memory: reuse`` setting).

glibc hands blocks above its mmap threshold (which adapts up to 32 MiB) straight back to the operating system
when they are freed, so a model whose feature maps are larger than that — whole images of 512² and more, the
tiles of ``rsmif predict`` — gets fresh pages for every intermediate and spends as much time in page faults
as in its element-wise ops. With a threshold of 1 GiB and no trimming, freed blocks stay in the heap and the
next tensors reuse them. The price is memory: the resident set no longer shrinks after a call, and because
PyTorch allocates with 64-byte alignment (``posix_memalign``), a freed block is a little smaller than the next
request of the same size, so the heap grows for the first few calls before freed blocks line up again
(bench/RESULTS.md has both). The settings are process-wide and stay for the rest of the process, which is
why it is an option (``runtime.cpu_memory``) and not the default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 30  # blocks below this come from the heap and go back to it
TRIM_THRESHOLD = 2**31 - 1  # never give the top of the heap back to the system


def keep_freed_cpu_memory() -> bool:
    """Set glibc's allocator to keep freed blocks for reuse; False where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
