"""Training runs (resume, precision, strategy), colorizing any photo, metrics, and the CLI."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import tracemalloc

import keras
import numpy as np
import tensorflow as tf
import pytest
from PIL import Image

from colorlab import color, models, plot
from colorlab import evaluate as ev
from colorlab.cli import main
from colorlab.evaluate import candidate_names
from colorlab.predict import working_size
from colorlab.colorize import (
    _output_names,
    colorize,
    colorize_folder,
    gray_rgb,
    read_image,
)
from colorlab.train import TrainConfig, TrainingDiverged, choose_precision, choose_strategy, load_config, train
from colorlab.train.run import _check_same_run, _phases

TINY_RUN = dict(model="zhang_eccv16", model_args={"width": 1 / 16}, image_size=32,
                batch_size=2, epochs=1, steps_per_epoch=2, samples=1, learning_rate=1e-3,
                cache=False)


def photo_folder(tmp_path, count=10, size=(48, 64)):
    """A folder of small colour photos made here (gradients with coloured shapes)."""
    from conftest import make_photo

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(count):
        Image.fromarray(make_photo(i, size)).save(folder / f"p{i:02d}.png")
    return folder


# === Training =================================================================================


def test_training_writes_the_run_folder_and_resumes(tmp_path):
    data = photo_folder(tmp_path)
    config = TrainConfig(**{**TINY_RUN, "data": str(data)})
    run = tmp_path / "run"
    # A start that fails before its first step (a wrong folder) leaves no run behind it:
    # the corrected command is not refused as "a run with different settings".
    with pytest.raises(ValueError):
        train(TrainConfig(**{**TINY_RUN, "data": str(tmp_path / "nowhere")}), run, verbose=0)
    first = train(config, run, verbose=0)
    assert first.steps == 2 and first.resumed_from_step == 0
    for name in ("config.yaml", "state.json", "model.keras", "history.csv",
                 "checkpoints/last.keras", "samples/epoch_001.png"):
        assert (run / name).is_file(), name
    assert any((run / "logs").rglob("events.out.tfevents*"))
    assert load_config(run / "config.yaml") == config
    # Raising the epochs continues from the checkpoint. The step count is state.json's
    # batches where it counts more than the optimiser (mixed_float16 skips overflowing
    # steps): here it says one more step than the optimiser's 2 was trained.
    (run / "state.json").write_text('{"step": 3, "epoch": 1.5}')
    config.epochs = 2
    second = train(config, run, verbose=0)
    assert second.resumed_from_step == 3 and second.steps == 4
    assert int(second.model.optimizer.iterations.numpy()) == 3
    assert (run / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
    # A different run in the same folder is refused, naming what changed.
    with pytest.raises(ValueError, match="batch_size"):
        train(TrainConfig(**{**TINY_RUN, "data": str(data), "batch_size": 3}), run, verbose=0)
    # A trained model without checkpoints to resume from is never trained over.
    (run / "checkpoints" / "last.keras").unlink()
    with pytest.raises(ValueError, match="holds a trained model.keras"):
        train(config, run, verbose=0)


@pytest.mark.slow  # the default suite stops and resumes a run in notebook 04 and the demo
def test_a_time_limited_run_resumes_mid_epoch_and_plots_each_epoch_once(tmp_path):
    data = photo_folder(tmp_path)
    config = TrainConfig(**{**TINY_RUN, "data": str(data), "epochs": 2, "samples": 0,
                            "time_limit": 1e-4})
    run = tmp_path / "run"
    assert train(config, run, verbose=0).steps == 1  # the limit stops it after one step
    config.time_limit = None  # how long to train may change between sessions
    resumed = train(config, run, verbose=0)
    assert resumed.resumed_from_step == 1 and resumed.steps == 4
    assert (run / "history.csv").read_text().count("\n") == 4  # epoch 1 twice, then epoch 2
    fig = plot.plot_history(run)
    assert [ax.get_title() for ax in fig.axes] == ["loss"]
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2]
    with pytest.raises(FileNotFoundError, match="No run folder"):
        plot.plot_history(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="has the run finished an epoch"):
        plot.plot_history(data)


def test_a_diverged_run_stops_and_keeps_its_last_good_checkpoint(tmp_path):
    data = photo_folder(tmp_path)
    # Adam moves every weight by ~learning_rate per step: at 1e4 a step's update can turn
    # weights NaN while that step's loss (computed before the update) is still finite.
    config = TrainConfig(**{**TINY_RUN, "data": str(data), "steps_per_epoch": 6,
                            "checkpoint_every": 1, "learning_rate": 1e4, "samples": 1})
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match="with a lower learning_rate.$") as error:
        train(config, run, verbose=0)
    saved = json.loads((run / "state.json").read_text())["step"]
    assert f"keeps its last good checkpoint (step {saved})" in str(error.value)
    assert not (run / "model.keras").exists()  # no NaN model passes for a trained one
    assert not (run / "samples").exists()
    model = keras.models.load_model(run / "checkpoints" / "last.keras", safe_mode=True)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_a_cosine_run_refuses_to_be_stretched():
    cosine = TrainConfig(schedule="cosine", epochs=10)
    with pytest.raises(ValueError, match="cosine schedule decays to 0 over its length .epochs 10"):
        _check_same_run(cosine, TrainConfig(schedule="cosine", epochs=20), "runs/x")
    _check_same_run(TrainConfig(epochs=10), TrainConfig(epochs=20), "runs/x")  # constant: ok


def test_every_method_trains_one_step(tmp_path):
    # The five methods at their defaults: tests/test_faults.py trains each from the CLI.
    data = photo_folder(tmp_path, count=6)
    for name, args in [("zhang_eccv16", {"width": 1 / 16, "head": "ab"})]:
        config = TrainConfig(**{**TINY_RUN, "model": name, "model_args": args,
                                "data": str(data), "steps_per_epoch": 1, "samples": 0})
        result = train(config, tmp_path / name, verbose=0)
        assert result.steps == 1 and np.isfinite(result.history["loss"][0]), name


def test_config_errors_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="train one of"):
        TrainConfig(model="patch_discriminator")
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="Unknown training option"):
        TrainConfig.from_dict({"modle": "zhang_eccv16"})
    (tmp_path / "c.yaml").write_text("model: [unclosed")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(tmp_path / "c.yaml")
    assert TrainConfig().learning_rate == 3e-5 and TrainConfig().beta_2 == 0.99  # the paper
    # The L2 baseline differs from the classifier only in its target and loss.
    l2 = TrainConfig(model_args={"head": "ab"})
    assert (l2.target, l2.loss) == ("ab", "mse") and TrainConfig().target == "soft"
    assert (l2.optimizer, l2.learning_rate, l2.weight_decay) == ("adam", 3e-5, 1e-3)
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(model_args={"head": "ab"}, loss="rebalanced")
    # YAML typos of type name the option instead of failing deep inside.
    for values, message in [({"epochs": [1]}, "epochs must be a whole number"),
                            ({"epochs": "1"}, "epochs must be a whole number"),
                            ({"batch_size": 2.5}, "batch_size must be a whole number"),
                            ({"xla": "no"}, "xla must be true or false"),
                            ({"model_args": "wide"}, "model_args must be a mapping"),
                            ({"model_args": {"widht": 0.5}}, "'widht' is not an argument"),
                            ({"learning_rate": "fast"}, "learning_rate must be a finite number")]:
        with pytest.raises(ValueError, match=message):
            TrainConfig.from_dict(values)
    with pytest.raises(ValueError, match="learning_rate must be a finite number"):
        TrainConfig.from_dict({"learning_rate": "1e400"})
    with pytest.raises(ValueError, match="rebalance_lambda must be in"):
        TrainConfig(rebalance_lambda=2)
    # numpy scalars are numbers too, stored as Python's (config.yaml stays plain YAML).
    config = TrainConfig(epochs=np.int64(3), learning_rate=np.float32(1e-3), xla=np.bool_(True))
    assert (type(config.epochs), type(config.learning_rate), type(config.xla)) == \
        (int, float, bool)
    # PyYAML reads 3e-5 as text: numbers written so are taken as numbers.
    (tmp_path / "lr.yaml").write_text("learning_rate: 3e-5\nepochs: 2\n")
    assert load_config(tmp_path / "lr.yaml").learning_rate == 3e-5
    (tmp_path / "bad.yaml").write_text("epochs: [1]\n")
    assert main(["train", str(tmp_path / "bad.yaml")]) == 2


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="asserts the CPU choices")
def test_precision_and_strategy_on_a_cpu():
    assert choose_precision("auto") == "float32"  # no GPU here
    assert choose_precision("mixed_bfloat16") == "mixed_bfloat16"
    assert choose_strategy().num_replicas_in_sync == 1


def test_mixed_precision_keeps_the_outputs_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        for name, kwargs in [("zhang_eccv16", {"width": 1 / 16}),
                             ("iizuka_two_stream", {"width": 1 / 16, "global_size": 32})]:
            model = models.build(name, **kwargs)
            outputs = keras.tree.flatten(model(np.zeros((1, 32, 32, 1), "float32")))
            assert all(o.dtype == "float32" for o in outputs), name
            assert model.get_layer("conv1_1" if name == "zhang_eccv16" else "low_conv1") \
                .compute_dtype == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


_SCRIPT = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from colorlab.train import TrainConfig, train
config = TrainConfig(model="zhang_eccv16", model_args={{"width": 1 / 16}}, data=sys.argv[1],
                     image_size=32, batch_size=4, epochs={epochs}, steps_per_epoch=6,
                     checkpoint_every=1, samples=0, cache=False, learning_rate=1e-3)
strategy = {strategy}
result = train(config, sys.argv[2], strategy=strategy, verbose=0)
print("REPLICAS", strategy.num_replicas_in_sync if strategy else 1, "STEPS", result.steps,
      "FROM", result.resumed_from_step)
"""


