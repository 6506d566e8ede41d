"""User data stays safe and file-system problems are one line (issue 20, part C).

Captions in every encoding tags/train read survive collect; cleaned copies are real copies;
outputs follow the umask; bad output folders, read-only folders and full disks are one line with
exit status 2 before the long work; FIFOs and device links in user folders are skipped with a reason.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import lora_nb.fscheck as fscheck
from lora_nb.cli import main
from lora_nb.errors import StorageError
from lora_nb.fileio import atomic_dir, atomic_path, atomic_write_bytes, atomic_write_text
from lora_nb.textio import read_caption

ROOT = Path(__file__).resolve().parents[1]


def png(w=320, h=256, seed=0, noise=False) -> bytes:
    rng = np.random.default_rng(seed)
    if noise:
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    else:
        a = np.zeros((h, w, 3), np.uint8)
        a[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)
        a[h // 4: h // 2, w // 4: w // 2] = rng.integers(0, 256, 3, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def make_dataset(root: Path, n=2) -> Path:
    """A kohya dataset: `root/1_cat/NNN.png` + a UTF-8 caption each."""
    d = root / "1_cat"
    d.mkdir(parents=True)
    for i in range(n):
        (d / f"{i:03d}.png").write_bytes(png(seed=i))
        (d / f"{i:03d}.txt").write_text(f"cat, photo {i}", encoding="utf-8")
    return root


# --- captions in every encoding ---------------------------------------------------------------------
def test_collect_keeps_captions_in_every_encoding_tags_and_train_read(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    captions = {
        "gbk": "黑色头发, 1girl".encode("gbk"),
        "utf16": "café, naïve, 猫".encode("utf-16"),  # with BOM
        "latin1": "crème brûlée, 1girl".encode("latin-1"),  # textio reads it (as GB18030: one decoder for all)
        "latin1_bad": "café au lait".encode("latin-1"),  # neither UTF-8 nor GB18030 for tags/train either
    }
    for i, (name, data) in enumerate(captions.items()):
        (src / f"{name}.png").write_bytes(png(seed=i))
        (src / f"{name}.txt").write_bytes(data)
    originals = {p.name: p.read_bytes() for p in src.iterdir()}
    assert main(["collect", str(src), "--out", str(out), "--quiet", "--dedupe", "off"]) == 0
    printed = capsys.readouterr().out
    folder = out / "1_src"
    assert (folder / "gbk.txt").read_text(encoding="utf-8") == "黑色头发, 1girl\n"
    assert (folder / "utf16.txt").read_text(encoding="utf-8") == "café, naïve, 猫\n"
    assert read_caption(folder / "latin1.txt") == read_caption(src / "latin1.txt")  # what train would read
    # unreadable text is the user's caption all the same: kept byte for byte and reported, not dropped
    assert (folder / "latin1_bad.txt").read_bytes() == captions["latin1_bad"]
    assert f"caption {src / 'latin1_bad.txt'}: the text is neither UTF-8 nor GBK/GB18030" in printed
    assert "save it as UTF-8 (copied unchanged to 1_src/latin1_bad.txt" in printed
    assert "caption step" not in printed and "missing_captions" not in printed  # never caption over them
    assert {p.name: p.read_bytes() for p in src.iterdir()} == originals


def test_collect_decodes_zip_captions_the_same_way(tmp_path, capsys):
    import zipfile

    with zipfile.ZipFile(tmp_path / "pics.zip", "w") as zf:
        zf.writestr("a.png", png())
        zf.writestr("a.txt", "\ufeff黑色头发,\r\n1girl".encode("utf-8"))  # BOM, CRLF, two lines
        zf.writestr("b.png", png(seed=3))
        zf.writestr("b.txt", "黑猫".encode("gbk"))
    assert main(["collect", str(tmp_path / "pics.zip"), "--out", str(tmp_path / "out"), "--quiet", "--no-audit"]) == 0
    assert (tmp_path / "out" / "1_pics" / "a.txt").read_text(encoding="utf-8") == "黑色头发, 1girl\n"
    assert (tmp_path / "out" / "1_pics" / "b.txt").read_text(encoding="utf-8") == "黑猫\n"


def test_collect_reports_a_caption_that_is_a_fifo_and_finishes(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "a.png").write_bytes(png())
    os.mkfifo(src / "a.txt")
    proc = subprocess.run([sys.executable, "-m", "lora_nb.cli", "collect", str(src), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert f"caption {src / 'a.txt'}: not imported: a named pipe (FIFO), not a regular file" in proc.stdout
    assert (out / "1_src" / "a.png").is_file() and not (out / "1_src" / "a.txt").exists()


# --- real copies --------------------------------------------------------------------------------------
def test_tags_out_copies_are_not_hard_links(tmp_path, capsys):
    data = make_dataset(tmp_path / "data")
    out = tmp_path / "clean"
    assert main(["tags", str(data), "--out", str(out), "--trigger", "xqzv"]) == 0
    for src in sorted(data.rglob("*.png")):
        copy = out / src.relative_to(data)
        assert os.stat(copy).st_ino != os.stat(src).st_ino and os.stat(copy).st_nlink == 1
        assert os.stat(src).st_nlink == 1
        before = src.read_bytes()
        with open(copy, "r+b") as fh:  # an editor saving the cleaned copy in place
            fh.seek(100)
            fh.write(b"\x00" * 50)
        assert src.read_bytes() == before
    assert "copied" in (ROOT / "lora_nb" / "commands" / "tags.py").read_text(encoding="utf-8")
    assert "os.link" not in (ROOT / "lora_nb" / "dataset" / "clean.py").read_text(encoding="utf-8")


def test_no_module_hard_links_user_files():
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "lora_nb").rglob("*.py")
            if any(w in p.read_text(encoding="utf-8") for w in ("os.link(", "hardlink_to(", "link_to("))]
    assert hits == []


# --- permissions follow the umask -----------------------------------------------------------------
@pytest.mark.parametrize("umask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_outputs_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        f = atomic_write_text(tmp_path / "new" / "a.txt", "x")
        b = atomic_write_bytes(tmp_path / "b.bin", b"x")
        with atomic_path(tmp_path / "c.png") as tmp:
            Image.new("RGB", (4, 4)).save(tmp, format="PNG")
        with atomic_dir(tmp_path / "state") as tmp:
            (tmp / "x").write_text("1")
        with atomic_dir(tmp_path / "state") as tmp:  # replacing an existing folder
            (tmp / "y").write_text("2")
    finally:
        os.umask(old)
    for p in (f, b, tmp_path / "c.png"):
        assert stat.S_IMODE(os.stat(p).st_mode) == file_mode, p
    for d in (tmp_path / "new", tmp_path / "state"):
        assert stat.S_IMODE(os.stat(d).st_mode) == dir_mode, d


def test_atomic_writers_never_replace_a_device_or_fifo(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    for target in (Path(os.devnull), tmp_path / "pipe.txt"):
        with pytest.raises(StorageError, match="not a file -> write to a file path in a folder"):
            atomic_write_text(target, "x")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode) and stat.S_ISFIFO(os.stat(tmp_path / "pipe.txt").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.txt"]


def test_collect_outputs_are_readable_by_others_under_umask_022(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(png())
    (src / "a.txt").write_text("cat", encoding="utf-8")
    old = os.umask(0o022)
    try:
        assert main(["collect", str(src), "--out", str(tmp_path / "out"), "--quiet", "--no-audit"]) == 0
    finally:
        os.umask(old)
    out = tmp_path / "out"
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(os.stat(p).st_mode) for p in [out, *out.rglob("*")]}
    assert modes == {".": 0o755, "1_src": 0o755, "1_src/a.png": 0o644, "1_src/a.txt": 0o644, "manifest.json": 0o644}


# --- bad output folders: one line, exit 2, before the work ---------------------------------------------
@pytest.fixture
def no_model(monkeypatch):
    """Fails the test if a captioner or a pipeline is built: the checks must come first."""
    import lora_nb.dataset.caption as caption
    import lora_nb.evaluate.pipeline as pipeline

    def built(*a, **k):
        raise AssertionError("a model was loaded before the output was checked")

    monkeypatch.setattr(caption, "make_captioner", built)
    monkeypatch.setattr(pipeline, "load_pipeline", built)


def _argv(cmd: str, tmp_path: Path, out: str) -> list[str]:
    data = tmp_path / "data"
    if not data.exists():
        make_dataset(data)
    return {
        "collect": ["collect", str(data), "--out", out, "--quiet"],
        "crop": ["crop", str(data), "--out", out, "--quiet", "--mode", "center", "--resolution", "64"],
        "tags": ["tags", str(data), "--out", out, "--trigger", "xqzv"],
        "caption": ["caption", out, "--backend", "wd14"],
        "xy": ["xy", "--base", str(tmp_path / "model"), "--lora", str(tmp_path / "l.safetensors"), "--prompt", "a",
               "--out", out],
        "train": ["train", "--train-data-dir", str(data), "--pretrained-model", str(tmp_path / "model"),
                  "--output-dir", out],
    }[cmd]


COMMANDS = ("collect", "crop", "tags", "caption", "xy", "train")


@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize("bad", ["under_a_file", "a_file", "dev_null"])
def test_bad_output_folder_is_one_line(cmd, bad, tmp_path, capsys, no_model):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    out = {"under_a_file": str(afile / "sub" / ("grid.png" if cmd == "xy" else "out")),
           "a_file": str(afile / "grid.png") if cmd == "xy" else str(afile),
           "dev_null": os.devnull}[bad]
    assert main(_argv(cmd, tmp_path, out)) == 2
    err = one_line_error(capsys)
    assert str(afile if bad != "dev_null" else os.devnull) in err
    assert ("not a folder" in err or "not a file" in err), err
    assert afile.read_text() == "not a folder" and stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_xy_out_that_is_a_folder_is_refused_before_rendering(tmp_path, capsys, no_model):
    (tmp_path / "grids").mkdir()
    assert main(_argv("xy", tmp_path, str(tmp_path / "grids"))) == 2
    assert "is a folder -> give a file name" in one_line_error(capsys)


@pytest.mark.parametrize("argv", [["collect", "{data}", "--out", "{out}", "--audit-grid", "{bad}"],
                                  ["crop", "{data}", "--out", "{out}", "--preview", "{bad}"]])
def test_side_outputs_are_checked_before_the_work(argv, tmp_path, capsys):
    data = make_dataset(tmp_path / "data")
    (tmp_path / "afile").write_text("x")
    for bad in (os.devnull, str(tmp_path / "afile" / "grid.png"), str(tmp_path)):
        assert main([a.format(data=data, out=tmp_path / "out", bad=bad) for a in argv]) == 2
        assert bad.split("/grid.png")[0] in one_line_error(capsys)
        assert not (tmp_path / "out").exists()  # nothing was collected or cropped first


def _mount(target: Path, options: str) -> bool:
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    target.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                          capture_output=True).returncode == 0


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody may write to: a read-only tmpfs as root (chmod does not stop root), else chmod 0500."""
    d = tmp_path / "ro"
    if _mount(d, "ro,size=1M"):
        yield d
        subprocess.run(["umount", "-l", str(d)], check=True)  # lazy: a failed writer may hold a handle
    elif os.geteuid() != 0:
        d.mkdir()
        d.chmod(0o500)
        yield d
        d.chmod(0o700)
    else:
        pytest.skip("running as root without permission to mount a read-only tmpfs")


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c != "caption"])  # caption: the test below
def test_read_only_output_folder_is_one_line(cmd, read_only_dir, tmp_path, capsys, no_model):
    out = str(read_only_dir / ("grid.png" if cmd == "xy" else "out"))
    assert main(_argv(cmd, tmp_path, out)) == 2
    err = one_line_error(capsys)
    assert str(read_only_dir) in err and ("read-only" in err or "permission" in err), err


