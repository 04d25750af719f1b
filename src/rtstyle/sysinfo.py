"""Facts about the machine and this process, for benchmarks and summaries."""

from __future__ import annotations

import os
import platform
import sys


def machine() -> str:
    """CPU model and core count, e.g. "AMD EPYC 9R14, 2 cores, Linux"."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}"


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB. On Linux from /proc (VmHWM), because
    ru_maxrss also counts the parent's memory at the fork that started this process."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    try:
        import resource  # not on Windows
    except ImportError:
        return float("nan")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
