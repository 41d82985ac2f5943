"""The model builders: shapes, exact parameter counts, saving, one training step each."""

import keras
import numpy as np
import pytest
from conftest import ROOT

from colorlab import color, losses, models
from colorlab.data.targets import pack_sparse_target
from colorlab.quantize import ColorBins

# Tiny versions of every builder: (name, kwargs, input sizes to try).
TINY = {
    "zhang_eccv16": dict(width=1 / 16),
    "zhang_siggraph17": dict(width=1 / 16),
    "vgg16_colorizer": dict(weights=None, width=1 / 16, decoder_filters=(32, 16, 8, 8, 4)),
    "iizuka_two_stream": dict(width=1 / 16, num_classes=5, global_size=32),
    "resnet_colorizer": dict(width=1 / 8),
    "unet_generator": dict(width=1 / 8, dropout=0.0),
    "patch_discriminator": dict(width=1 / 8),
}
SIZES = {"zhang_eccv16": [(32, 32), (40, 56)], "zhang_siggraph17": [(32, 32), (40, 56)],
         "vgg16_colorizer": [(32, 32), (64, 96)],
         "iizuka_two_stream": [(32, 32), (48, 40)], "resnet_colorizer": [(32, 32), (48, 64)],
         "unet_generator": [(32, 32), (64, 96)], "patch_discriminator": [(32, 32), (64, 48)]}