def _run_script(tmp_path, data, run, epochs, strategy="None", wait=True):
    script = tmp_path / "run_train.py"
    script.write_text(_SCRIPT.format(epochs=epochs, strategy=strategy))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, str(script), str(data), str(run)]
    if wait:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


@pytest.mark.slow
def test_distributed_training_on_two_logical_cpus(tmp_path):
    data = photo_folder(tmp_path, count=8)
    done = _run_script(tmp_path, data, tmp_path / "run", epochs=1,
                       strategy='tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])')
    assert done.returncode == 0, done.stderr[-2000:]
    assert "REPLICAS 2 STEPS 6 FROM 0" in done.stdout


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    data = photo_folder(tmp_path, count=8)
    run = tmp_path / "run"
    process = _run_script(tmp_path, data, run, epochs=15, wait=False)  # 90 steps
    state = run / "state.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # kill it mid-run, once a few steps are saved
        if state.exists() and '"step": ' in state.read_text():
            import json

            if json.loads(state.read_text())["step"] >= 8:
                break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    import json

    saved = json.loads(state.read_text())["step"]
    assert 8 <= saved < 90, "the run was not killed mid-training"
    assert keras.models.load_model(run / "checkpoints" / "last.keras", safe_mode=True)
    done = _run_script(tmp_path, data, run, epochs=15)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = int(done.stdout.split("FROM")[1].split()[0])
    assert resumed == saved  # nothing before the last checkpoint is lost
    assert "STEPS 90" in done.stdout  # and the run ends where it would have


