import hashlib
import os

import pytest

from lora_nb.fileio import atomic_dir, atomic_path, atomic_write_text, file_sha256


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a" / "f.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two" and [x.name for x in p.parent.iterdir()] == ["f.txt"]


def test_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert p.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_atomic_dir_swaps_whole_folder(tmp_path):
    d = tmp_path / "state"
    with atomic_dir(d) as tmp:
        (tmp / "x").write_text("1")
    with pytest.raises(ValueError):
        with atomic_dir(d) as tmp:
            (tmp / "y").write_text("2")
            raise ValueError
    assert [p.name for p in d.iterdir()] == ["x"]
    with atomic_dir(d) as tmp:
        (tmp / "z").write_text("3")
    assert [p.name for p in d.iterdir()] == ["z"] and sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_file_sha256_reads_in_chunks_and_hashes_the_whole_file(tmp_path):
    data = os.urandom((3 << 20) + 17)  # chunks of 1 MiB and a partial last one
    (tmp_path / "f.bin").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    assert file_sha256(tmp_path / "f.bin") == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(tmp_path / "empty")) == hashlib.sha256(b"").hexdigest()
