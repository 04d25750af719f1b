"""What `rtstyle info` says about the machine: the CPU features that decide speed."""

import json
import os
import sys

from rtstyle import sysinfo
from rtstyle.cli import main

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu vme sse sse2 avx avx2 fma avx512f avx512dq avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8 avx_vnni
"""
EPYC_ZEN3 = """model name\t: AMD EPYC 7R13 Processor
flags\t\t: fpu sse sse2 avx avx2 fma sha_ni
"""
GRAVITON3 = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm asimddp sve i8mm bf16
CPU implementer\t: 0x41
"""


def test_x86_flags_from_proc_cpuinfo():
    xeon = sysinfo.parse_cpuinfo_flags(XEON, "x86_64")
    assert xeon == {"AVX2": True, "AVX-512": True, "AVX512-VNNI": True, "AVX-VNNI": True, "AVX512-BF16": True,
                    "AMX-BF16": True, "AMX-INT8": True}
    zen3 = sysinfo.parse_cpuinfo_flags(EPYC_ZEN3, "x86_64")
    assert zen3["AVX2"] is True and not any(v for k, v in zen3.items() if k != "AVX2")


def test_arm_features_from_proc_cpuinfo():
    arm = sysinfo.parse_cpuinfo_flags(GRAVITON3, "aarch64")
    assert arm == {"NEON": True, "DotProd": True, "BF16": True, "I8MM": True, "SVE": True}


def test_missing_flags_are_unknown_not_absent():
    unknown = sysinfo.parse_cpuinfo_flags("processor\t: 0\nmodel name\t: something\n", "x86_64")
    assert set(unknown) == set(sysinfo.X86_FEATURES) and all(v is None for v in unknown.values())
    assert sysinfo.describe_cpu_features({"features": unknown}) == "unknown"
    line = sysinfo.describe_cpu_features({"features": {"AVX2": True, "AVX-512": False, "AMX-BF16": None}})
    assert line == "AVX2 yes, AVX-512 no, AMX-BF16 ?"


def test_info_reports_the_cpu_features_and_free_memory(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    cpu = info["cpu"]
    if sys.platform.startswith("linux"):  # (from /proc/meminfo; a container's limit where lower)
        assert 0 < info["memory_free_mb"] <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    assert cpu["arch"] and cpu["model"] and cpu["torch_kernels"]
    table = sysinfo.ARM_FEATURES if sysinfo._is_arm(cpu["arch"]) else sysinfo.X86_FEATURES
    assert set(cpu["features"]) == set(table)
    assert all(v in (True, False, None) for v in cpu["features"].values())
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "CPU: " in out and "memory free: " in out