# === Colorizing ===============================================================================


def _zero_ab_model():
    """A model whose ab is exactly 0: its colorization is the photo's own gray."""
    inputs = keras.Input((None, None, 1))
    ab = keras.layers.Conv2D(2, 1, kernel_initializer="zeros", name="ab")(inputs)
    return keras.Model(inputs, ab)


def test_colorize_keeps_the_full_resolution_lightness():
    rng = np.random.default_rng(0)
    photo = (rng.random((300, 410, 3)) * 255).astype(np.uint8)  # fine detail everywhere
    result = colorize(_zero_ab_model(), photo, render_size=64)
    assert result.shape == photo.shape and result.dtype == np.uint8
    expected = color.rgb_to_lightness(photo)
    got = color.rgb_to_lightness(result)
    assert np.abs(got - expected).max() < 0.5  # the original L, not an upsampled one
    assert np.abs(result.astype(int) - gray_rgb(photo)).max() <= 1  # rounding only


def test_colorize_accepts_gray_rgba_16bit_and_refuses_0_255_floats():
    model = models.zhang_eccv16(width=1 / 16)
    gray = (np.arange(40 * 50) % 256).astype(np.uint8).reshape(40, 50)
    assert colorize(model, gray).shape == (40, 50, 3)
    rgba = np.dstack([np.stack([gray] * 3, -1), np.full((40, 50), 77, np.uint8)])
    out = colorize(model, rgba)
    assert out.shape == (40, 50, 4) and np.all(out[..., 3] == 77)
    sixteen = gray.astype(np.uint16) * 257
    np.testing.assert_array_equal(colorize(model, sixteen), colorize(model, gray))
    with pytest.raises(ValueError, match="divide it by 255"):
        colorize(model, gray.astype(np.float32))
    with pytest.raises(ValueError, match="RGBA"):
        colorize(model, np.zeros((4, 4, 2), np.uint8))


