"""Regressions of the newcomer trial and fault audit (issue 15): each test failed before.

Grouped as the issue lists them: data loss and hangs, late or silent failures, hostile input,
temporary files, smaller faults, and what a student sees.
"""

import hashlib
import io
import json
import os
import pathlib
import subprocess
import sys
import tarfile
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from colorlab.data import archives, download, registry
from colorlab.cli import main
from colorlab.data.photos import OUTPUT_MARKER
from conftest import make_photo

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _folder(path, count=3, size=(40, 48)):
    path.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(make_photo(i, size)).save(path / f"p{i}.png")
    return path


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
            if p.is_file()}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """An untrained width-1/16 Zhang model saved as .keras (colorize only needs its shapes)."""
    from colorlab import models

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    models.zhang_eccv16(width=1 / 16).save(path)
    return path


# === 1. Originals are never overwritten, results never read back ==============================


def test_output_folder_equal_to_the_input_folder_is_refused(tmp_path, tiny_model, capsys):
    photos = _folder(tmp_path / "d")
    before = _digests(photos)
    status = main(["colorize", str(photos), "-o", str(photos), "--model", str(tiny_model),
                   "--overwrite"])
    assert status == 2 and "is an input folder" in capsys.readouterr().err
    assert _digests(photos) == before  # the originals are untouched


def test_a_result_that_would_replace_an_input_file_is_refused(tmp_path, tiny_model, capsys):
    photos = _folder(tmp_path / "d")
    before = _digests(photos)
    status = main(["colorize", str(photos / "p0.png"), "-o", str(photos), "--model",
                   str(tiny_model), "--overwrite"])
    assert status == 2 and "would replace an input" in capsys.readouterr().err
    assert _digests(photos) == before


