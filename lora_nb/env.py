"""Where are we running: Colab or not, which GPU, which precision, which token.

Kept free of heavy imports at module level so `import lora_nb` stays fast in a notebook.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from .errors import ConfigError


def in_colab() -> bool:
    return "google.colab" in sys.modules or bool(os.environ.get("COLAB_RELEASE_TAG"))


@dataclass(frozen=True)
class GPUInfo:
    name: str
    total_gb: float
    capability: tuple[int, int]

    @property
    def supports_bf16(self) -> bool:
        return self.capability >= (8, 0)  # Ampere and newer; the T4 (7.5) has no bf16 units


def gpu_info() -> GPUInfo | None:
    import torch

    if not torch.cuda.is_available():
        return None
    p = torch.cuda.get_device_properties(0)
    return GPUInfo(p.name, p.total_memory / 2**30, (p.major, p.minor))


def resolve_mixed_precision(setting: str, gpu: GPUInfo | None = None) -> str:
    """'auto' -> fp16 on Turing (T4), bf16 on Ampere+, no on CPU; explicit settings pass through,
    except fp16 without a CUDA GPU: torch has no fp16 autocast/loss scaling on the CPU, so training
    would stop at the first layer with a dtype mismatch."""
    if setting not in ("auto", "fp16"):
        return setting
    gpu = gpu if gpu is not None else gpu_info()
    if setting == "fp16":
        if gpu is None:
            raise ConfigError('mixed_precision: "fp16" needs a CUDA GPU and none is visible -> set mixed_precision '
                              '= "no" or "auto" (auto picks fp16/bf16 on a GPU, no on the CPU), or on Colab choose '
                              'Runtime > Change runtime type > T4 GPU')
        return setting
    if gpu is None:
        return "no"
    return "bf16" if gpu.supports_bf16 else "fp16"


def hf_token() -> str | None:
    """The Hugging Face token from the environment or Colab secrets.

    Never stored in a Config, metadata or log: it is read where a download needs it.
    """
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(var):
            return os.environ[var]
    if in_colab():
        try:
            from google.colab import userdata  # type: ignore

            return userdata.get("HF_TOKEN")
        except Exception:  # secret not set or access not granted
            return None
    return None


def offline() -> bool:
    """HF_HUB_OFFLINE, or TRANSFORMERS_OFFLINE (huggingface_hub honours both), is set: no hub requests."""
    return any(os.environ.get(v, "0").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


SYS = "/sys"  # where Linux shows the CPU topology and the cgroup quota (a test points it at a fake tree)


def usable_physical_cores() -> int:
    """The physical cores this process may run on: the CPUs in its affinity mask with hyper-threads of
    one core counted once, capped by a cgroup CPU quota (containers, Colab) when there is one."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in allowed:
        topo = f"{SYS}/devices/system/cpu/cpu{cpu}/topology/"
        try:
            with open(topo + "physical_package_id") as pkg, open(topo + "core_id") as core:
                cores.add((pkg.read().strip(), core.read().strip()))
        except OSError:  # no topology (not Linux, or hidden): count the CPU itself
            cores.add(("", str(cpu)))
    n, quota = len(cores), _cgroup_cpus()
    return max(1, min(n, quota) if quota else n)


def _cgroup_cpus() -> int | None:
    """The cgroup CPU quota in whole CPUs, rounded up (cgroup v2 `cpu.max`, else v1 `cpu.cfs_quota_us`);
    None when there is none."""
    try:
        with open(f"{SYS}/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
    except (OSError, ValueError):
        try:
            v1 = f"{SYS}/fs/cgroup/cpu/cpu.cfs_"
            with open(v1 + "quota_us") as q, open(v1 + "period_us") as p:
                quota, period = q.read().strip(), p.read().strip()
        except OSError:
            return None
    if quota in ("max", "-1"):
        return None
    try:
        return max(1, -(-int(quota) // int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def limit_cpu_threads(processes: int = 1) -> int | None:
    """CPU training: torch gets one thread per usable physical core (`usable_physical_cores`), shared
    out among `processes` training processes on this machine (at least one each). Torch's
    default counts every logical CPU of the machine, and on a shared or hyper-threaded machine OpenMP
    threads then wait on each other (the CPU demo ran ~10x slower). OMP_NUM_THREADS set by the user wins:
    nothing is changed and None is returned; otherwise the thread count set."""
    if os.environ.get("OMP_NUM_THREADS", "").strip():
        return None
    import torch

    n = max(1, usable_physical_cores() // max(1, processes))
    torch.set_num_threads(n)
    return n