def test_a_long_thin_photo_is_not_blown_up():
    model = models.zhang_eccv16(width=1 / 16)
    assert working_size(model, 12, 4000, 256) == (32, 1024)  # long side <= 4 x render size
    assert working_size(model, 300, 400, 256) == (256, 344)  # ordinary photos: short side
    unet = models.unet_generator(width=1 / 16, down_filters=[8] * 7)  # a stride of 128
    assert working_size(unet, 300, 400, 256) == (256, 384)
    thin = np.full((12, 4000, 3), 90, np.uint8)
    assert colorize(model, thin, render_size=256).shape == (12, 4000, 3)
    with pytest.raises(ValueError, match="render_size must be"):
        colorize(model, thin, render_size=8)
    with pytest.raises(ValueError, match="temperature must be 0 or more"):
        colorize(model, thin, temperature=-1)


def test_a_12_megapixel_photo_needs_little_memory_beyond_the_model():
    model = models.zhang_eccv16(width=1 / 16)
    photo = np.full((3000, 4000, 3), 128, np.uint8)  # 12 Mpixel, 36 MB
    colorize(model, photo[:64, :64])  # build the model's graph first
    tracemalloc.start()
    result = colorize(model, photo, render_size=256)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.shape == photo.shape
    assert peak < 400e6, f"peak {peak / 1e6:.0f} MB"


def test_colorize_folder_skips_bad_files_and_never_overwrites(tmp_path, capsys):
    folder = photo_folder(tmp_path, count=2)
    (folder / "broken.jpg").write_text("not a photo")
    (folder / "sub").mkdir()
    Image.fromarray(np.full((20, 30), 40000, np.uint16)).save(folder / "sub" / "d.png")
    Image.open(folder / "p01.png").convert("RGB").save(folder / "p01.jpg")
    model = models.zhang_eccv16(width=1 / 16)
    out = tmp_path / "out"
    report = colorize_folder(model, folder, out, progress=False)
    # p01.png and p01.jpg would both be p01.png: each keeps its suffix instead.
    assert sorted(p.split("out/")[1] for p in report.written) == \
        ["p00.png", "p01.jpg.png", "p01.png.png", "sub/d.png"]
    assert len(report.skipped) == 1 and "not an image" in report.skipped[0][1]
    assert "skipped" in capsys.readouterr().err
    (out / "p00.png").write_bytes(b"mine")
    again = colorize_folder(model, folder, out, progress=False)
    assert (out / "p00.png").read_bytes() == b"mine" and len(again.existing) == 4
    # Files of the same name from different folders are numbered.
    assert _output_names([pathlib.Path(n) for n in ("a.jpg", "a.jpg", "a.png", "b.tif")]) == \
        [pathlib.Path(n) for n in ("a.jpg.png", "a.jpg-2.png", "a.png.png", "b.png")]
    # Names differing only in case are one file on macOS and Windows.
    assert _output_names([pathlib.Path("X.jpg"), pathlib.Path("x.png")]) == \
        [pathlib.Path("X.jpg.png"), pathlib.Path("x.png.png")]
    with pytest.raises(ValueError, match="render_size must be"):  # once, not once per photo
        colorize_folder(model, folder, out, progress=False, render_size=8)
    colorize_folder(model, folder, out, overwrite=True, progress=False)
    assert read_image(out / "p00.png").shape == (48, 64, 3)


