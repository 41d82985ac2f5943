"""The authors' released models: the official forward pass, download, conversion, presets."""

import dataclasses
import hashlib
import os

import numpy as np
import pytest

from colorlab import models, pretrained
from colorlab.data.download import ChecksumError, DownloadError
from colorlab.models.siggraph17 import ZHANG_SIGGRAPH17
from colorlab.models.zhang import ZHANG_ECCV16
from colorlab.pretrained.torch_files import read_state_dict
from conftest import ROOT
from torch_writer import save_legacy

DATA = ROOT / "tests" / "data"


def _io(name):
    """The committed input (B, C, H, W) and the official PyTorch output (B, 2, H, W) ab / 110,
    as (B, H, W, C) arrays."""
    io = np.load(DATA / f"{name}_width1-16_io.npz")
    return io["x"].transpose(0, 2, 3, 1), io["y"].transpose(0, 2, 3, 1)


def test_eccv16_computes_the_official_forward_pass_and_its_logits_decode_anywhere(tmp_path):
    """tests/data/eccv16_official_reference.py is the official eccv16 definition (at a channel
    width); run with PyTorch 2.13 at width 1/16, seed 0 (batch norms randomised too), it wrote
    the state dict and one input with the official output committed beside it. The same
    script at width 1 gave 82 keys and 32,236,011 learnable numbers, and the Keras network
    matched it within 3e-7 ab units."""
    source = tmp_path / "eccv16.pth"
    source.write_bytes((DATA / "eccv16_width1-16_torch2.13.pth").read_bytes())
    x, y = _io("eccv16")
    model = pretrained.load("zhang_eccv16", source)
    assert np.abs(np.asarray(model(x)) - y).max() * 110 < 1e-3  # in ab units: the bound
    # The bin-logit network: model_out's weights became its bins, so the annealed mean at
    # T = 1 is the official output, and colorize decodes it like any zhang_eccv16 model.
    logits = pretrained.load("zhang_eccv16", source, logits=True)
    assert models.method_of(logits) is ZHANG_ECCV16 and logits.arguments["release"]
    assert logits.outputs[0].shape[-1] == 313
    decoded = models.zhang_inference_model(logits, temperature=1.0)
    assert np.abs(np.asarray(decoded(x)) - y).max() * 110 < 1e-3
    sharper = pretrained.load("zhang_eccv16", source, temperature=0.38)
    assert np.abs(np.asarray(sharper(x)) - y).max() * 110 > 0.01  # the temperature acts


def test_siggraph17_computes_the_official_forward_pass_with_and_without_hints(tmp_path):
    """As for eccv16, from tests/data/siggraph17_official_reference.py (107 keys; at width 1,
    34,051,074 learnable numbers used plus 135,953 in the unused model_class head). The
    committed input has hints in every channel, so the hint path is checked too."""
    source = tmp_path / "siggraph17.pth"
    source.write_bytes((DATA / "siggraph17_width1-16_torch2.13.pth").read_bytes())
    x, y = _io("siggraph17")
    model = pretrained.load("zhang_siggraph17", source)
    assert models.method_of(model) is ZHANG_SIGGRAPH17
    ab = np.asarray(models.with_hints(model, x[..., :1], x[..., 1:3], x[..., 3:]))
    assert np.abs(ab - y).max() * 110 < 1e-3
    # Without hints the colorizer of L alone is the same network with zero hints and mask.
    zeros = np.zeros_like(x[..., 1:])
    automatic = models.with_hints(model, x[..., :1], zeros[..., :2], zeros[..., 2:])
    np.testing.assert_allclose(np.asarray(model(x[..., :1])), np.asarray(automatic),
                               atol=1e-6)
    with pytest.raises(ValueError, match="logits=True is for zhang_eccv16"):
        pretrained.load("zhang_siggraph17", source, logits=True)