def inputs_for(name, h, w, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    lightness = rng.uniform(-0.5, 0.5, (batch, h, w, 1)).astype("float32")
    if name == "patch_discriminator":
        return {"L": lightness, "ab": rng.uniform(-1, 1, (batch, h, w, 2)).astype("float32")}
    return lightness


def expected_shape(name, h, w, batch=2):
    return {
        "zhang_eccv16": (batch, h // 4, w // 4, 313),
        "zhang_siggraph17": (batch, h, w, 2),
        "vgg16_colorizer": (batch, h, w, 2),
        "resnet_colorizer": (batch, h, w, 2),
        "unet_generator": (batch, h, w, 2),
        "patch_discriminator": (batch, h // 8, w // 8, 1),
    }.get(name)


def test_every_builder_is_registered_and_tiny_variants_cover_them():
    assert models.names() == list(TINY)
    assert {models.method(n).output for n in models.names()} == set(models.OUTPUTS)


@pytest.mark.parametrize("name", list(TINY))
def test_shapes_at_two_input_sizes(name):
    model = models.build(name, **TINY[name])
    for h, w in SIZES[name]:
        out = model(inputs_for(name, h, w), training=False)
        if name == "iizuka_two_stream":
            assert tuple(out["ab"].shape) == (2, h, w, 2)
            assert tuple(out["class"].shape) == (2, 5)
        else:
            assert tuple(out.shape) == expected_shape(name, h, w)
        if models.method(name).output in ("ab", "ab+class"):
            ab = np.asarray(out["ab"] if isinstance(out, dict) else out)
            assert np.all(np.abs(ab) <= 1.0)  # ab / 110 through tanh or sigmoid


@pytest.mark.slow
def test_zhang_full_size_has_the_released_parameter_count():
    model = models.zhang_eccv16()
    assert models.count_params(model, trainable_only=True) == 32_235_385
    assert model.get_layer("logits").filters == 313
    assert model.get_layer("conv5_1").dilation_rate == (2, 2)


@pytest.mark.slow
def test_iizuka_full_size_has_the_papers_parameter_count():
    model = models.iizuka_two_stream()
    assert models.count_params(model) == 42_353_839


def test_zhang_options_change_the_architecture():
    base = models.zhang_eccv16(width=1 / 16)
    shallow = models.zhang_eccv16(width=1 / 16, middle_dilations=(1, 2))
    coarse = models.zhang_eccv16(width=1 / 16, output_stride=8, num_bins=ColorBins.grid(10.0))
    assert models.count_params(shallow) < models.count_params(base)
    assert "conv7_1" not in [layer.name for layer in shallow.layers]
    out = coarse(np.zeros((1, 64, 64, 1), "float32"))
    assert out.shape == (1, 8, 8, 484)
    dropped = models.zhang_eccv16(width=1 / 16, dropout=0.3)
    assert any(isinstance(layer, keras.layers.SpatialDropout2D) for layer in dropped.layers)


def test_zhang_ab_head_is_the_same_network_regressing_ab(tmp_path):
    """The paper's L2 baseline: the same body, a linear 2-channel head at full size."""
    bins = models.zhang_eccv16(width=1 / 16)
    l2 = models.zhang_eccv16(width=1 / 16, head="ab")
    body = [layer.name for layer in bins.layers if layer.name != "logits"]
    assert body == [layer.name for layer in l2.layers][: len(body)]
    out = l2(np.zeros((1, 40, 56, 1), "float32"))
    assert out.shape == (1, 40, 56, 2) and out.dtype == "float32"
    channels = bins.get_layer("conv8_3").filters
    assert models.count_params(bins) - models.count_params(l2) == (313 - 2) * (channels + 1)
    l2.save(tmp_path / "l2.keras")
    loaded = keras.models.load_model(tmp_path / "l2.keras", safe_mode=True)
    assert loaded.get_config()["arguments"]["head"] == "ab"
    assert "head" not in bins.get_config()["arguments"]  # older files stay as they were
    with pytest.raises(ValueError, match="needs no decoding"):
        models.zhang_inference_model(l2)
    with pytest.raises(ValueError, match="head must be"):
        models.zhang_eccv16(head="softmax")


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="multiple of 8"):
        models.zhang_eccv16(width=1 / 16, input_shape=(30, 30))
    with pytest.raises(ValueError, match="width"):
        models.zhang_eccv16(width=0)
    with pytest.raises(ValueError, match="Unknown model 'zhang'"):
        models.build("zhang")
    with pytest.raises(ValueError, match="width=1"):
        models.vgg16_colorizer(weights="imagenet", width=0.5)
    with pytest.raises(ValueError, match="output_stride"):
        models.zhang_eccv16(output_stride=2)


@pytest.mark.parametrize("name", list(TINY))
def test_save_and_reload_with_safe_mode_gives_identical_outputs(name, tmp_path):
    model = models.build(name, **TINY[name])
    x = inputs_for(name, 32, 32)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, models.BuiltModel)
    assert loaded.get_config() == model.get_config()
    expected, got = model(x, training=False), loaded(x, training=False)
    for a, b in zip(keras.tree.flatten(expected), keras.tree.flatten(got)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_zhang_inference_model_decodes_to_full_resolution_and_reloads(tmp_path):
    model = models.zhang_eccv16(width=1 / 16)
    decoder = models.zhang_inference_model(model, temperature=0.38)
    x = inputs_for("zhang_eccv16", 40, 56)
    ab = np.asarray(decoder(x))
    assert ab.shape == (2, 40, 56, 2)
    # The annealed mean of the 1/4-size logits, upsampled: check one pixel of the coarse map.
    logits = np.asarray(model(x))
    coarse = ColorBins.zhang313().decode(logits, 0.38, from_logits=True) / color.AB_SCALE
    small = np.asarray(decoder.get_layer("annealed_mean")([logits, x[:, ::4, ::4]]))
    np.testing.assert_allclose(small, coarse, atol=1e-5)
    decoder.save(tmp_path / "decode.keras")
    loaded = keras.models.load_model(tmp_path / "decode.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x)), ab, atol=1e-6)
    with pytest.raises(ValueError, match="484 bins were given"):
        models.zhang_inference_model(model, bins=ColorBins.grid(10.0))


def test_gray_to_rgb_recovers_the_gray_of_the_lightness():
    gray = np.linspace(0, 1, 11, dtype="float32")
    rgb = np.repeat(gray[None, :, None, None], 3, axis=-1)  # (1, 11, 1, 3)
    lightness = color.normalize_l(color.rgb_to_lab(rgb)[..., :1])
    out = np.asarray(models.GrayToRGB("none")(lightness))
    np.testing.assert_allclose(out, rgb, atol=1e-4)
    caffe = np.asarray(models.GrayToRGB("caffe")(lightness))
    np.testing.assert_allclose(caffe[..., 0], rgb[..., 0] * 255 - 103.939, atol=0.03)
    np.testing.assert_allclose(np.asarray(models.GrayToRGB("tf")(lightness)), rgb * 2 - 1,
                               atol=1e-3)


def test_global_fusion_tiles_the_vector_over_every_pixel():
    local = np.zeros((2, 3, 4, 5), "float32")
    vector = np.arange(12, dtype="float32").reshape(2, 6)
    fused = np.asarray(models.GlobalFusion()([local, vector]))
    assert fused.shape == (2, 3, 4, 11)
    np.testing.assert_array_equal(fused[1, 2, 3, 5:], vector[1])


def test_freezing_and_unfreezing_the_encoder():
    model = models.vgg16_colorizer(weights=None, width=1 / 16)
    frozen = models.count_params(model, trainable_only=True)
    assert models.set_encoder_trainable(model, True) == 18  # 13 convolutions + 5 pools
    assert models.count_params(model, trainable_only=True) > frozen
    assert model.get_config()["arguments"]["freeze_encoder"] is False
    assert models.set_encoder_trainable(models.zhang_eccv16(width=1 / 16), True) == 0


def test_reloading_a_pretrained_model_never_downloads_again():
    config = models.vgg16_colorizer(weights=None, width=1.0).get_config()
    config["arguments"]["weights"] = "imagenet"  # as saved from a pretrained model
    model = models.BuiltModel.from_config(config)  # offline: would fail if it downloaded
    assert model.get_config()["arguments"]["weights"] is None


def _compile_for(name, model):
    optimizer = keras.optimizers.Adam(1e-3)
    if name == "zhang_eccv16":
        model.compile(optimizer, loss=losses.RebalancedCrossEntropy(sparse=True))
    elif name == "iizuka_two_stream":
        model.compile(optimizer, **models.joint_loss())
    elif name == "patch_discriminator":
        model.compile(optimizer, loss=keras.losses.BinaryCrossentropy(from_logits=True))
    else:
        model.compile(optimizer, loss="mse")


def _targets_for(name, model, x, rng):
    if name == "zhang_eccv16":
        ab = rng.uniform(-60, 60, (2, 8, 8, 2)).astype("float32")
        return pack_sparse_target(*ColorBins.zhang313().soft_encode(ab, sparse=True))
    if name == "iizuka_two_stream":
        return {"ab": rng.uniform(-0.5, 0.5, (2, 32, 32, 2)).astype("float32"),
                "class": np.array([1, 3])}
    if name == "patch_discriminator":
        return np.ones((2, 4, 4, 1), "float32")
    return rng.uniform(-0.5, 0.5, (2, 32, 32, 2)).astype("float32")


# Zhang's classifier and the discriminator here; the others in the slow suite (each trains one step
# through train() in the default suite: test_every_method_trains_one_step).
@pytest.mark.parametrize("name", [
    name if name in ("zhang_eccv16", "patch_discriminator")
    else pytest.param(name, marks=pytest.mark.slow) for name in TINY])
def test_one_training_step_lowers_the_loss_on_a_fixed_batch(name):
    keras.utils.set_random_seed(0)
    model = models.build(name, **TINY[name])
    if name == "vgg16_colorizer":
        models.set_encoder_trainable(model, True)
    _compile_for(name, model)
    rng = np.random.default_rng(1)
    x = inputs_for(name, 32, 32)
    y = _targets_for(name, model, x, rng)
    # train_on_batch reports the loss of the batch before its update (the total first).
    before = np.ravel(model.train_on_batch(x, y))[0]
    after = np.ravel(model.train_on_batch(x, y))[0]
    assert np.isfinite(before) and after < before


@pytest.mark.slow
def test_summary_table_is_the_one_in_the_readme():
    table = models.summary_table()
    assert "| `zhang_eccv16` | 32,240,377 | 32,235,385 |" in table
    assert table in (ROOT / "README.md").read_text(), "README table is stale: paste " \
        "`python -m colorlab.models` into it."


def test_receptive_field_is_measured_exactly():
    inputs = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="tanh")(inputs)
    x = keras.layers.Conv2D(2, 3, padding="same", dilation_rate=2)(x)
    assert models.receptive_field(keras.Model(inputs, x), size=64) == 3 + 4
    # Zhang et al.'s network, by hand: 37 after block 3 (stride 8), + 48 (block 4), + 96 + 96
    # (dilated blocks 5, 6), + 48 (block 7), + 8 (transposed, to stride 4), + 8 + 8 = 349.
    keras.utils.set_random_seed(0)
    assert models.receptive_field(models.zhang_eccv16(width=1 / 4), size=400) == 349
    iizuka = models.iizuka_two_stream(width=1 / 4, num_classes=3, global_size=32)
    assert models.receptive_field(iizuka, size=64, output="ab") is None  # sees everything


@pytest.mark.slow  # the default suite trains every method on its batches through train()
def test_models_train_on_the_pipelines_batches():
    """make_dataset's targets fit the models' outputs as they are: bins, ab, ab + class."""
    from conftest import make_photo

    from colorlab import data

    images = np.stack([make_photo(i, (40, 40)) for i in range(4)])
    source = (images, np.array([0, 1, 2, 1]))
    cases = [
        ("zhang_eccv16", "soft", dict(loss=losses.RebalancedCrossEntropy(sparse=True))),
        ("resnet_colorizer", "ab", dict(loss="mse")),
        ("iizuka_two_stream", "ab+class", models.joint_loss()),
    ]
    for name, target, compile_args in cases:
        model = models.build(name, **TINY[name])
        model.compile(keras.optimizers.Adam(1e-3), **compile_args)
        ds = data.make_dataset(source, target=target, image_size=32, batch_size=2, seed=0)
        history = model.fit(ds, epochs=1, verbose=0, shuffle=False)
        assert np.isfinite(history.history["loss"][0]), name


def test_pretrained_vgg16_weights_are_copied_into_the_encoder(tmp_path):
    # A weights file in keras.applications' layout (as "imagenet" downloads it), made here.
    reference = keras.applications.VGG16(include_top=False, weights=None)
    path = tmp_path / "vgg16_notop.weights.h5"
    reference.save_weights(path)
    model = models.vgg16_colorizer(weights=str(path), input_shape=(32, 32))
    for name in ("block1_conv1", "block5_conv3"):
        for ours, theirs in zip(model.get_layer(f"encoder_{name}").get_weights(),
                                reference.get_layer(name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    assert not model.get_layer("encoder_block1_conv1").trainable  # frozen by default
    with pytest.raises(RuntimeError, match="weights=None"):
        models.vgg16_colorizer(weights=str(tmp_path / "missing.weights.h5"))


def test_iizuka_batch_norm_keeps_the_sigmoid_output():
    model = models.iizuka_two_stream(width=1 / 16, num_classes=3, global_size=32,
                                     batch_norm=True)
    assert model.get_layer("color_output").activation.__name__ == "sigmoid"
    assert "low_conv1_bn" in [layer.name for layer in model.layers]
    # Pushed hard, the output still saturates at ab / 110 = +-1, never beyond.
    out = model(np.full((1, 32, 32, 1), 40.0, "float32"), training=False)["ab"]
    assert np.all(np.abs(np.asarray(out)) <= 1.0)


def test_frozen_layers_and_a_frozen_model_survive_saving(tmp_path):
    model = models.vgg16_colorizer(weights=None, width=1 / 16, input_shape=(32, 32))
    models.set_encoder_trainable(model, True)
    model.get_layer("decoder1_conv1").trainable = False  # a user's own choice
    model.save(tmp_path / "partly.keras")
    loaded = keras.models.load_model(tmp_path / "partly.keras", safe_mode=True)
    assert loaded.get_layer("encoder_block1_conv1").trainable
    assert not loaded.get_layer("decoder1_conv1").trainable
    assert models.count_params(loaded, True) == models.count_params(model, True)
    assert loaded.input_shape == (None, 32, 32, 1)

    model.trainable = False
    model.save(tmp_path / "frozen.keras")
    loaded = keras.models.load_model(tmp_path / "frozen.keras", safe_mode=True)
    assert not loaded.trainable and models.count_params(loaded, True) == 0


def test_input_shape_and_arguments_are_checked_when_built(tmp_path):
    for bad in [(32,), (32, 32, 3), (0, 32), (32.5, 32), "32x32"]:
        with pytest.raises(ValueError, match="input_shape"):
            models.zhang_eccv16(width=1 / 16, input_shape=bad)
    model = models.zhang_eccv16(width=1 / 16, input_shape=(np.int64(32), None, 1))
    assert model.get_config()["arguments"]["input_shape"] == [32, None]
    with pytest.raises(ValueError, match="global_size"):
        models.iizuka_two_stream(global_size=0)
    # A pathlib.Path for weights is stored as a string, so the model saves.
    reference = keras.applications.VGG16(include_top=False, weights=None)
    reference.save_weights(tmp_path / "vgg.weights.h5")
    vgg = models.vgg16_colorizer(weights=tmp_path / "vgg.weights.h5", input_shape=(32, 32))
    assert vgg.get_config()["arguments"]["weights"] == str(tmp_path / "vgg.weights.h5")
    with pytest.raises(TypeError, match="plain numbers"):
        models.BuiltModel(vgg.inputs, vgg.outputs, builder="x", arguments={"f": object()})


def test_zhang_saves_its_bins_and_the_inference_model_uses_them(tmp_path):
    bins = ColorBins.grid(10.0)
    model = models.zhang_eccv16(num_bins=bins, width=1 / 16)
    model.save(tmp_path / "grid.keras")
    loaded = keras.models.load_model(tmp_path / "grid.keras", safe_mode=True)
    decoder = models.zhang_inference_model(loaded, temperature=0.0)
    assert decoder.get_layer("annealed_mean").bins == bins
    x = inputs_for("zhang_eccv16", 32, 32)
    logits = np.asarray(loaded(x))
    assert np.asarray(decoder(x)).shape == (2, 32, 32, 2)
    mode = np.asarray(decoder.get_layer("annealed_mean")([logits, x[:, ::4, ::4]]))
    mode = mode * color.AB_SCALE
    centers = bins.centers[np.argmax(logits, axis=-1)]
    np.testing.assert_allclose(mode, centers, atol=1e-3)  # T = 0 decodes to the mode
    with pytest.raises(ValueError, match="pass bins="):
        models.zhang_inference_model(models.zhang_eccv16(num_bins=484, width=1 / 16))


def test_gan_presets_follow_the_released_configurations():
    cifar = models.GAN_PRESETS["cifar10"]
    generator = models.unet_generator(**cifar["generator"])
    names = [layer.name for layer in generator.layers]
    assert generator.get_layer("down1_conv").strides == (1, 1)  # stride-1 first layer
    assert generator.get_layer("down5_conv").output.shape[1:3] == (2, 2)  # 2 x 2 bottleneck
    assert "up1_dropout" in names and "up2_dropout" not in names
    assert generator(np.zeros((1, 32, 32, 1), "float32")).shape == (1, 32, 32, 2)
    places = models.GAN_PRESETS["places365"]
    discriminator = models.patch_discriminator(**places["discriminator"])
    assert discriminator.output.shape[1:3] == (4, 4)  # six stride-2 layers on 256 x 256
    with pytest.raises(ValueError, match="down_strides"):
        models.unet_generator(down_filters=(8, 8), down_strides=(3, 2))


@pytest.mark.slow  # builds the full-size ResNet50V2 encoder
def test_pretrained_resnet50v2_reloads_with_its_frozen_encoder(tmp_path):
    base = keras.applications.ResNet50V2(include_top=False, weights=None)
    base.save_weights(tmp_path / "r50.weights.h5")
    model = models.resnet_colorizer(encoder="resnet50v2", weights=tmp_path / "r50.weights.h5",
                                    freeze_encoder=True, width=1 / 8, input_shape=(32, 32))
    model.save(tmp_path / "r50.keras")
    loaded = keras.models.load_model(tmp_path / "r50.keras", safe_mode=True)
    assert not loaded.get_layer("encoder_resnet50v2").trainable
    x = inputs_for("resnet_colorizer", 32, 32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))
    with pytest.raises(RuntimeError, match="weights=None"):
        models.resnet_colorizer(encoder="resnet50v2", weights=tmp_path / "missing.h5")