# === Metrics ==================================================================================


def test_metrics_of_perfect_gray_and_constant_results():
    from conftest import make_photo

    photo = make_photo(3, (64, 64))
    from colorlab.quantize import ColorBins
    from colorlab.rebalance import rebalance_weights, zhang_imagenet_prior

    weights = rebalance_weights(zhang_imagenet_prior(), 0.0)
    with np.errstate(divide="ignore"):
        perfect = ev.photo_metrics(photo, photo, bin_weights=weights, bins=ColorBins.zhang313())
    assert perfect["auc"] == pytest.approx(1.0) and perfect["accuracy"] == 1.0
    gray = ev.photo_metrics(gray_rgb(photo), photo, bin_weights=weights,
                            bins=ColorBins.zhang313())
    assert gray["colorfulness"] == pytest.approx(0.0, abs=0.5)
    assert gray["auc_rebalanced"] < gray["auc"] < 1.0  # gray is penalised where colour is rare
    assert ev.auc_from_errors(np.array([0.0, 200.0])) == pytest.approx(0.5)
    # Hasler & Suesstrunk on pure red: rg = 255, yb = 127.5, no spread.
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert ev.colorfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))


def test_evaluate_writes_table_and_figure_with_baselines(tmp_path):
    from conftest import make_photo

    photos = [make_photo(i, (64, 64)) for i in range(3)]
    result = ev.evaluate({"tiny": models.zhang_eccv16(width=1 / 16)}, photos,
                         mean_color=ev.mean_ab(photos), render_size=64)
    assert [r["method"] for r in result.rows] == ["gray", "mean colour", "tiny"]
    paths = result.write(tmp_path)
    assert paths["figure"].stat().st_size > 1000
    assert "| gray |" in paths["markdown"].read_text()
    assert paths["csv"].read_text().splitlines()[0].startswith("method,auc,auc_rebalanced")
    with pytest.raises(ValueError, match="would replace a baseline"):
        ev.evaluate({"gray": models.zhang_eccv16(width=1 / 16)}, photos)


def test_evaluated_models_get_distinct_names():
    assert candidate_names(["runs/a/model.keras", "runs/b/model.keras"]) == [
        "runs/a/model", "runs/b/model"]
    assert candidate_names(["runs/zhang/", "other/l2.keras"]) == ["runs/zhang", "other/l2"]
    assert candidate_names(["gray"]) == ["gray (model)"]  # not the gray baseline
    assert candidate_names(["a/model", "a/model.keras"]) == ["a/model", "a/model.keras"]
    with pytest.raises(ValueError, match="given twice"):
        candidate_names(["runs/a", "runs/a/"])


def test_training_phases_finish_epochs_and_stop_at_max_steps():
    assert _phases(0, 25, 100) == [(0, 4, 25)]
    assert _phases(30, 25, 100) == [(1, 2, 20), (2, 4, 25)]  # the interrupted epoch first
    assert _phases(0, 25, 30) == [(0, 1, 25), (1, 2, 5)]  # max_steps: a short last epoch
    assert _phases(27, 25, 30) == [(1, 2, 3)]
    assert _phases(30, 25, 30) == [] and _phases(100, 25, 100) == []


