"""colorlab.data.photos: listing, hash splits, the bad-file scan (one test per kind), near-gray filter."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from colorlab.data import photos, sources
from conftest import make_photo


def _save(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return str(path)


def _png_header_only(path, width, height):
    """A valid PNG signature and IHDR claiming width x height, with one tiny IDAT."""
    def chunk(kind, payload):
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    data += chunk(b"IEND", b"")
    path.write_bytes(data)
    return str(path)


def _scan_one(path, **kwargs):
    report = photos.scan_images([path], **kwargs)
    return report.images[0], report


def test_list_images_recursive_sorted_case_insensitive(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b/z.JPG", "a.png", "c.txt", ".hidden/x.jpg", "b/.y.jpg", "d.gif"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in photos.list_images(tmp_path)]
    assert found == ["a.png", "b/z.JPG", "d.gif"]
    with pytest.raises(FileNotFoundError, match="not a folder"):
        photos.list_images(tmp_path / "missing")


def test_split_is_deterministic_and_stable_when_files_are_added():
    names = [f"photo_{i:05d}.jpg" for i in range(4000)]
    first = {n: sources.split_of(n) for n in names}
    assert first == {n: sources.split_of(n) for n in names}  # same on every call
    shares = {s: sum(v == s for v in first.values()) / len(names) for s in ("train", "val", "test")}
    assert abs(shares["train"] - 0.8) < 0.03 and abs(shares["val"] - 0.1) < 0.02
    more = sources.split_paths([f"extra_{i}.jpg" for i in range(50)] + names[:100])
    moved = [p.name for s, ps in more.items() for p in ps if p.name in first and first[p.name] != s]
    assert moved == []
    with pytest.raises(ValueError, match="summing to 1"):
        sources.split_of("a.jpg", (0.5, 0.5, 0.5))


def test_split_relative_to_root_separates_equal_names(tmp_path):
    paths = [tmp_path / f"class_{c}" / "0001.jpg" for c in range(40)]
    splits = sources.split_paths(paths, root=tmp_path)
    assert len({s for s, ps in splits.items() if ps}) > 1  # not all in one split


def test_good_photo_is_usable_with_size_and_color(tmp_path):
    info, report = _scan_one(_save(tmp_path / "ok.jpg", make_photo(size=(48, 64))))
    assert info.ok and (info.width, info.height) == (64, 48) and info.colorful > 0.5
    assert report.paths == [info.path] and report.skipped == []


# --- one test per kind of bad file ---------------------------------------------------------------


def test_truncated_jpeg_is_skipped(tmp_path):
    good = tmp_path / "good.jpg"
    _save(good, make_photo(size=(200, 200)), quality=95)
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    info, report = _scan_one(str(bad))
    assert not info.ok and info.reason.startswith("corrupt")
    assert report.skipped == [(str(bad), info.reason)]


def test_zero_byte_file_is_skipped(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    info, _ = _scan_one(str(path))
    assert (info.ok, info.reason) == (False, "empty file")


def test_text_file_named_jpg_is_skipped(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n" * 20)
    info, _ = _scan_one(str(path))
    assert (info.ok, info.reason) == (False, "not an image")


def test_cmyk_jpeg_is_usable(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(make_photo()).convert("CMYK").save(path)
    info, _ = _scan_one(str(path))
    assert info.ok and info.colorful > 0.5


def test_one_pixel_image_is_skipped_as_too_small(tmp_path):
    info, _ = _scan_one(_save(tmp_path / "pixel.png", np.full((1, 1, 3), 200, np.uint8)))
    assert not info.ok and info.reason.startswith("too small (1 x 1")


def test_decompression_bomb_is_refused_from_its_header(tmp_path):
    path = _png_header_only(tmp_path / "bomb.png", 30000, 30000)  # 900 Mpixel claimed
    assert (tmp_path / "bomb.png").stat().st_size < 200
    info, _ = _scan_one(path)
    assert not info.ok and info.reason.startswith("too large")
    info, _ = _scan_one(_save(tmp_path / "big.png", make_photo(size=(100, 100))), max_pixels=5000)
    assert not info.ok and "> 5,000 pixels" in info.reason


def test_unsupported_format_is_skipped(tmp_path):
    info, _ = _scan_one(_save(tmp_path / "photo.png", make_photo(), format="TIFF"))
    assert not info.ok and info.reason == "unsupported format TIFF"


# --- near-gray filter, EXIF, report, manifest -------------------------------------------------


def test_near_gray_filter_drops_grayscale_stored_as_rgb(tmp_path):
    colour = _save(tmp_path / "colour.jpg", make_photo(1))
    gray = np.repeat(make_photo(2)[..., :1], 3, axis=-1)
    gray_path = _save(tmp_path / "gray.jpg", gray)
    report = photos.scan_images([colour, gray_path])
    assert report.paths == [colour]
    assert report.near_gray == [gray_path] and report.skipped == [(gray_path, "near-gray")]
    assert report.counts() == {"usable": 1, "near-gray": 1}
    assert "1 of 2 photos usable; skipped 1: 1 near-gray" == report.summary()
    assert photos.scan_images([colour, gray_path], gray_fraction=None).paths == [colour, gray_path]


def test_colorful_fraction_threshold():
    gray = np.full((10, 10, 3), 0.5, np.float32)
    assert photos.colorful_fraction(gray) == 0.0
    tinted = gray.copy()
    tinted[:3, :, 0] = 0.6  # 30 % of pixels clearly reddish
    assert photos.colorful_fraction(tinted) == pytest.approx(0.3)


def test_exif_orientation_is_read(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(make_photo()).save(path, exif=exif.tobytes())
    info, _ = _scan_one(str(path))
    assert info.ok and info.orientation == 6


def test_manifest_caches_and_notices_changes(tmp_path):
    path = _save(tmp_path / "a.png", make_photo())
    manifest = tmp_path / "scan.json"
    first = photos.scan_images([path], manifest=manifest)
    assert manifest.exists() and first.paths == [path]
    # A cached entry is reused as it is ...
    import json

    cached = json.loads(manifest.read_text())
    cached[path]["info"]["colorful"] = 0.0  # pretend the cache said near-gray
    manifest.write_text(json.dumps(cached))
    assert photos.scan_images([path], manifest=manifest).paths == []
    # ... until the file changes.
    (tmp_path / "a.png").write_bytes(b"")
    assert photos.scan_images([path], manifest=manifest).skipped == [(path, "empty file")]
    manifest.write_text("{ not json")
    assert photos.scan_images([path], manifest=manifest).skipped == [(path, "empty file")]
