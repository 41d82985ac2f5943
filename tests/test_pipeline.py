"""colorlab.data.pipeline, colorlab.data.records and the registry contents: the tf.data input pipeline."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from colorlab import color, data
from colorlab.data import registry
from colorlab.data.targets import Target, unpack_sparse_target
from colorlab.quantize import ColorBins
from conftest import make_photo


@pytest.fixture
def folder(tmp_path):
    """Two class folders of small photos, plus one bad file and one grayscale photo."""
    for c, name in enumerate(("cats", "dogs")):
        (tmp_path / name).mkdir()
        for i in range(5):
            Image.fromarray(make_photo(10 * c + i)).save(tmp_path / name / f"{i}.jpg", quality=95)
    (tmp_path / "dogs" / "broken.jpg").write_text("not a photo")
    gray = np.repeat(make_photo(99)[..., :1], 3, -1)
    Image.fromarray(gray).save(tmp_path / "cats" / "gray.png")
    return tmp_path


# --- decoding every format, in the graph ----------------------------------------------------


@pytest.mark.parametrize("kind", ["grayscale", "rgba", "palette", "gif", "bmp", "png16", "cmyk"])
def test_decode_photo_handles_every_stored_form(tmp_path, kind):
    rgb = make_photo()
    path = tmp_path / "x"
    if kind == "grayscale":
        Image.fromarray(rgb).convert("L").save(path.with_suffix(".png"))
        expected = np.repeat(np.asarray(Image.fromarray(rgb).convert("L"))[..., None], 3, -1)
    elif kind == "rgba":
        Image.fromarray(rgb).convert("RGBA").save(path.with_suffix(".png"))
        expected = rgb
    elif kind == "palette":
        image = Image.fromarray(rgb).convert("P")
        image.save(path.with_suffix(".png"))
        expected = np.asarray(image.convert("RGB"))
    elif kind == "gif":
        image = Image.fromarray(rgb).convert("P")
        image.save(path.with_suffix(".gif"))
        expected = np.asarray(Image.open(path.with_suffix(".gif")).convert("RGB"))
    elif kind == "bmp":
        Image.fromarray(rgb).save(path.with_suffix(".bmp"))
        expected = rgb
    elif kind == "png16":
        import cv2

        cv2.imwrite(str(path.with_suffix(".png")), rgb[..., ::-1].astype(np.uint16) * 257)
        expected = rgb
    else:
        Image.fromarray(rgb).convert("CMYK").save(path.with_suffix(".jpg"), quality=98)
        expected = rgb
    file = next(tmp_path.iterdir())
    decoded = data.load_photo(str(file)).numpy()
    assert decoded.shape == rgb.shape and decoded.dtype == np.float32
    tolerance = 8 if kind == "cmyk" else 1.5  # CMYK went through JPEG
    assert np.abs(decoded * 255 - expected).mean() < tolerance


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    rgb = make_photo(size=(30, 50))
    path = tmp_path / "o.png"
    Image.fromarray(rgb).save(path, exif=exif.tobytes())
    info = data.scan_images([path]).images[0]
    assert info.orientation == orientation
    ours = data.load_photo(str(path), info.orientation).numpy()
    theirs = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    np.testing.assert_allclose(ours * 255, theirs, atol=0.01)


def test_small_photos_are_upscaled_to_the_crop(tmp_path):
    Image.fromarray(make_photo(size=(20, 30))).save(tmp_path / "small.png")
    ds = data.make_dataset(tmp_path, image_size=64, batch_size=1, target="ab")
    x, y = next(iter(ds))
    assert x.shape == (1, 64, 64, 1) and y.shape == (1, 64, 64, 2)


# --- targets -------------------------------------------------------------------------------------


def test_encode_batch_targets_agree_with_colorlab_functions():
    rgb = np.stack([make_photo(s, (32, 32)) for s in range(2)]).astype(np.float32) / 255
    lab = color.rgb_to_lab(rgb)
    bins = ColorBins.zhang313()
    x, soft = data.encode_batch(tf.constant(rgb), "soft")
    np.testing.assert_allclose(x.numpy()[..., 0], color.normalize_l(lab[..., 0]), atol=1e-4)
    assert soft.shape == (2, 8, 8, 20)
    indices, weights = unpack_sparse_target(soft)
    ab_small = lab[:, 2::4, 2::4, 1:]  # the centre pixel of each 4 x 4 block
    ref_i, ref_w = bins.soft_encode(ab_small, sparse=True)
    np.testing.assert_array_equal(np.asarray(indices), ref_i)
    np.testing.assert_allclose(np.asarray(weights), ref_w, atol=1e-5)
    _, hard = data.encode_batch(tf.constant(rgb), Target("hard", downsample=1))
    np.testing.assert_array_equal(hard.numpy(), bins.hard_encode(lab[..., 1:]))
    _, dense = data.encode_batch(tf.constant(rgb), Target("soft", sparse=False))
    assert dense.shape == (2, 8, 8, 313)
    np.testing.assert_allclose(dense.numpy().sum(-1), 1.0, atol=1e-5)
    _, ab = data.encode_batch(tf.constant(rgb), Target("ab", ab_scale=color.AB_SCALE_VGG))
    np.testing.assert_allclose(ab.numpy() * 128, lab[..., 1:], atol=2e-3)
    with pytest.raises(ValueError, match="target must be one of"):
        data.encode_batch(tf.constant(rgb), "rgb")


def test_make_dataset_counts_bad_files_and_filters_gray(folder):
    ds = data.make_dataset(folder, batch_size=4, target="soft")
    report = ds.scan_report
    assert report.counts() == {"usable": 10, "near-gray": 1, "not an image": 1}
    assert sorted(p.split("/")[-1] for p, _ in report.skipped) == ["broken.jpg", "gray.png"]
    batches = list(ds)
    assert len(batches) == 2  # 10 photos, batches of 4, remainder dropped when training
    x, y = batches[0]
    assert x.shape == (4, 176, 176, 1) and y.shape == (4, 44, 44, 20)
    assert -0.5 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 0.5


def test_make_dataset_with_labels_from_folders(folder):
    ds = data.make_dataset(folder, batch_size=10, target="ab+class", labels="folder",
                           training=False, image_size=48)
    assert ds.class_names == ["cats", "dogs"]
    x, y = next(iter(ds))
    ab, label = y["ab"], y["class"]
    assert ab.shape == (10, 48, 48, 2) and sorted(label.numpy().tolist()) == [0] * 5 + [1] * 5
    with pytest.raises(ValueError, match="needs labels"):
        data.make_dataset(folder, target="ab+class")


def test_deterministic_mode_repeats_batches_and_seeds_differ(folder):
    def first(seed):
        ds = data.make_dataset(folder, batch_size=4, target="ab", image_size=32,
                               deterministic=True, seed=seed)
        return next(iter(ds))[1].numpy()

    np.testing.assert_array_equal(first(1), first(1))
    assert not np.array_equal(first(1), first(2))


def test_evaluation_is_centre_crop_in_file_order(folder):
    ds = data.make_dataset(folder, batch_size=10, target="ab", training=False, image_size=40,
                           short_side=60)
    x1, _ = next(iter(ds))
    x2, _ = next(iter(ds))
    np.testing.assert_array_equal(x1.numpy(), x2.numpy())
    first = sorted(str(p) for p in data.list_images(folder / "cats"))[0]
    photo = data.load_photo(first).numpy()  # 60 x 80: centre crop rows 10:50, cols 20:60
    lightness = color.normalize_l(color.rgb_to_lab(photo[10:50, 20:60])[..., 0])
    np.testing.assert_allclose(x1.numpy()[0, ..., 0], lightness, atol=1e-4)


def test_splits_and_cache_and_repeat(folder, tmp_path):
    train = data.make_dataset(folder, split="train", batch_size=1, target="ab", image_size=32)
    test = data.make_dataset(folder, split="test", batch_size=1, target="ab", image_size=32)
    train_paths = set(train.scan_report.paths)
    assert train_paths and not train_paths & set(test.scan_report.paths)
    cached = data.make_dataset(folder, batch_size=5, target="ab", image_size=32, repeat=True,
                               cache=str(tmp_path / "cache"))
    assert len(list(cached.take(5))) == 5  # more batches than photos: repeats


def test_make_dataset_explains_bad_sources(tmp_path):
    with pytest.raises(ValueError, match="neither a data set of the registry"):
        data.make_dataset(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No usable photos"):
        data.make_dataset(tmp_path / "empty")
    with pytest.raises(ValueError, match="short_side"):
        data.make_dataset(tmp_path, image_size=100, short_side=50)


# --- TFRecords ------------------------------------------------------------------------------------


def test_tfrecords_round_trip_and_resume(folder, tmp_path):
    report = data.scan_images(data.list_images(folder))
    out = tmp_path / "records"
    shards = data.write_tfrecords(report, out, shards=3, short_side=40)
    assert [s.name for s in shards] == [f"photos-0000{i}-of-00003.tfrecord" for i in range(3)]
    photos = list(data.read_tfrecords(str(out / "*.tfrecord")))
    assert len(photos) == 10
    assert all(min(p.shape[:2]) == 40 for p, _ in photos)
    # An interrupted run: one shard missing, a stale partial file; the rerun completes it.
    mtime = shards[0].stat().st_mtime_ns
    shards[1].unlink()
    (out / (shards[1].name + ".partial")).write_bytes(b"junk")
    data.write_tfrecords(report, out, shards=3, short_side=40)
    assert shards[1].exists() and shards[0].stat().st_mtime_ns == mtime
    ds = data.make_dataset(str(out / "*.tfrecord"), batch_size=5, target="soft", image_size=32)
    x, y = next(iter(ds))
    assert x.shape == (5, 32, 32, 1) and y.shape == (5, 8, 8, 20)


# --- the registry ---------------------------------------------------------------------------------


def test_registry_has_the_required_sets_with_honest_checksums():
    entries = registry.load_registry()
    for name in ("sample", "cifar10", "imagenette160", "places365_val", "places365_outdoor",
                 "mit_scenes", "bsds500", "folder"):
        assert name in entries, name
    nette = entries["imagenette160"]["files"][0]
    assert nette["size"] == 99_003_388
    assert nette["sha256"] == "64d0c4859f35a461889e0147755a999a48b49bf38a7e0f9bd27003f10db02fe5"
    assert entries["places365_val"]["images"] == 36_500
    for name, e in entries.items():
        for f in e.get("files") or []:
            if "url" in f:
                assert f["url"].startswith(("http://", "https://")), name
                sha = f.get("sha256")
                assert sha is None or (len(sha) == 64 and int(sha, 16) >= 0), name
                if sha is None:
                    assert f.get("checksum_note"), f"{name}: a missing checksum must say why"
        for key in ("title", "kind"):
            assert e.get(key), f"{name} lacks {key}"


def test_top_level_datasets_yaml_is_the_packaged_registry():
    from conftest import ROOT

    top = (ROOT / "datasets.yaml").read_text()
    packaged = (ROOT / "colorlab" / "resources" / "datasets.yaml").read_text()
    assert top == packaged


def test_sample_set_is_materialized_without_network(tmp_path):
    root = data.fetch("sample", data_dir=tmp_path)
    names = sorted(p.name for p in data.list_images(root))
    assert {"astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
            "motorcycle_left.png"} <= set(names)
    assert len(names) in (5, 7)  # 7 with scikit-learn installed
    assert "imagenette160" in data.describe("imagenette160")
    with pytest.raises(ValueError, match="Unknown data set 'imagenet'"):
        data.fetch("imagenet")
    with pytest.raises(ValueError, match="your own photos"):
        data.fetch("folder")


def test_dataset_prior_of_the_sample_set(tmp_path):
    prior = data.dataset_prior("sample", progress=False, data_dir=tmp_path, image_size=64)
    assert prior.shape == (313,) and prior.sum() == pytest.approx(1.0)
    centers = ColorBins.zhang313().centers
    assert np.linalg.norm(centers[np.argmax(prior)]) < 30  # photos are mostly unsaturated


def test_array_sources_and_cifar10_as_keras_loads_it(tmp_path, monkeypatch):
    import io
    import pickle
    import tarfile

    images = np.stack([make_photo(i, (32, 32)) for i in range(6)])
    ds = data.make_dataset((images, np.arange(6)), target="ab+class", image_size=32,
                           batch_size=3, training=False)
    x, y = next(iter(ds))
    label = y["class"]
    assert x.shape == (3, 32, 32, 1) and y["ab"].shape == (3, 32, 32, 2) and label.numpy().tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="uint8"):
        data.make_dataset(images.astype(np.float32))

    # A CIFAR-10 archive laid out as the real one: pickled batches in cifar-10-batches-py/.
    def batch(n, offset):
        flat = np.stack([make_photo(offset + i, (32, 32)).transpose(2, 0, 1).ravel() for i in range(n)])
        return pickle.dumps({b"data": flat, b"labels": list(range(n))})

    members = {f"cifar-10-batches-py/data_batch_{i}": batch(2, 10 * i) for i in range(1, 6)}
    members["cifar-10-batches-py/test_batch"] = batch(3, 100)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({b"label_names": [b"plane", b"car"]})
    archive = tmp_path / "downloads" / "cifar-10-python.tar.gz"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    entry = dict(registry.entry("cifar10"))
    entry["files"] = [dict(entry["files"][0], sha256=None, size=None)]  # our stand-in archive
    monkeypatch.setattr(registry, "load_registry", lambda: {"cifar10": entry})
    home = tmp_path / "home"
    (home / "cifar10").mkdir(parents=True)
    (home / "cifar10" / "downloads").symlink_to(archive.parent)  # "placed by hand"
    loaded = data.load_arrays("cifar10", data_dir=home)
    assert loaded["train"][0].shape == (10, 32, 32, 3) and loaded["test"][0].shape == (3, 32, 32, 3)
    assert loaded["class_names"] == ["plane", "car"]
    np.testing.assert_array_equal(loaded["test"][0][0], make_photo(100, (32, 32)))
    ds = data.make_dataset("cifar10", split="test", target="ab", image_size=32, batch_size=3,
                           training=False, data_dir=home)
    assert next(iter(ds))[1].shape == (3, 32, 32, 2)


def test_target_none_gives_the_rgb_crops_alone(folder):
    ds = data.make_dataset(folder, target=None, batch_size=5, image_size=32, training=False)
    rgb = next(iter(ds))
    assert rgb.shape == (5, 32, 32, 3) and rgb.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(rgb)) and float(tf.reduce_max(rgb)) <= 1.0
    # The same crops the "ab" target is made from.
    _, ab = next(iter(data.make_dataset(folder, target="ab", batch_size=5, image_size=32,
                                        training=False)))
    np.testing.assert_allclose(color.normalize_ab(color.rgb_to_lab(rgb.numpy())[..., 1:]),
                               ab.numpy(), atol=1e-4)


def test_a_cached_training_set_is_reshuffled_every_epoch():
    # The cache replays its first epoch's order; make_dataset shuffles again after it. Flat
    # photos of distinct grays: crop and flip leave each one's mean as it is.
    photos = np.repeat(np.arange(10, 250, 24, dtype=np.uint8), 32 * 32 * 3).reshape(10, 32, 32, 3)
    ds = data.make_dataset(photos, target=None, batch_size=1, image_size=32, short_side=32,
                           cache=True, repeat=True, seed=0)
    it = iter(ds)
    epochs = [tuple(round(float(next(it).numpy().mean()) * 255) for _ in range(10))
              for _ in range(3)]
    assert len(set(epochs)) == 3 and all(sorted(e) == sorted(epochs[0]) for e in epochs)


def test_fewer_photos_than_one_dropped_batch_is_an_error_not_an_empty_set():
    with pytest.raises(ValueError, match="fewer than one batch of 32.*training=False"):
        data.make_dataset("sample", split="val", target="ab")
    assert data.make_dataset("sample", split="val", target="ab", training=False).num_photos


def test_a_target_refuses_settings_its_kind_lacks_or_bad_values_when_made():
    for kwargs, message in [(dict(kind="ab", k=5), "has no k setting"),
                            (dict(kind="soft", k=0), "k must be a whole number"),
                            (dict(kind="soft", sigma=-1.0), "sigma must be a number above 0"),
                            (dict(kind="hard", downsample=0), "downsample must be"),
                            (dict(kind="rgb"), "target must be one of")]:
        with pytest.raises(ValueError, match=message):
            Target(**kwargs)
    assert Target("soft").k == 10 and Target("ab+class").ab_scale == 110.0
