from lora_nb.env import GPUInfo, hf_token, resolve_mixed_precision


def test_precision_follows_the_gpu():
    t4 = GPUInfo("Tesla T4", 15.0, (7, 5))
    a100 = GPUInfo("A100", 40.0, (8, 0))
    assert resolve_mixed_precision("auto", t4) == "fp16"  # the T4 has no bf16
    assert resolve_mixed_precision("auto", a100) == "bf16"
    assert resolve_mixed_precision("no", a100) == "no"


def test_auto_on_this_machine_without_gpu():
    import torch

    if not torch.cuda.is_available():
        assert resolve_mixed_precision("auto") == "no"


def test_token_from_env_only(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    assert hf_token() is None
    monkeypatch.setenv("HF_TOKEN", "hf_abc")
    assert hf_token() == "hf_abc"


# --- CPU threads: one per usable physical core (env.limit_cpu_threads) ----------------------------
def _fake_sys(root, cores: dict[int, tuple[int, int]], quota: str | None = None):
    """A /sys tree: cpu N -> (package, core); `quota` the cgroup v2 cpu.max line."""
    for cpu, (pkg, core) in cores.items():
        topo = root / "devices" / "system" / "cpu" / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text(f"{pkg}\n")
        (topo / "core_id").write_text(f"{core}\n")
    if quota is not None:
        (root / "fs" / "cgroup").mkdir(parents=True)
        (root / "fs" / "cgroup" / "cpu.max").write_text(quota + "\n")
    return str(root)


def test_physical_cores_count_hyperthreads_once_and_follow_affinity_and_quota(tmp_path, monkeypatch):
    from lora_nb import env

    # 8 logical CPUs = 4 cores x 2 hyper-threads (cpu N and N+4 share core N)
    cores = {cpu: (0, cpu % 4) for cpu in range(8)}
    monkeypatch.setattr(env, "SYS", _fake_sys(tmp_path / "a", cores))
    monkeypatch.setattr(env.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert env.usable_physical_cores() == 4
    monkeypatch.setattr(env.os, "sched_getaffinity", lambda pid: {0, 4, 1}, raising=False)  # taskset: 2 cores
    assert env.usable_physical_cores() == 2
    monkeypatch.setattr(env.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(env, "SYS", _fake_sys(tmp_path / "b", cores, quota="150000 100000"))  # 1.5 CPUs
    assert env.usable_physical_cores() == 2
    monkeypatch.setattr(env, "SYS", _fake_sys(tmp_path / "c", cores, quota="max 100000"))
    assert env.usable_physical_cores() == 4
    v1 = _fake_sys(tmp_path / "d", cores)  # cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us, -1 = no quota
    (tmp_path / "d" / "fs" / "cgroup" / "cpu").mkdir(parents=True)
    (tmp_path / "d" / "fs" / "cgroup" / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (tmp_path / "d" / "fs" / "cgroup" / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    monkeypatch.setattr(env, "SYS", v1)
    assert env.usable_physical_cores() == 3
    (tmp_path / "d" / "fs" / "cgroup" / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert env.usable_physical_cores() == 4
    monkeypatch.setattr(env, "SYS", str(tmp_path / "none"))  # no topology shown: each CPU counts
    assert env.usable_physical_cores() == 8


def test_limit_cpu_threads_sets_torch_unless_the_user_chose(tmp_path, monkeypatch):
    import torch

    from lora_nb import env

    before = torch.get_num_threads()
    monkeypatch.setattr(env, "SYS", _fake_sys(tmp_path, {cpu: (0, cpu % 4) for cpu in range(8)}))
    monkeypatch.setattr(env.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert env.limit_cpu_threads() is None and torch.get_num_threads() == before  # the user's choice wins
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert env.limit_cpu_threads() == 4 and torch.get_num_threads() == 4
        assert env.limit_cpu_threads(processes=3) == 1 and torch.get_num_threads() == 1  # shared by 3 processes
    finally:
        torch.set_num_threads(before)