def test_caption_on_a_read_only_dataset_fails_before_the_model_loads(tmp_path, capsys, no_model):
    data = make_dataset(tmp_path / "data")
    for p in data.rglob("*.txt"):
        p.unlink()
    ro = tmp_path / "ro"
    if not _mount(ro, "size=4M"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        make_dataset(ro)
        for p in ro.rglob("*.txt"):
            p.unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        assert main(["caption", str(ro), "--backend", "wd14"]) == 2
        err = one_line_error(capsys)
        assert "read-only" in err and str(ro / "1_cat") in err
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=True)  # lazy: a failed writer may hold a handle


# --- disk full ----------------------------------------------------------------------------------------------
def test_disk_full_while_collecting_names_the_folder(tmp_path, capsys, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(png())
    real = Path.write_bytes

    def full(self, data):
        if self.name.startswith("."):  # the atomic writer's temporary file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    out = tmp_path / "out"
    assert main(["collect", str(src), "--out", str(out), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert "disk full" in err and str(out) in err
    assert not list(out.rglob("*.png")) and not list(out.rglob(".*"))  # no half-written or temporary file


def test_torch_save_failure_on_a_full_disk_says_disk(tmp_path, monkeypatch):
    """torch.save reports ENOSPC as '[enforce fail at inline_container.cc] unexpected pos': mapped by free space."""
    import torch

    def torch_full(obj, f, *a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")

    monkeypatch.setattr(torch, "save", torch_full)
    monkeypatch.setattr(fscheck.shutil, "disk_usage", lambda p: type("U", (), {"free": 4096})())
    with pytest.raises(StorageError, match=r"disk full: no space left in .*state"):
        with atomic_dir(tmp_path / "state" / "step-2") as tmp:
            torch.save({}, tmp / "trainer.pt")
    monkeypatch.setattr(fscheck.shutil, "disk_usage", lambda p: type("U", (), {"free": 10 * 2**30})())
    with pytest.raises(RuntimeError, match="unexpected pos"):  # plenty of space: not a disk problem, kept
        with atomic_dir(tmp_path / "state" / "step-4") as tmp:
            torch.save({}, tmp / "trainer.pt")


def test_train_on_a_full_disk_is_one_line(tiny_sd15, tmp_path, capsys, monkeypatch):
    import torch

    data = make_dataset(tmp_path / "data", n=2)
    real = torch.save

    def torch_full(obj, f, *a, **k):
        if str(f).endswith("trainer.pt"):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")
        return real(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", torch_full)
    monkeypatch.setattr(fscheck.shutil, "disk_usage", lambda p: type("U", (), {"free": 0})())
    out = tmp_path / "run"
    assert main(["train", "--pretrained-model", str(tiny_sd15), "--train-data-dir", str(data), "--output-dir",
                 str(out), "--resolution", "64", "--max-train-steps", "2", "--save-every-n-steps", "2",
                 "--sample-steps", "2", "--save-formats", "kohya"]) == 2
    err = capsys.readouterr().err  # the progress bars came first
    assert "Traceback" not in err and err.count("error:") == 1
    assert err.split("lora-nb train: error: ")[-1].startswith("disk full: no space left in " + str(out / "state"))


@pytest.fixture
def small_disk(tmp_path):
    d = tmp_path / "small"
    if not _mount(d, "size=1M"):
        pytest.skip("cannot mount a 1 MB tmpfs here (needs root on Linux)")
    yield d
    subprocess.run(["umount", "-l", str(d)], check=True)  # lazy: a failed writer may hold a handle


def test_real_full_disk_collect_crop_and_torch(small_disk, tmp_path, capsys):
    import torch
    from safetensors.torch import save_file

    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):  # ~0.7 MB each, uncompressible: the second one does not fit
        (src / f"{i}.png").write_bytes(png(500, 480, seed=i, noise=True))
    assert main(["collect", str(src), "--out", str(small_disk / "data"), "--quiet", "--dedupe", "off"]) == 2
    err = one_line_error(capsys)
    assert "disk full" in err and str(small_disk / "data") in err
    assert not list(small_disk.rglob(".*.tmp"))  # the temporary file is gone, the space given back
    for i, write in enumerate((lambda p: torch.save({"w": torch.zeros(1 << 20)}, p),
                               lambda p: save_file({"w": torch.zeros(1 << 20)}, str(p)))):
        with pytest.raises(StorageError, match="disk full") as e:
            with atomic_path(small_disk / f"w{i}.safetensors") as tmp:
                write(tmp)
        assert str(small_disk) in str(e.value)


def test_cli_last_resort_turns_stray_storage_oserrors_into_one_line(tmp_path, capsys, monkeypatch):
    import lora_nb.commands.crop as crop_cmd

    def boom(args):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "x.png"))

    monkeypatch.setattr(crop_cmd, "run", boom)
    assert main(["crop", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "read-only" in one_line_error(capsys)

    def bug(args):
        raise OSError(errno.EBADF, "bad file descriptor")

    monkeypatch.setattr(crop_cmd, "run", bug)
    with pytest.raises(OSError):  # not a storage problem: a bug keeps its traceback
        main(["crop", str(tmp_path), "--out", str(tmp_path / "o")])


# --- FIFOs and devices in user folders ------------------------------------------------------------------------
def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


@pytest.fixture
def special_files(tmp_path):
    """A dataset folder with one real image, a FIFO and a symlink to /dev/zero named like images."""
    data = make_dataset(tmp_path / "data", n=1)
    os.mkfifo(data / "1_cat" / "fifo.png")
    os.symlink("/dev/zero", data / "1_cat" / "zero.png")
    os.symlink("/dev/zero", data / "1_cat" / "zero.txt")
    return data


def _cli(*argv, timeout=120) -> subprocess.CompletedProcess:
    # a subprocess with a timeout: a hang fails the test instead of blocking the suite
    return subprocess.run([sys.executable, "-m", "lora_nb.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=_env())


def test_collect_skips_fifos_and_device_links_with_a_reason(special_files, tmp_path):
    fifo, zero = tmp_path / "lone.fifo", tmp_path / "zero.jpg"
    os.mkfifo(fifo)
    os.symlink("/dev/zero", zero)
    proc = _cli("collect", str(special_files), str(fifo), str(zero), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(str(special_files / "1_cat" / "fifo.png") in ln and "named pipe (FIFO)" in ln for ln in lines)
    assert any(str(special_files / "1_cat" / "zero.png") in ln and "a device (through a symlink)" in ln
               for ln in lines)
    assert any(f"rejected {fifo}: a named pipe" in ln for ln in lines)
    assert any(f"rejected {zero}: a device (through a symlink)" in ln for ln in lines)
    assert "Collected 1 images" in proc.stdout


@pytest.mark.parametrize("argv", [["crop", "{data}", "--out", "{out}", "--quiet", "--mode", "center",
                                   "--resolution", "64"],
                                  ["tags", "{data}", "--out", "{out}", "--trigger", "xqzv"],
                                  ["tags", "{data}", "--stats"]])
def test_crop_and_tags_skip_fifos_and_device_links(argv, special_files, tmp_path):
    proc = _cli(*[a.format(data=special_files, out=tmp_path / "out") for a in argv])
    assert proc.returncode == 0, proc.stderr
    if argv[0] == "crop":
        assert "skipped 1_cat/fifo.png: a named pipe (FIFO), not a regular file" in proc.stdout
        assert "skipped 1_cat/zero.png: a device (through a symlink), not a regular file" in proc.stdout
        assert sorted(p.name for p in (tmp_path / "out" / "1_cat").iterdir()) == ["000.png", "000.txt"]
    elif "--out" in argv:
        assert "skipped 1_cat/fifo.png: a named pipe (FIFO)" in proc.stdout
        assert sorted(p.name for p in (tmp_path / "out" / "1_cat").iterdir()) == ["000.png", "000.txt"]


def test_caption_train_scan_and_audit_skip_fifos_with_a_reason(special_files):
    from lora_nb.config import Config
    from lora_nb.dataset.auditor import audit
    from lora_nb.dataset.caption import caption_folder
    from lora_nb.training.data import scan_dataset

    class Fixed:
        name = "fixed"

        def caption_images(self, images):
            return ["a cat"] * len(images)

    rep = caption_folder(special_files, captioner=Fixed(), overwrite=True, progress=False)
    assert rep.failed == {special_files / "1_cat" / "fifo.png": "a named pipe (FIFO), not a regular file",
                          special_files / "1_cat" / "zero.png": "a device (through a symlink), not a regular file"}
    assert [p.name for p in rep.written] == ["000.txt"]
    scan = scan_dataset(Config(train_data_dir=str(special_files), resolution=64))
    assert [s.image.name for s in scan.samples] == ["000.png"]
    assert any("skipped" in n and "fifo.png" in n and "named pipe" in n for n in scan.warnings)
    a = audit(special_files, resolution=64)
    assert any(w.code == "not_regular" and "fifo.png" in w.message and "zero.png" in w.message for w in a.warnings)


def test_text_readers_refuse_a_fifo_in_one_line(tmp_path, capsys):
    data = make_dataset(tmp_path / "data", n=1)
    os.mkfifo(tmp_path / "blacklist.txt")
    proc = _cli("tags", str(data), "--dry-run", "--blacklist-file", str(tmp_path / "blacklist.txt"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "named pipe (FIFO), not a regular file" in proc.stderr