def test_an_output_folder_spelled_through_a_link_is_still_the_input(tmp_path, tiny_model,
                                                                   capsys):
    photos = _folder(tmp_path / "d")
    (tmp_path / "link").symlink_to(photos)
    assert main(["colorize", str(photos), "-o", str(tmp_path / "link"), "--model",
                 str(tiny_model)]) == 2
    assert "is an input folder" in capsys.readouterr().err
    assert sorted(p.name for p in photos.iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_a_folder_of_photos_given_as_output_is_not_hidden(tmp_path, tiny_model):
    from colorlab.colorize import colorize_folder
    from colorlab.data.photos import list_images
    from colorlab.models import load_model

    cats = _folder(tmp_path / "data" / "cats", count=2)
    bw = _folder(tmp_path / "bw", count=1)
    (bw / "p0.png").rename(bw / "old.png")
    colorize_folder(load_model(tiny_model, compile=False), bw, cats, progress=False)
    assert not (cats / OUTPUT_MARKER).exists()  # the user's folder, not colorlab's
    assert len(list_images(tmp_path / "data")) == 3


def test_an_output_folder_inside_the_input_is_never_read_back(tmp_path, tiny_model):
    from colorlab.colorize import colorize_folder
    from colorlab.models import load_model

    photos = _folder(tmp_path / "d")
    model = load_model(tiny_model, compile=False)
    first = colorize_folder(model, photos, photos / "colorized", progress=False)
    again = colorize_folder(model, photos, photos / "colorized", progress=False)
    other = colorize_folder(model, photos, photos / "other", progress=False)
    assert len(first.written) == 3 and (again.written, len(again.existing)) == ([], 3)
    assert len(other.written) == 3  # not 6: the marked results folder is left out
    assert (photos / "colorized" / OUTPUT_MARKER).is_file()
    assert not (photos / "colorized" / "colorized").exists()


# === 2. A half download never passes for complete ==============================================


def _tar(members, gz=True):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _members(count=6, size=3000):
    rng = np.random.default_rng(0)
    return {f"set/{i}.bin": rng.integers(0, 255, size, dtype=np.uint8).tobytes()
            for i in range(count)}


@pytest.mark.parametrize("gz", [True, False], ids=["tgz", "tar"])
def test_a_cut_archive_without_content_length_is_deleted_not_recorded(server, tmp_path, gz):
    name = "set.tgz" if gz else "set.tar"
    body = _tar(_members(), gz)
    server.files["/" + name] = body
    server.length = False
    server.cut_after = len(body) // 2 if gz else 512 * 8  # tar: cut between members
    with pytest.raises(download.ChecksumError, match="incomplete or corrupt"):
        download.download(server.url + "/" + name, tmp_path, name, progress=False)
    assert not (tmp_path / name).exists() and not (tmp_path / "checksums.json").exists()
    server.cut_after = None  # the whole file: proven by its end, then recorded
    path = download.download(server.url + "/" + name, tmp_path, name, progress=False)
    assert json.loads((tmp_path / "checksums.json").read_text()) == {
        name: hashlib.sha256(body).hexdigest()}
    assert path.read_bytes() == body


def test_an_html_error_page_is_not_recorded_as_the_archive(server, tmp_path):
    server.files["/set.zip"] = b"<!DOCTYPE html><html><body>Moved</body></html>"
    server.content_type = "text/html; charset=utf-8"
    with pytest.raises(download.DownloadError, match="web page"):
        download.download(server.url + "/set.zip", tmp_path, "set.zip", progress=False)
    server.content_type = "application/zip"  # the page again, with a wrong type
    with pytest.raises(download.ChecksumError, match="does not start like a zip"):
        download.download(server.url + "/set.zip", tmp_path, "set.zip", progress=False)
    assert not (tmp_path / "checksums.json").exists()


def test_a_plain_file_of_unknown_length_is_not_trusted(server, tmp_path):
    server.files["/list.txt"] = b"a 1\nb 2\n"
    server.length = False
    with pytest.raises(download.ChecksumError, match="cannot be told from a cut one"):
        download.download(server.url + "/list.txt", tmp_path, "list.txt", progress=False)


def test_a_corrupt_recorded_archive_is_one_error_then_forgotten(tmp_path, monkeypatch):
    body = _tar(_members())
    entries = {"tiny": {"kind": "archive", "files": [
        {"url": "http://127.0.0.1:9/set.tgz", "filename": "set.tgz", "size": None,
         "sha256": None}]}}
    monkeypatch.setattr(registry, "load_registry", lambda: entries)
    downloads = tmp_path / "tiny" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "set.tgz").write_bytes(body)  # placed by hand, complete: recorded
    registry.fetch("tiny", data_dir=tmp_path, progress=False)
    assert "set.tgz" in json.loads((downloads / "checksums.json").read_text())
    assert registry.forget("tiny", data_dir=tmp_path) == ["set.tgz", "set/"]
    assert not (tmp_path / "tiny").exists()  # nothing left behind, recorded checksum included
    downloads.mkdir(parents=True)
    cut = body[: len(body) // 2]
    (downloads / "set.tgz").write_bytes(cut)  # a cut copy by hand
    with pytest.raises(download.ChecksumError, match="incomplete or corrupt"):
        registry.fetch("tiny", data_dir=tmp_path, progress=False)
    assert not (downloads / "checksums.json").exists()  # never recorded
    # A cut archive whose hash an earlier version recorded: one error, then deleted.
    (downloads / "checksums.json").write_text(json.dumps(
        {"set.tgz": hashlib.sha256(cut).hexdigest()}))
    with pytest.raises(download.ChecksumError, match="corrupt or cut short.*deleted"):
        registry.fetch("tiny", data_dir=tmp_path, progress=False)
    assert not (downloads / "set.tgz").exists()
    assert json.loads((downloads / "checksums.json").read_text()) == {}


def test_data_forget_is_a_command(tmp_path, capsys):
    assert main(["data", "forget", "bsds500", "--data-dir", str(tmp_path)]) == 0
    assert "nothing downloaded" in capsys.readouterr().out
    assert main(["data", "forget", "sample", "--data-dir", str(tmp_path)]) == 2


# === 3. No hang on a FIFO ====================================================================


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_named_like_a_photo_is_never_opened(tmp_path, tiny_model, capsys):
    import signal

    from colorlab.data.photos import list_images, scan_images

    def hung(*_):
        raise TimeoutError("reading the FIFO blocked")

    signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)  # a hang fails the test instead of stopping the suite
    photos = _folder(tmp_path / "d", count=2)
    os.mkfifo(photos / "pipe.jpg")
    assert [p.name for p in list_images(photos)] == ["p0.png", "p1.png"]
    report = scan_images([photos / "pipe.jpg", photos / "p0.png"])
    assert report.skipped == [(str(photos / "pipe.jpg"), "not a regular file")]
    status = main(["colorize", str(photos), "-o", str(tmp_path / "out"), "--model",
                   str(tiny_model)])  # would block forever reading the FIFO
    assert status == 0
    status = main(["colorize", str(photos / "pipe.jpg"), "-o", str(tmp_path / "out2"),
                   "--model", str(tiny_model)])
    assert status == 2 and "FIFO" in capsys.readouterr().err
    signal.alarm(0)


# === 5. Sizes checked up front ==================================================================


@pytest.mark.parametrize("options, message", [
    (["--image-size", "100"], "multiple of 8"),
    (["--image-size", "12"], "multiple of 8"),
    (["--image-size", "16"], "from 32 to 1024"),
    (["--image-size", "33"], "multiple of 8 (the stride of zhang_eccv16) from 32 to 1024, got "
                             "33; e.g. 32 or 40"),
    (["--image-size", "100000"], "from 32 to 1024"),
    (["--width", "1e6"], "width"),
    (["--model", "unet_generator", "--image-size", "176"], "multiple of 32"),
])
def test_training_sizes_are_checked_before_anything_runs(tmp_path, capsys, options, message):
    status = main(["train", "--data", "sample", "--out", str(tmp_path / "run"), *options])
    assert status == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_render_and_evaluation_sizes_are_capped(tmp_path, tiny_model, capsys):
    assert main(["colorize", str(tmp_path), "-o", str(tmp_path / "o"), "--model",
                 str(tiny_model), "--render-size", "20000"]) == 2
    assert "from 32 to 2048" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(tiny_model), "--size", "20000"]) == 2
    assert "--size must be from 32 to 1024" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(tiny_model), "--limit", "-1"]) == 2
    assert "--limit must be 1 or more" in capsys.readouterr().err