def test_a_state_dict_of_the_other_model_names_what_is_wrong(tmp_path):
    eccv16 = read_state_dict(DATA / "eccv16_width1-16_torch2.13.pth")
    with pytest.raises(ValueError, match="does not read 4 channels"):
        models.siggraph17.release_from_state_dict(eccv16)
    siggraph17 = read_state_dict(DATA / "siggraph17_width1-16_torch2.13.pth")
    with pytest.raises(ValueError, match="not an eccv16 state dict: it has no model_out"):
        models.zhang.release_from_state_dict(siggraph17)
    wrong = dict(eccv16)
    del wrong["model3.4.weight"]
    wrong["model8.6.weight"] = wrong["model8.6.weight"][:10]
    with pytest.raises(ValueError, match=r"do not fit eccv16.*conv3_3: expected .* got \[missing, \(16,\)\]; logits"):
        models.zhang.release_from_state_dict(wrong)


def test_conversion_happens_once_and_the_keras_file_reloads_safely(tmp_path, monkeypatch):
    source = tmp_path / "sig.pth"
    source.write_bytes((DATA / "siggraph17_width1-16_torch2.13.pth").read_bytes())
    first = pretrained.load("zhang_siggraph17", source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    converted = tmp_path / f"sig.zhang_siggraph17.{digest[:12]}.keras"
    assert converted.is_file() and not list(tmp_path.glob(".*partial*"))

    def refuse(path):
        raise AssertionError("the .pth was read again")

    monkeypatch.setattr("colorlab.pretrained.presets.read_state_dict", refuse)
    again = pretrained.load("zhang_siggraph17", source)  # from the .keras file alone
    x = _io("siggraph17")[0][..., :1]
    np.testing.assert_array_equal(np.asarray(first(x)), np.asarray(again(x)))
    with pytest.raises(AssertionError, match="read again"):  # another file of the same name
        source.write_bytes((DATA / "siggraph17_width1-16_torch2.13.pth").read_bytes() + b"x")
        pretrained.load("zhang_siggraph17", source)
    # A damaged .keras is converted again; the conversion of a replaced file is removed.
    monkeypatch.undo()
    source.write_bytes((DATA / "siggraph17_width1-16_torch2.13.pth").read_bytes())
    converted.write_bytes(b"not a zip")
    assert pretrained.load("zhang_siggraph17", source).name == "zhang_siggraph17"
    assert [p.name for p in tmp_path.glob("*.keras")] == [converted.name]


def _served_preset(server, name="zhang_siggraph17"):
    """The preset with the committed width-1/16 file served by the local server."""
    data = (DATA / "siggraph17_width1-16_torch2.13.pth").read_bytes()
    server.files["/sig.pth"] = data
    return dataclasses.replace(
        models.presets()[name], url=server.url + "/sig.pth", filename="sig-1-16.pth",
        size=len(data), sha256=hashlib.sha256(data).hexdigest()), data


def test_the_download_is_checked_resumed_and_then_used_by_name(server, tmp_path, monkeypatch):
    preset, data = _served_preset(server)
    monkeypatch.setitem(ZHANG_SIGGRAPH17.presets, "zhang_siggraph17", preset)
    monkeypatch.setenv("COLORLAB_DATA", str(tmp_path))
    server.cut_after = 1000  # the first attempt drops: the partial file is kept
    with pytest.raises(DownloadError, match="partial download is kept"):
        preset.fetch(progress=False)
    server.cut_after = None
    path = preset.fetch(progress=False)  # resumed from byte 1000
    assert server.ranges == ["bytes=1000-"] and path.read_bytes() == data
    model = models.load_model("zhang_siggraph17")  # a preset name where a path works
    assert models.method_of(model) is ZHANG_SIGGRAPH17
    assert len(list((tmp_path / "pretrained").glob("sig-1-16.zhang_siggraph17.*.keras"))) == 1


def test_a_wrong_download_is_deleted_and_offline_says_where_to_put_the_file(server, tmp_path):
    preset, data = _served_preset(server)
    server.files["/sig.pth"] = data[:-1] + b"x"  # same size, another sha256
    with pytest.raises(ChecksumError):
        preset.fetch(tmp_path, progress=False)
    assert not list((tmp_path / "pretrained").iterdir())  # nothing passes for complete
    official = models.presets()["zhang_eccv16"]
    offline = dataclasses.replace(official, url="http://127.0.0.1:9/colorization.pth")
    with pytest.raises(DownloadError) as error:
        offline.load(data_dir=tmp_path, progress=False)
    message = str(error.value)
    assert "http://127.0.0.1:9/colorization.pth" in message and "129 MB" in message
    assert str(tmp_path / "pretrained" / official.filename) in message


def test_unknown_names_keras_files_and_random_weights(tmp_path):
    with pytest.raises(ValueError, match="released models are zhang_eccv16, zhang_siggraph17"):
        pretrained.load("zhang_eccv17")
    with pytest.raises(FileNotFoundError, match="name of released weights"):
        models.load_model("zhang_eccv17")
    keras_file = tmp_path / "mine.keras"
    models.zhang_siggraph17(width=1 / 16).save(keras_file)
    with pytest.raises(ValueError, match="is a Keras model, not a PyTorch weights file"):
        pretrained.load("zhang_siggraph17", keras_file)
    random = pretrained.load("zhang_eccv16", "random", logits=True)
    assert random.arguments["release"] and models.count_params(random) > 3e7


def test_a_full_size_release_converts(tmp_path):
    """One full-size eccv16 state dict in the official layout (random numbers, written in the
    legacy format as torch.save did in 2020): every tensor lands where the official network
    uses it, and the model computes the softmax mean of its model_out centres."""
    rng = np.random.default_rng(0)
    template = pretrained.load("zhang_eccv16", "random", logits=True)
    state = {}
    for torch_name, ours in models.zhang._RELEASE_NAMES.items():
        layer = template.get_layer(ours)
        key = torch_name.replace("_", ".")
        if layer.__class__.__name__ == "BatchNormalization":
            for field in ("weight", "bias", "running_mean", "running_var"):
                state[f"{key}.{field}"] = rng.uniform(0.5, 1.5, layer.gamma.shape).astype("f4")
            state[f"{key}.num_batches_tracked"] = np.array(0, np.int64)
            continue
        kernel = layer.kernel.shape  # Keras (kh, kw, in, out); transposed conv (kh, kw, out, in)
        weight = (rng.standard_normal(kernel) * 0.02).astype("f4")
        state[f"{key}.weight"] = weight.transpose(3, 2, 0, 1)  # PyTorch's order
        state[f"{key}.bias"] = np.zeros(layer.bias.shape, "f4")
    centres = models.model_bins(template).centers
    state["model_out.weight"] = (centres.T / 110).reshape(2, 313, 1, 1).astype("f4")
    assert len(state) == 82
    learnable = sum(v.size for k, v in state.items() if "running" not in k and "num_" not in k)
    assert learnable == 32_236_011  # the count
    save_legacy(state, tmp_path / "full.pth")
    model = pretrained.load("zhang_eccv16", tmp_path / "full.pth", logits=True)
    np.testing.assert_array_equal(model.get_layer("conv4_2").kernel.numpy(),
                                  state["model4.2.weight"].transpose(2, 3, 1, 0))
    assert models.model_bins(model) == models.model_bins(template)  # Zhang's 313 recognised


def test_the_command_line_takes_preset_names_where_it_takes_model_paths(
        server, tmp_path, monkeypatch, capsys):
    from PIL import Image

    from colorlab.cli import main
    from conftest import make_photo

    preset, _ = _served_preset(server)
    monkeypatch.setitem(ZHANG_SIGGRAPH17.presets, "zhang_siggraph17", preset)
    monkeypatch.setenv("COLORLAB_DATA", str(tmp_path / "cache"))
    photos = tmp_path / "old_photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(make_photo(i, (40, 48))).save(photos / f"p{i}.png")
    assert main(["colorize", str(photos), "-o", str(tmp_path / "out"),
                 "--model", "zhang_siggraph17", "--render-size", "32"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [
        "p0.png", "p1.png", "p2.png"]
    mine = tmp_path / "mine.keras"
    models.zhang_eccv16(width=1 / 16).save(mine)
    assert main(["evaluate", "--model", "zhang_siggraph17", "--model", str(mine), "--data",
                 str(photos), "--split", "train+val+test", "--size", "32", "--out",
                 str(tmp_path / "eval")]) == 0
    printed = capsys.readouterr().out
    assert "| zhang_siggraph17 |" in printed and "| " + str(tmp_path / "mine") in printed