def test_a_run_folder_loads_its_newest_model(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    models.zhang_eccv16(width=1 / 16, name="finished").save(run / "model.keras")
    models.zhang_eccv16(width=1 / 16, name="resumed").save(run / "checkpoints" / "last.keras")
    os.utime(run / "model.keras", (1e9, 1e9))  # the checkpoint of a later, interrupted run
    assert models.load_model(run).name == "resumed"
    os.utime(run / "model.keras", None)
    assert models.load_model(run).name == "finished"


# === The command line =========================================================================


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "nope"], "Unknown model 'nope'"),
    (["train", "--data", "nowhere", "--epochs", "1"], "neither"),
    (["colorize", ".", "-o", "out", "--model", "missing.keras"], "No model file"),
    (["colorize", "x.png", "-o", "out", "--model", "zhang_eccv16"], "No such input: x.png"),
    (["colorize", ".", "-o", "out", "--model", "weights.pth"], "holds PyTorch weights"),
    (["evaluate", "--model", "missing.keras"], "No model file"),
    (["data", "fetch", "nope"], "Unknown data set 'nope'"),
    (["colorize", "x.png", "-o", "out", "--model", "m.keras", "--render-size", "8"],
     "render_size must be"),
    (["colorize", "x.png", "-o", "out", "--model", "m.keras", "--temperature", "-1"],
     "temperature must be 0 or more"),
    (["demo", "--steps", "0"], "max_steps must be a positive integer"),
    (["evaluate", "--model", "m.keras", "--size", "8"], "--size must be from 32"),
    (["demo", "--minutes", "-1"], "time_limit must be > 0"),
])
def test_user_mistakes_give_one_line_and_status_2(argv, message, capsys, tmp_path,
                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.pth").write_bytes(b"not used")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("colorlab: error:") and message in err[-1]
    assert not any("Traceback" in line for line in err)


def test_every_command_has_help(capsys):
    for argv in ([], ["demo"], ["train"], ["colorize"], ["evaluate"], ["data"],
                 ["data", "list"], ["data", "fetch"], ["data", "prior"]):
        with pytest.raises(SystemExit) as exit_:
            main([*argv, "--help"])
        assert exit_.value.code == 0 and "usage: colorlab" in capsys.readouterr().out, argv
    # The installed console script runs the same parser.
    result = subprocess.run([sys.executable, "-m", "colorlab.cli", "data", "list"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "sample" in result.stdout


def test_cli_train_colorize_evaluate_round_trip(tmp_path, capsys):
    data = photo_folder(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--model", "zhang_eccv16", "--data", str(data), "--width", "0.0625",
                 "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2",
                 "--image-size", "32", "--out", str(run)]) == 0
    assert main(["colorize", str(data / "p00.png"), "-o", str(tmp_path / "c"),
                 "--model", str(run)]) == 0
    assert (tmp_path / "c" / "p00.png").is_file()
    assert main(["evaluate", "--model", str(run), "--data", str(data), "--size", "32",
                 "--split", "train", "--out", str(tmp_path / "e")]) == 0
    assert "| gray |" in capsys.readouterr().out
    assert main(["data", "prior", str(data), "--image-size", "32",
                 "--out", str(tmp_path / "prior.npy")]) == 0
    assert np.load(tmp_path / "prior.npy").sum() == pytest.approx(1.0)


def test_demo_runs_end_to_end_on_the_sample(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "3", "--width", "0.0625",
                 "--image-size", "64", "--steps-per-epoch", "2"]) == 0
    for name in ("run/model.keras", "metrics.csv", "metrics.md", "comparison.png",
                 ".colorlab-output"):  # marked: its figures never join a folder of photos
        assert (out / name).is_file(), name
    assert len(list((out / "colorized").glob("*.png"))) == 2  # the held-out test photos
    printed = capsys.readouterr().out
    assert f"| {out / 'run'} |" in printed and "  3 steps in" in printed  # exact, mid-epoch
    assert "resumed" not in printed  # a fresh run says nothing about resuming
    # colorlab evaluate scores the demo's run as the demo did: same photos, sizes, baselines.
    assert main(["evaluate", "--model", str(out / "run"), "--data", "sample", "--split",
                 "test", "--out", str(tmp_path / "ev")]) == 0
    assert "models see" in capsys.readouterr().out
    demo_rows = (out / "metrics.csv").read_text().splitlines()
    evaluate_rows = (tmp_path / "ev" / "metrics.csv").read_text().splitlines()
    assert len(demo_rows) == len(evaluate_rows) == 5  # header, gray, mean, run, truth
    for a, b in zip(demo_rows[1:], evaluate_rows[1:]):
        assert a.split(",")[0] == b.split(",")[0]
        assert np.allclose([float(x) for x in a.split(",")[1:]],
                           [float(x) for x in b.split(",")[1:]], atol=1e-6), (a, b)
    # Another length resumes the same run.
    assert main(["demo", "--out", str(out), "--steps", "4", "--width", "0.0625",
                 "--image-size", "64", "--steps-per-epoch", "2"]) == 0
    assert "steps 3 to 4 in" in capsys.readouterr().out
