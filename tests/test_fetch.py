"""colorlab.data.download and registry.fetch against a local HTTP server: checksums, resume, safety."""

import hashlib
import io
import json
import tarfile
import zipfile

import pytest
from PIL import Image

from colorlab.data import archives, download, registry
from colorlab.data.sources import split_files
from conftest import make_photo


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _photo_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(make_photo(seed, (40, 40))).save(buffer, format="PNG")
    return buffer.getvalue()


def _tgz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def test_data_home_follows_argument_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(download.DATA_ENV, str(tmp_path / "env"))
    assert download.data_home() == tmp_path / "env" and (tmp_path / "env").is_dir()
    assert download.data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(download.DATA_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download.data_home().parts[-2:] == ("xdg", "colorlab")


def test_download_checks_sha256_and_reuses_the_verified_file(server, tmp_path):
    data = b"colour " * 10_000
    server.files["/a.bin"] = data
    path = download.download(server.url + "/a.bin", tmp_path, "a.bin", sha256=_sha(data),
                          size=len(data), progress=False)
    assert path.read_bytes() == data and not (tmp_path / "a.bin.part").exists()
    server.close()  # offline from here: the verified copy is used
    assert download.download("http://127.0.0.1:9/a.bin", tmp_path, "a.bin", sha256=_sha(data),
                          progress=False) == path


def test_wrong_checksum_deletes_the_download(server, tmp_path):
    server.files["/a.bin"] = b"tampered bytes"
    with pytest.raises(download.ChecksumError, match="sha256 .* instead of"):
        download.download(server.url + "/a.bin", tmp_path, "a.bin", sha256=_sha(b"original"),
                       progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing that could pass for complete


def test_wrong_size_is_refused(server, tmp_path):
    server.files["/a.bin"] = b"12345"
    with pytest.raises(download.ChecksumError, match="5 bytes instead of 6"):
        download.download(server.url + "/a.bin", tmp_path, "a.bin", size=6, progress=False)
    assert not (tmp_path / "a.bin").exists()


def test_interrupted_download_leaves_only_a_part_file_and_resumes(server, tmp_path):
    data = bytes(range(256)) * 4000
    server.files["/big.bin"] = data
    server.cut_after = 300_000
    with pytest.raises(download.DownloadError, match="connection closed"):
        download.download(server.url + "/big.bin", tmp_path, "big.bin", sha256=_sha(data),
                       progress=False)
    assert not (tmp_path / "big.bin").exists()
    assert (tmp_path / "big.bin.part").stat().st_size == 300_000
    server.cut_after = None
    path = download.download(server.url + "/big.bin", tmp_path, "big.bin", sha256=_sha(data),
                          progress=False)
    assert path.read_bytes() == data and server.ranges == ["bytes=300000-"]


def test_mirror_is_tried_when_the_first_url_fails(server, tmp_path):
    server.files["/mirror.bin"] = b"data"
    path = download.download([server.url + "/gone.bin", server.url + "/mirror.bin"], tmp_path,
                          "x.bin", sha256=_sha(b"data"), progress=False)
    assert path.read_bytes() == b"data"


def test_offline_error_names_dataset_url_and_where_to_put_the_file(tmp_path):
    url = "http://127.0.0.1:9/imagenette2-160.tgz"  # port 9 (discard): connection refused
    with pytest.raises(download.DownloadError) as error:
        download.download(url, tmp_path, "imagenette2-160.tgz", dataset="imagenette160",
                       progress=False)
    message = str(error.value)
    assert "'imagenette160'" in message and url in message
    assert str(tmp_path / "imagenette2-160.tgz") in message


def test_file_placed_by_hand_is_verified(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"good")
    assert download.download("http://127.0.0.1:9/a.bin", tmp_path, "a.bin", sha256=_sha(b"good"),
                          progress=False).read_bytes() == b"good"
    (tmp_path / "b.bin").write_bytes(b"bad")
    with pytest.raises(download.ChecksumError, match="replace it with a good copy"):
        download.download("http://127.0.0.1:9/b.bin", tmp_path, "b.bin", sha256=_sha(b"good"),
                       progress=False)
    assert (tmp_path / "b.bin").exists()  # the user's file is not deleted


def test_trust_on_first_use_records_and_then_enforces(server, tmp_path):
    server.files["/a.bin"] = b"first version"
    path = download.download(server.url + "/a.bin", tmp_path, "a.bin", progress=False)
    ledger = json.loads((tmp_path / "checksums.json").read_text())
    assert ledger == {"a.bin": _sha(b"first version")}
    path.unlink()
    server.files["/a.bin"] = b"changed upstream"
    with pytest.raises(download.ChecksumError):
        download.download(server.url + "/a.bin", tmp_path, "a.bin", progress=False)
    assert not path.exists()


def test_extract_tar_and_zip(tmp_path):
    archive = tmp_path / "a.tgz"
    archive.write_bytes(_tgz({"top/x.txt": b"x", "top/sub/y.txt": b"y"}))
    out = archives.extract(archive, tmp_path / "out")
    assert (out / "top/sub/y.txt").read_bytes() == b"y"
    zpath = tmp_path / "a.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("dir/z.txt", "z")
    assert (archives.extract(zpath, tmp_path / "zout") / "dir/z.txt").read_text() == "z"


@pytest.mark.parametrize(
    "members, links",
    [
        ({"../evil.txt": b"x"}, None),
        ({"/tmp/colorlab_evil_abs.txt": b"x"}, None),
        ({"ok/a.txt": b"x"}, {"ok/link": "/etc/passwd"}),
    ],
    ids=["dot-dot", "absolute", "symlink"],
)
def test_extract_refuses_unsafe_tar_members(tmp_path, members, links):
    archive = tmp_path / "bad.tgz"
    archive.write_bytes(_tgz(members, links))
    with pytest.raises(download.UnsafeArchiveError, match="refusing to extract"):
        archives.extract(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tgz"]  # nothing written


def test_extract_refuses_unsafe_zip_member(tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../evil.txt", "x")
    with pytest.raises(download.UnsafeArchiveError):
        archives.extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_registry_fetch_end_to_end_from_a_local_server(server, tmp_path, monkeypatch):
    photos = {f"set/{split}/cls{c}/{i}.png": _photo_bytes(i + 10 * c)
              for split in ("train", "val") for c in range(2) for i in range(3)}
    archive = _tgz(photos)
    server.files["/set.tgz"] = archive
    entries = {
        "tiny": {
            "kind": "archive", "root": "set",
            "files": [{"url": server.url + "/set.tgz", "filename": "set.tgz",
                       "size": len(archive), "sha256": _sha(archive)}],
            "splits": {"train": {"folder": "train"}, "val": {"folder": "val"}},
        }
    }
    monkeypatch.setattr(registry, "load_registry", lambda: entries)
    root = registry.fetch("tiny", data_dir=tmp_path, progress=False)
    assert root == tmp_path / "tiny" / "set" / "set"
    paths = split_files("tiny", "val", data_dir=tmp_path)
    manifest = registry.scan_cache("tiny", "val", data_dir=tmp_path)
    assert len(paths) == 6 and all("/val/" in p.as_posix() for p in paths)
    assert manifest.name == "scan-val.json"
    server.close()  # fetched once: works offline from now on
    assert registry.fetch("tiny", data_dir=tmp_path) == root
