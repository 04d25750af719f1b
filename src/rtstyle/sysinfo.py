"""Facts about the machine and this process, for benchmarks and summaries."""

from __future__ import annotations

import os
import platform
import subprocess
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


def _read_number(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().split()[0]
    except (OSError, IndexError):
        return None
    return int(text) if text.isdigit() else None  # ("max": no limit)


def available_memory_mb() -> float | None:
    """Memory this process can still take, in MB: Linux's MemAvailable, or less where a
    container's memory limit (cgroup v2) leaves less (a container sees the host's
    /proc/meminfo); Windows' available physical memory; None where it is not known
    (macOS)."""
    free = None
    try:
        with open("/proc/meminfo") as f:
            free = next((int(line.split()[1]) / 1024 for line in f if line.startswith("MemAvailable:")), None)
    except OSError:
        pass
    if free is not None:
        limit, used = _read_number("/sys/fs/cgroup/memory.max"), _read_number("/sys/fs/cgroup/memory.current")
        if limit is not None and used is not None:
            free = min(free, (limit - used) / 2**20)
        return free
    if sys.platform == "win32":
        import ctypes

        class Status(ctypes.Structure):
            _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong), ("total", ctypes.c_ulonglong),
                        ("available", ctypes.c_ulonglong), ("rest", ctypes.c_ulonglong * 5)]

        status = Status(length=ctypes.sizeof(Status))
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
            return status.available / 2**20
    return None


# The CPU features that decide speed here: vector width (AVX2, AVX-512), int8 dot products
# (VNNI) and bfloat16 arithmetic (AVX512-BF16, AMX; on ARM, the BF16 and I8MM extensions).
# name -> the flag that Linux's /proc/cpuinfo lists for it
X86_FEATURES = {"AVX2": "avx2", "AVX-512": "avx512f", "AVX512-VNNI": "avx512_vnni", "AVX-VNNI": "avx_vnni",
                "AVX512-BF16": "avx512_bf16", "AMX-BF16": "amx_bf16", "AMX-INT8": "amx_int8"}
ARM_FEATURES = {"NEON": "asimd", "DotProd": "asimddp", "BF16": "bf16", "I8MM": "i8mm", "SVE": "sve"}
# macOS: sysctl names (Apple silicon) and the words Intel Macs list in machdep.cpu.*features
_MAC_ARM = {"NEON": "hw.optional.neon", "DotProd": "hw.optional.arm.FEAT_DotProd",
            "BF16": "hw.optional.arm.FEAT_BF16", "I8MM": "hw.optional.arm.FEAT_I8MM", "SVE": None}
_MAC_X86 = {"AVX2": "AVX2", "AVX-512": "AVX512F", "AVX512-VNNI": "AVX512VNNI", "AVX-VNNI": "AVXVNNI",
            "AVX512-BF16": "AVX512BF16", "AMX-BF16": "AMXBF16", "AMX-INT8": "AMXINT8"}
# Windows: IsProcessorFeaturePresent's PF_AVX2_INSTRUCTIONS_AVAILABLE and PF_AVX512F_... (40, 41)
_WIN_X86 = {"AVX2": 40, "AVX-512": 41}


def _is_arm(arch: str) -> bool:
    return arch.lower() in ("arm64", "aarch64") or arch.lower().startswith("arm")


def parse_cpuinfo_flags(text: str, arch: str) -> dict[str, bool | None]:
    """The features of :data:`X86_FEATURES` or :data:`ARM_FEATURES` from the text of
    Linux's /proc/cpuinfo ("flags" on x86, "Features" on ARM); None where it says nothing."""
    key = "features" if _is_arm(arch) else "flags"
    words = None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == key:
            words = set(value.split())
            break
    table = ARM_FEATURES if _is_arm(arch) else X86_FEATURES
    return {name: (flag in words if words is not None else None) for name, flag in table.items()}


def _sysctl(*names: str) -> str | None:
    try:
        r = subprocess.run(["sysctl", "-n", *names], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


def _mac_features(arch: str) -> dict[str, bool | None]:
    if _is_arm(arch):
        out: dict[str, bool | None] = {}
        for name, key in _MAC_ARM.items():
            value = _sysctl(key) if key else None
            out[name] = value.strip() == "1" if value else None
        return out
    text = _sysctl("machdep.cpu.features", "machdep.cpu.leaf7_features")
    words = set(text.upper().replace(".", "").split()) if text else None
    return {name: (flag in words if words is not None else None) for name, flag in _MAC_X86.items()}


def _windows_features() -> dict[str, bool | None]:
    out: dict[str, bool | None] = dict.fromkeys(X86_FEATURES)
    try:
        import ctypes

        present = ctypes.windll.kernel32.IsProcessorFeaturePresent  # type: ignore[attr-defined]
        for name, code in _WIN_X86.items():
            out[name] = bool(present(code))
    except (ImportError, AttributeError, OSError):
        pass
    return out


def cpu_features() -> dict[str, object]:
    """The CPU's speed-relevant features: ``{"arch", "source", "features": {name: bool or
    None}}``, None meaning unknown. Linux reads /proc/cpuinfo, macOS sysctl, Windows asks
    the kernel for AVX2 and AVX-512 only; elsewhere everything is unknown."""
    arch = platform.machine() or "unknown"
    system = platform.system()
    if system == "Linux":
        try:
            with open("/proc/cpuinfo") as f:
                return {"arch": arch, "source": "/proc/cpuinfo", "features": parse_cpuinfo_flags(f.read(), arch)}
        except OSError:
            pass
    elif system == "Darwin":
        return {"arch": arch, "source": "sysctl", "features": _mac_features(arch)}
    elif system == "Windows" and not _is_arm(arch):
        return {"arch": arch, "source": "IsProcessorFeaturePresent", "features": _windows_features()}
    table = ARM_FEATURES if _is_arm(arch) else X86_FEATURES
    return {"arch": arch, "source": "unknown", "features": dict.fromkeys(table)}


def describe_cpu_features(info: dict[str, object]) -> str:
    """One line: "AVX2 yes, AVX-512 yes, ..., AMX-BF16 no" (unknown: "?")."""
    features = info["features"]
    assert isinstance(features, dict)
    if all(v is None for v in features.values()):
        return "unknown"
    return ", ".join(f"{k} {'?' if v is None else 'yes' if v else 'no'}" for k, v in features.items())