def test_each_model_reports_its_side_multiple():
    from colorlab.models import side_multiple

    assert side_multiple("zhang_eccv16") == 8 and side_multiple("vgg16_colorizer") == 32
    assert side_multiple("unet_generator") == 32
    assert side_multiple("unet_generator", {"down_filters": [8] * 7}) == 128
    assert side_multiple("resnet_colorizer", {"stackwise_num_filters": [8, 8, 8, 8]}) == 32


# === 7, 8. Bad file names and undecodable photos are skipped and counted =======================


def _rle8_bmp(path, width=20, height=20):
    """A BMP with RLE8 compression: Pillow reads it, TensorFlow's decoder cannot."""
    rows = b"".join(bytes([width, i % 256]) + b"\x00\x00" for i in range(height)) + b"\x00\x01"
    palette = b"".join(bytes([i, 255 - i, (3 * i) % 256, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    header = b"BM" + (offset + len(rows)).to_bytes(4, "little") + bytes(4) + \
        offset.to_bytes(4, "little")
    info = (40).to_bytes(4, "little") + width.to_bytes(4, "little") + \
        height.to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little") + \
        (1).to_bytes(4, "little") + len(rows).to_bytes(4, "little") + bytes(8) + \
        (256).to_bytes(4, "little") + bytes(4)
    path.write_bytes(header + info + palette + rows)


def test_photos_tensorflow_cannot_decode_are_counted_and_none_usable_is_an_error(tmp_path):
    from colorlab.data.photos import scan_images
    from colorlab.data.pipeline import make_dataset

    folder = tmp_path / "bmp"
    folder.mkdir()
    for i in range(3):
        _rle8_bmp(folder / f"r{i}.bmp")
    assert Image.open(folder / "r0.bmp").size == (20, 20)  # Pillow reads it
    report = scan_images(sorted(folder.iterdir()))
    assert report.counts() == {"usable": 0, "corrupt for TensorFlow": 3}
    with pytest.raises(ValueError, match="No usable photos in .*corrupt for TensorFlow"):
        make_dataset(str(folder))


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="file names must be UTF-8")
def test_a_file_name_that_is_not_utf8_is_skipped_and_counted(tmp_path):
    from colorlab.data.photos import list_images, scan_images
    from colorlab.data.sources import split_paths

    folder = _folder(tmp_path / "d", count=2)
    bad = os.fsencode(folder) + b"/caf\xe9.png"
    Image.fromarray(make_photo(7, (40, 48))).save(bad.decode("utf-8", "surrogateescape"))
    files = list_images(folder)
    assert len(files) == 3 and sum(len(v) for v in split_paths(files, folder).values()) == 3
    report = scan_images(files)
    assert report.counts() == {"usable": 2, "file name not UTF-8": 1}
    out = tmp_path / "prior.npy"  # the whole folder is still usable end to end
    assert main(["data", "prior", str(folder), "--image-size", "32", "--out", str(out)]) == 0
    assert np.load(out).sum() == pytest.approx(1.0)


def test_skipped_names_that_are_not_utf8_print_on_a_strict_terminal(monkeypatch):
    from colorlab.data.photos import ImageInfo, ScanReport
    from colorlab.train.run import _report_photos

    raw = io.BytesIO()
    strict = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", strict)
    bad = "/photos/caf\udce9.png"  # how Python spells the bytes caf\xe9
    _report_photos("Training", None, ScanReport([ImageInfo(bad, False, "file name not UTF-8")]))
    strict.flush()
    assert b"caf\\udce9.png: file name not UTF-8" in raw.getvalue()


def test_training_reports_its_skipped_files(finished_run):
    base, _, printed = finished_run
    assert ("Training photos (every photo): 4 of 6 photos usable; skipped 2: 1 empty file, "
            "1 not an image") in printed
    assert "broken.png: not an image" in printed


# === 9. state.json is untrusted; checkpoints belong to their run ==============================


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished two-step run on 4 photos and 2 bad files: (folder, config, what it printed)."""
    import contextlib

    from colorlab.train import TrainConfig, train

    base = tmp_path_factory.mktemp("run")
    folder = _folder(base / "photos", count=4)
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "empty.jpg").write_bytes(b"")
    config = TrainConfig(model="zhang_eccv16", model_args={"width": 1 / 16}, data=str(folder),
                         train_split=None, val_split=None, image_size=32, batch_size=2,
                         epochs=1, steps_per_epoch=2, samples=0, cache=False, prior="none",
                         checkpoint_every=1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        train(config, base / "run", verbose=0)
    return base, config, printed.getvalue()


def _copy_run(finished_run, tmp_path):
    """A copy of the finished run's folder to change: (its path, the run's config)."""
    import shutil

    base, config, _ = finished_run
    shutil.copytree(base / "run", tmp_path / "run")
    return tmp_path / "run", config


@pytest.mark.parametrize("text", ["null", "[1, 2]", '{"step": 1e400}', '{"step": 10000000000}',
                                  '{"step": NaN}', "{"])
def test_a_damaged_state_json_is_one_clear_error(finished_run, tmp_path, text):
    from colorlab.train import train

    run, config = _copy_run(finished_run, tmp_path)
    (run / "state.json").write_text(text)
    with pytest.raises(ValueError, match="state.json is damaged"):
        train(config, run, verbose=0)


def test_a_checkpoint_from_another_run_is_refused(finished_run, tmp_path):
    from colorlab import models
    from colorlab.train import train

    run, config = _copy_run(finished_run, tmp_path)
    models.zhang_eccv16(width=1 / 16).save(run / "checkpoints" / "last.keras")
    with pytest.raises(ValueError, match="not the checkpoint this run saved"):
        train(config, run, verbose=0)


def test_the_same_data_folder_spelled_differently_resumes(finished_run, tmp_path):
    import dataclasses
    import shutil

    from colorlab.train import train

    base, config, _ = finished_run
    run = tmp_path / "run"
    shutil.copytree(base / "run", run)
    stale = run / "checkpoints" / ".last.keras.k1ll3d.partial.keras"  # left by a kill -9
    stale.write_bytes(b"half a checkpoint")
    spelled = os.path.relpath(config.data) + os.sep  # relative, with a trailing slash
    longer = dataclasses.replace(config, data=spelled, epochs=2)
    assert train(longer, run, verbose=0).steps == 4
    assert not stale.exists()  # swept under the run's lock


def test_a_kill_between_state_and_checkpoint_rename_still_resumes(finished_run, tmp_path,
                                                                  monkeypatch):
    import shutil

    import keras

    from colorlab import files
    from colorlab.train.folder import resume_state
    from colorlab.train.callbacks import StepCheckpoint

    base, _, _ = finished_run
    run = tmp_path / "run"
    shutil.copytree(base / "run", run)
    state = resume_state(run)
    callback = StepCheckpoint(run, 1, 2, state["step"], state)  # a resumed session
    callback.set_model(keras.models.load_model(run / "checkpoints" / "last.keras"))
    callback.step += 1
    real_replace = os.replace

    def killed(source, target):
        if str(target).endswith("last.keras"):
            raise KeyboardInterrupt  # after state.json names the new checkpoint
        real_replace(source, target)

    monkeypatch.setattr(files.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        callback._save()
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert json.loads((run / "state.json").read_text())["step"] == state["step"] + 1
    assert resume_state(run)["step"] == state["step"]  # the previous entry still matches


def test_evaluate_warns_when_a_model_is_scored_on_photos_it_trained_on(finished_run, tmp_path,
                                                                      capsys):
    base, config, _ = finished_run
    status = main(["evaluate", "--model", str(base / "run"), "--data", config.data, "--split",
                   "train", "--size", "32", "--out", str(tmp_path / "ev")])
    printed = capsys.readouterr()
    assert status == 0 and "not held-out scores" in printed.err
    assert f"| {base / 'run'} |" in printed.out  # the run's path, not just "run"
    assert f"models see {base / 'run'}: 32 px" in printed.out  # its training size


# === 6. One run per folder ======================================================================


@pytest.mark.skipif(sys.platform == "win32", reason="the test's holder uses fcntl")
def test_a_run_folder_is_locked_while_training_and_a_stale_lock_is_taken_over(tmp_path):
    from colorlab.train import RunInUse
    from colorlab.train.folder import RunLock

    run = tmp_path / "run"
    run.mkdir()
    with RunLock(run):
        with pytest.raises(RunInUse, match=f"pid {os.getpid()}"):
            with RunLock(run):
                pass
    # Another process holds it: refused; then that process is killed: the kernel frees the
    # lock, its file stays with the dead holder's name, and the next run takes it over.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         f"fd = os.open({str(run / 'lock')!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'pid 1 on elsewhere')\n"
         "print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUse, match="in use by another training run .pid 1 on elsewhere"):
            RunLock(run).__enter__()
    finally:
        holder.kill()
        holder.wait(timeout=60)
    with RunLock(run):
        assert str(os.getpid()) in (run / "lock").read_text()


# === 10. Divergence by explosion; a non-finite model is an error ===============================


def test_an_exploding_loss_stops_the_run_before_a_bad_checkpoint(tmp_path):
    import keras

    from colorlab.train.callbacks import StepCheckpoint

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    callback = StepCheckpoint(run, every=1, steps_per_epoch=10, start=0)
    callback.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    callback.on_train_batch_end(0, {"loss": 5.0})
    callback.on_train_batch_end(1, {"loss": 4.0})
    callback.on_train_batch_end(2, {"loss": 5.9e29})
    assert callback.diverged_at == 3 and "exploded" in callback.problem
    assert callback.saved_step == 2  # the step that exploded saved nothing
    callback.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    assert not (run / "history.csv").exists()


def test_a_model_with_nan_weights_is_an_error_not_a_black_image(tmp_path, tiny_model, capsys):
    from colorlab import models
    from colorlab.colorize import NonFiniteOutput, colorize

    model = models.zhang_eccv16(width=1 / 16)
    model.get_layer("logits").kernel.assign(np.full(model.get_layer("logits").kernel.shape,
                                                    np.nan, "float32"))
    with pytest.raises(NonFiniteOutput, match="NaN or infinity"):
        colorize(model, make_photo(0, (48, 48)), render_size=48)
    model.save(tmp_path / "nan.keras")
    photos = _folder(tmp_path / "d", count=1)
    status = main(["colorize", str(photos), "-o", str(tmp_path / "out"), "--model",
                   str(tmp_path / "nan.keras")])
    assert status == 2 and "NaN or infinity" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.png"))


def test_a_tiny_temperature_is_the_mode_not_nan(tiny_model):
    from colorlab import ColorBins

    bins = ColorBins.zhang313()
    logits = np.random.default_rng(0).normal(size=(4, 4, 313)).astype("float32") * 30
    assert np.allclose(bins.decode(logits, 1e-300, from_logits=True),
                       bins.decode(logits, 0.0, from_logits=True))


# === 11. Caps against hostile input =============================================================


def test_an_archive_bomb_is_refused_before_writing(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(150 << 20))  # 150 MB of zeros: about 150 kB zipped
    assert archive.stat().st_size < 1 << 20
    with pytest.raises(download.UnsafeArchiveError, match="archive bomb"):
        archives.extract(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.zip"]


def test_a_stream_longer_than_its_published_size_is_cut_off(server, tmp_path):
    server.files["/a.bin"] = b"x" * 1000
    server.length, server.extra = False, b"y" * 5000
    with pytest.raises(download.DownloadError, match="more than its declared 1,000 bytes"):
        download.download(server.url + "/a.bin", tmp_path, "a.bin", size=1000, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_trickling_server_is_stopped_and_the_part_kept(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_RATE_WINDOW", 0.5)
    monkeypatch.setattr(download, "_MIN_RATE", 100)
    server.files["/a.bin"] = b"z" * 200
    server.trickle = 0.05  # 20 bytes a second
    started = time.monotonic()
    with pytest.raises(download.DownloadError, match="slower than 100 bytes/s"):
        download.download(server.url + "/a.bin", tmp_path, "a.bin", progress=False)
    assert time.monotonic() - started < 5
    assert (tmp_path / "a.bin.part").exists() and not (tmp_path / "a.bin").exists()


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    from colorlab.train import load_config

    names = "abcdefghi"
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):  # each level nine aliases of the one before: 9^9 strings
        lines.append(f"{names[i]}: &{names[i]} [{', '.join(['*' + names[i - 1]] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 1000
    started = time.monotonic()
    with pytest.raises(ValueError, match="YAML alias"):
        load_config(path)
    assert time.monotonic() - started < 2


def test_a_very_long_strip_is_cropped_before_scaling():
    import tensorflow as tf

    from colorlab.data.decode import resize_short_side

    strip = tf.zeros([16, 200_000, 3])
    assert resize_short_side(strip, 201).shape == (201, 804, 3)


# === 12. Temporary files are private ===========================================================


def test_a_symlink_planted_at_a_temporary_name_is_never_followed(tmp_path, server):
    from colorlab.files import atomic_path, write_text_atomic

    from colorlab import models
    from colorlab.train.folder import save_atomic

    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    folder = tmp_path / "run"
    folder.mkdir()
    for name in (".state.json.partial", "last.partial.keras", ".x.png.partial"):
        (folder / name).symlink_to(outside)  # the temporary names colorlab used to use
    write_text_atomic(folder / "state.json", "{}")
    with atomic_path(folder / "x.png") as tmp:
        tmp.write_bytes(b"png")
    save_atomic(models.zhang_eccv16(width=1 / 16), folder / "last.keras")
    assert outside.read_text() == "precious" and (folder / "x.png").read_bytes() == b"png"
    assert zipfile.is_zipfile(folder / "last.keras")
    mask = os.umask(0)
    os.umask(mask)  # results get the permissions open() gives, not owner-only
    assert (folder / "x.png").stat().st_mode & 0o777 == 0o666 & ~mask
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "data.bin.part").symlink_to(outside)
    server.files["/data.bin"] = b"payload"
    download.download(server.url + "/data.bin", tmp_path / "dl", "data.bin", progress=False)
    assert outside.read_text() == "precious"
    assert (tmp_path / "dl" / "data.bin").read_bytes() == b"payload"


def test_a_complete_part_file_is_used_not_requested_again(tmp_path):
    data = b"all the bytes"
    (tmp_path / "a.bin.part").write_bytes(data)  # stopped while it was being checked
    path = download.download("http://127.0.0.1:9/a.bin", tmp_path, "a.bin", size=len(data),
                          sha256=hashlib.sha256(data).hexdigest(), progress=False)
    assert path.read_bytes() == data


def test_a_part_file_without_a_checksum_or_validator_starts_afresh(server, tmp_path):
    body = _tar(_members())
    server.files["/set.tgz"] = body
    (tmp_path / "set.tgz.part").write_bytes(b"bytes of some other file")
    path = download.download(server.url + "/set.tgz", tmp_path, "set.tgz", progress=False)
    assert path.read_bytes() == body  # not spliced onto the stale bytes


def test_real_tar_layouts_pass_and_an_all_zero_file_does_not(tmp_path):
    for name, fmt in (("gnu.tar", tarfile.GNU_FORMAT), ("pax.tar", tarfile.PAX_FORMAT)):
        with tarfile.open(tmp_path / name, "w", format=fmt) as tar:
            info = tarfile.TarInfo("d/" + "long-name-" * 15 + "\u00e9.png")
            info.size = 700
            tar.addfile(info, io.BytesIO(bytes(700)))
        assert (tmp_path / name).stat().st_size % 10240 == 0  # padded to whole records
        assert archives.archive_problem(tmp_path / name, "tar") == ""
    (tmp_path / "zeros.tar").write_bytes(bytes(10240))
    assert "no members" in archives.archive_problem(tmp_path / "zeros.tar", "tar")


@pytest.mark.parametrize("name", ["../x.bin", "/tmp/x.bin", "a/b.bin", "..", ""])
def test_download_refuses_file_names_with_folders(tmp_path, name):
    with pytest.raises(ValueError, match="plain file name"):
        download.download("http://127.0.0.1:9/x", tmp_path, name, progress=False)


# === 13. Smaller faults =========================================================================


def test_model_files_that_are_not_models_give_one_clear_error(tmp_path, capsys):
    from colorlab.models import load_model

    (tmp_path / "corrupt.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="not a readable .keras file"):
        load_model(tmp_path / "corrupt.keras")
    evil = tmp_path / "evil.keras"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("config.json", json.dumps({
            "module": "os", "class_name": "system", "config": {"command": "echo hacked"},
            "registered_name": "system"}))
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
    with pytest.raises(ValueError, match="could not be loaded as a model"):
        load_model(evil)
    assert main(["colorize", str(tmp_path), "-o", str(tmp_path / "o"), "--model",
                 str(evil)]) == 2
    assert "hacked" not in capsys.readouterr().out


def test_a_plain_keras_model_is_refused_by_colorize():
    import keras

    from colorlab.colorize import colorize

    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1)])
    with pytest.raises(ValueError, match="not a colorlab colorizer"):
        colorize(plain, make_photo(0, (8, 8)))


def test_data_prior_out_takes_a_folder_and_defaults_to_the_cache(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "photos", count=2, size=(40, 40))
    target = tmp_path / "priors"
    target.mkdir()
    assert main(["data", "prior", str(folder), "--out", str(target), "--image-size", "32"]) == 0
    assert [p.name for p in target.iterdir()] == ["photos_prior.npy"]
    monkeypatch.chdir(tmp_path)
    assert main(["data", "prior", str(folder), "--image-size", "32",
                 "--data-dir", str(tmp_path / "cache")]) == 0
    assert not list(tmp_path.glob("*.npy"))  # not into the current folder
    assert len(list((tmp_path / "cache" / "priors").glob("photos-*_prior.npy"))) == 1


def test_max_steps_alone_is_not_capped_by_the_default_epochs():
    from colorlab.train import TrainConfig
    from colorlab.train.run import _stop_step

    assert _stop_step(TrainConfig(max_steps=30, steps_per_epoch=1), 1, 0) == 30
    assert _stop_step(TrainConfig(), 5, 0) == 50  # 10 epochs by default
    assert _stop_step(TrainConfig(max_steps=30, epochs=2), 5, 0) == 10  # said aloud


def test_an_epoch_row_survives_a_kill_between_checkpoint_and_csv(finished_run, tmp_path):
    import shutil

    from colorlab.train.callbacks import StepCheckpoint

    base, _, _ = finished_run
    run = tmp_path / "run"
    shutil.copytree(base / "run", run)
    rows = (run / "history.csv").read_text().splitlines()
    assert len(rows) == 2
    (run / "history.csv").write_text(rows[0] + "\n")  # killed before the row was written
    from colorlab.train.folder import resume_state

    StepCheckpoint(run, 1, 2, 2, resume_state(run))
    assert (run / "history.csv").read_text().splitlines() == rows


def test_a_run_folder_inside_the_data_folder_adds_nothing_to_the_data(finished_run, tmp_path):
    import shutil

    from colorlab.data.photos import list_images

    base, _, _ = finished_run
    assert (base / "run" / OUTPUT_MARKER).is_file()
    data = tmp_path / "photos"
    shutil.copytree(base / "photos", data)
    shutil.copytree(base / "run", data / "run")  # as if trained into the data folder
    (data / "run" / "samples").mkdir(exist_ok=True)
    Image.fromarray(make_photo(9, (40, 40))).save(data / "run" / "samples" / "epoch_001.png")
    assert [p.name for p in list_images(data)] == [
        "broken.png", "empty.jpg", *(f"p{i}.png" for i in range(4))]
    (data / "run" / OUTPUT_MARKER).unlink()  # without the marker the figure would join
    assert "epoch_001.png" in [p.name for p in list_images(data)]


def test_sample_figures_are_marked_even_when_the_run_folder_is_the_data(tmp_path, tiny_model):
    from colorlab.models import load_model
    from colorlab.train import TrainConfig
    from colorlab.train.callbacks import SampleColorizations, StepCheckpoint

    data = _folder(tmp_path / "photos", count=2)  # train --out photos: the run is the data
    checkpointer = StepCheckpoint(data, 1, 1, 0)
    samples = SampleColorizations(data / "samples", np.stack([make_photo(0, (32, 32))]),
                                   TrainConfig(image_size=32), checkpointer)
    samples.set_model(load_model(tiny_model, compile=False))
    samples.on_epoch_end(0)
    assert (data / "samples" / "epoch_001.png").is_file()
    assert (data / "samples" / OUTPUT_MARKER).is_file()


# === 14, 16, 18. What a student sees ===========================================================


def test_cli_start_up_prints_no_cuda_error_and_version(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-m", "colorlab.cli", "--version"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.startswith("colorlab ")
    assert done.stderr.strip() == ""
    # A command that imports TensorFlow (colorlab models builds the method table).
    done = subprocess.run([sys.executable, "-m", "colorlab.cli", "models"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and "zhang_eccv16" in done.stdout
    assert "cuInit" not in done.stderr and "cuda" not in done.stderr.lower(), done.stderr
    assert done.stderr.strip() == ""


def test_colorize_exit_status_follows_the_rule(tmp_path, tiny_model, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["colorize", str(empty), "-o", str(tmp_path / "o"), "--model",
                 str(tiny_model)]) == 2
    assert "No photos" in capsys.readouterr().err
    photos = _folder(tmp_path / "d", count=2)
    (photos / "bad.png").write_bytes(b"not a png")
    args = ["colorize", str(photos), "-o", str(tmp_path / "out"), "--model", str(tiny_model)]
    assert main(args) == 1 and main(args) == 1  # a rerun says the same
    (photos / "bad.png").unlink()
    assert main(args) == 0
    (tmp_path / "file.png").write_bytes(b"x")
    assert main(["colorize", str(photos), "-o", str(tmp_path / "file.png"), "--model",
                 str(tiny_model)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_data_list_shows_sizes_and_what_is_here(tmp_path, capsys):
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "99.0 MB" in lines["imagenette160"] and " no " in lines["imagenette160"]
    assert "unknown" in lines["bsds500"]


def test_notebook_next_links_follow_the_series():
    import nbformat

    for number, following in (("00", "01"), ("01", "02"), ("02", "03"), ("03", "04"),
                              ("04", "05")):
        notebook = next((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        text = "".join(c.source for c in nbformat.read(notebook, 4).cells)
        nxt = next((ROOT / "notebooks").glob(f"{following}_*.ipynb")).name
        assert nxt in text, f"{notebook.name} should link to {nxt}"


def test_show_model_leaves_no_stray_output():
    from colorlab import models, notebook

    assert notebook.show_model(models.zhang_eccv16(width=1 / 16)) is None


# === 4. Every method trains from the command line, at its own defaults, with validation ========


@pytest.fixture(scope="module")
def labelled_photos(tmp_path_factory):
    """24 small photos in two class folders; the hash split puts some in val."""
    from colorlab.data.sources import split_paths

    root = tmp_path_factory.mktemp("labelled") / "photos"
    for c in range(2):
        _folder(root / f"class{c}", count=12, size=(48, 56))
        for path in (root / f"class{c}").iterdir():
            path.rename(path.with_name(f"c{c}_{path.name}"))
    assert split_paths(sorted(root.rglob("*.png")), root)["val"], "no val photo"
    return root


@pytest.mark.slow  # the default suite trains from the CLI in the round trip and the demo
@pytest.mark.parametrize("model, extra", [
    ("zhang_eccv16", []),
    ("zhang_siggraph17", []),
    ("vgg16_colorizer", ["--weights", "none"]),
    ("resnet_colorizer", []),
    ("iizuka_two_stream", []),
    ("unet_generator", []),
])
def test_every_method_trains_from_the_cli_with_validation(labelled_photos, tmp_path, capsys,
                                                         model, extra):
    run = tmp_path / "run"
    status = main(["train", "--model", model, "--data", str(labelled_photos), "--width",
                   "0.0625", "--batch-size", "2", "--max-steps", "1", "--steps-per-epoch", "1",
                   "--out", str(run), *extra])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    history = (run / "history.csv").read_text().splitlines()
    assert "val_loss" in history[0], history
    row = dict(zip(history[0].split(","), history[-1].split(",")))
    assert np.isfinite(float(row["loss"])) and np.isfinite(float(row["val_loss"]))
    assert "Validation photos (the 'val' split):" in printed.out
    assert "No validation" not in printed.out


def test_does_it_learn_falls_back_to_a_registry_set_without_shared_photos(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("does_it_learn",
                                                  ROOT / "benchmarks" / "does_it_learn.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    source = script.choose_photos(tmp_path / "no-shared-photos")
    assert source["data"] == "bsds500" and source["train_split"] == "train"
    assert "fetched once instead" in source["note"]
    for folder in ("imagenet-sample", "bsds500/train", "bsds500/val"):
        (tmp_path / "shared" / folder).mkdir(parents=True)
    assert script.choose_photos(tmp_path / "shared")["data"] is None


# === 15. The demo says up front what it needs ===================================================


def test_the_demo_refuses_too_few_photos_before_training(tmp_path, capsys):
    from colorlab.data.sources import split_of

    folder = tmp_path / "few"
    folder.mkdir()
    names = [n for n in (f"x{i}.png" for i in range(40)) if split_of(n) != "test"][:3]
    for i, name in enumerate(names):
        Image.fromarray(make_photo(i, (40, 48))).save(folder / name)
    started = time.monotonic()
    status = main(["demo", "--data", str(folder), "--out", str(tmp_path / "demo")])
    printed = capsys.readouterr()
    assert status == 2 and time.monotonic() - started < 30  # no minutes of training first
    assert ("train+val 3 of 3 photos usable, to train on; test 0 of 0 photos usable, held out"
            in printed.out)
    assert "needs at least 1 usable photo to train on and 1 held out" in printed.err
    assert not (tmp_path / "demo").exists()


# === The newcomer trial's findings ===============================================================


def test_scan_images_takes_a_folder_not_its_characters(tmp_path):
    from colorlab.data.photos import scan_images

    folder = _folder(tmp_path / "d", count=2)
    assert scan_images(str(folder)).counts() == {"usable": 2}


def test_colorize_reads_tiff_counts_other_files_and_colorizes_a_file_once(tmp_path, tiny_model,
                                                                         capsys):
    photos = _folder(tmp_path / "d", count=1)
    Image.fromarray(make_photo(3, (40, 48))).save(photos / "scan.tif")
    (photos / "notes.txt").write_text("not a photo")
    assert main(["colorize", str(photos), str(photos / "p0.png"), "-o", str(tmp_path / "o"),
                 "--model", str(tiny_model)]) == 0
    assert sorted(p.name for p in (tmp_path / "o").glob("*.png")) == ["p0.png", "scan.png"]
    assert "left out 1 file(s) that are not photos colorize reads (.txt)" in \
        capsys.readouterr().err


def test_a_failed_first_start_leaves_no_run_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "vgg16_colorizer", "--width", "0.125", "--data",
                 str(_folder(tmp_path / "d", count=2)), "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "--weights none" in err and not run.exists()


def test_cli_hints_for_weights_and_typos(tmp_path, capsys):
    assert main(["train", "--weights", "none", "--out", str(tmp_path / "r")]) == 2
    assert "--weights is for vgg16_colorizer and resnet_colorizer" in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    config.write_text("max_step: 3\nwidth: 0.5\n")
    assert main(["train", str(config), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "max_step: did you mean max_steps?" in err and "put it under model_args" in err


def test_data_prior_refuses_an_out_name_that_is_neither_npy_nor_a_folder(tmp_path, capsys):
    assert main(["data", "prior", "sample", "--out", str(tmp_path / "p.txt")]) == 2
    assert "give a .npy file or a folder" in capsys.readouterr().err
    assert not (tmp_path / "p.txt").exists()


def test_evaluation_leaves_out_near_gray_photos_and_marks_its_folder(tmp_path, tiny_model,
                                                                    capsys):
    photos = _folder(tmp_path / "d", count=3)
    Image.fromarray(np.full((40, 48, 3), 128, np.uint8)).save(photos / "gray.png")
    out = photos / "eval"
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")  # no raw numpy warning either
        assert main(["evaluate", "--model", str(tiny_model), "--data", str(photos), "--split",
                     "train+val+test", "--size", "32", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1 near-gray" in printed and "| gray | " in printed and "inf" not in \
        printed.split("| gray |")[1].split("\n")[0]
    assert (out / OUTPUT_MARKER).is_file()
