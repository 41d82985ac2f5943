"""Ablations: the grid file, running it (resume, reuse, refusal, divergence), the kernel
penalty, and the seed-spread test."""

import csv
import json

import keras
import numpy as np
import pytest
from PIL import Image

from colorlab import ablate
from colorlab.ablate import runner, summary
from colorlab.ablate.grid import load_grid
from colorlab.cli import main
from colorlab.train import TrainConfig, TrainingDiverged, train
from colorlab.train.penalty import apply_kernel_penalty, data_loss_metric, kernel_variables


def photo_folder(tmp_path, count=24, size=(72, 72)):
    """Small colour photos made here; 24 of them leave every hash split non-empty."""
    from conftest import make_photo

    folder = tmp_path / "photos"
    folder.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(make_photo(i, size)).save(folder / f"p{i:02d}.png")
    return folder


def _write(path, grid):
    import yaml

    path.write_text(yaml.safe_dump(grid))
    return path


def tiny_grid(data, variants=None, seeds=2, steps=2, **evaluate):
    return {
        "name": "tiny",
        "base": {"model": "zhang_eccv16", "model_args": {"width": 0.0625}, "data": str(data),
                 "train_split": "train", "val_split": "val", "image_size": 64, "batch_size": 2,
                 "steps_per_epoch": 1, "checkpoint_every": 1, "samples": 0,
                 "learning_rate": 1e-3},
        "variants": variants if variants is not None else [
            {"label": "L2 kernel", "set": {"kernel_l2": 1e-3}},
            {"label": "output at 1/8", "set": {"model_args": {"output_stride": 8}}}],
        "seeds": seeds, "budget": {"steps": steps},
        "evaluate": {"split": "test", "photos": 3, "size": 64, **evaluate},
    }


@pytest.fixture
def count_training(monkeypatch):
    """Counts the runs trained (the real train underneath)."""
    calls = []

    def counted(config, run_dir, **kwargs):
        calls.append((config.seed, run_dir.parent.name))
        return train(config, run_dir, **kwargs)

    monkeypatch.setattr(runner, "train", counted)
    return calls


# === The grid file ============================================================================


@pytest.mark.parametrize("name", ["zhang_ablation", "vgg16_ablation"])
def test_the_shipped_grids_parse_at_every_size(name):
    grid = load_grid(name)
    assert grid.variants[0].label == "base"
    assert {"quick", "cpu", "gpu"} <= set(grid.sizes)
    for size in grid.sizes:
        sized = load_grid(name, size)
        assert sized.size == size and len(sized.seeds) >= 2
        assert all(c.config.max_steps == sized.steps for c in sized.variants)
    cpu = load_grid(name, "cpu")
    assert len(cpu.seeds) == 2 and len(cpu.variants) >= 5


def test_the_zhang_grid_is_the_reports_ablation():
    grid = load_grid("zhang_ablation", "cpu")
    configs = {v.label: v.config for v in grid.variants}
    base = configs["base"]
    assert configs["L2 kernel 1e-4"].kernel_l2 == 1e-4 and base.kernel_l2 == 0
    assert configs["AdaDelta"].optimizer == "adadelta" and base.optimizer == "adam"
    assert configs["fewer layers"].model_args["middle_dilations"] == [1, 2]
    assert configs["output at 1/8"].model_args == {"width": 0.125, "output_stride": 8}
    assert configs["output at 1/8"].training_target.downsample == 8
    assert configs["lambda 0"].rebalance_lambda == 0.0 and base.rebalance_lambda == 0.5
    for label, config in configs.items():  # each differs from the base in what it says only
        changed = {k for k, v in config.to_dict().items() if v != base.to_dict()[k]}
        assert changed <= {"kernel_l2", "optimizer", "learning_rate", "weight_decay",
                           "beta_1", "beta_2", "model_args", "rebalance_lambda"}, label


def test_the_vgg_grid_is_the_reports_ablation():
    grid = load_grid("vgg16_ablation", "cpu")
    configs = {v.label: v.config for v in grid.variants}
    assert configs["base"].loss == "mse" and configs["base"].model_args["freeze_encoder"]
    assert (configs["L1"].kernel_l1, configs["L1"].kernel_l2) == (1e-5, 0)
    assert (configs["L2"].kernel_l1, configs["L2"].kernel_l2) == (0, 1e-4)
    assert (configs["L1 + L2"].kernel_l1, configs["L1 + L2"].kernel_l2) == (1e-5, 1e-4)
    assert load_grid("vgg16_ablation", "quick").variants[0].config.model_args["weights"] is None


@pytest.mark.parametrize("change, message", [
    ({"variants": [{"label": "a", "set": {"learning_rat": 1e-3}}]},
     "variant 'a'.*learning_rat: did you mean learning_rate"),
    ({"variants": [{"label": "a", "set": {"width": 0.5}}]}, "put it under model_args"),
    ({"variants": [{"label": "a", "set": {"model_args": {"dropot": 0.1}}}]}, "dropot"),
    ({"variants": [{"label": "a"}, {"label": "A"}]}, "used twice"),
    ({"variants": [{"label": "base", "set": {"dropout": 0}}]}, "base runs as 'base'"),
    ({"variants": [{"label": "a", "set": {"max_steps": 10}}]}, "grid's budget"),
    ({"variants": [{"label": "a", "set": {"seed": 3}}]}, "seeds"),
    ({"budget": {"steps": 0}}, "budget steps must be a whole number of at least 1"),
    ({"budget": {}}, "budget steps"),
    ({"seeds": 0}, "seeds must be at least 1"),
    ({"evaluate": {"split": "tset"}}, "evaluate: Unknown split 'tset'"),
    ({"evaluate": {"photos": 0}}, "evaluate photos"),
    ({"variants": [{"label": "a", "set": {"train_split": "tran"}}]},
     "variant 'a': train_split: Unknown split 'tran'"),
    ({"variant": []}, "unknown key.*did you mean variants"),
])
def test_grid_mistakes_are_named_before_anything_trains(tmp_path, change, message):
    grid = tiny_grid(tmp_path)
    grid.update(change)
    with pytest.raises(ValueError, match=message):
        load_grid(grid)


def test_an_option_the_method_ignores_is_refused(tmp_path):
    grid = tiny_grid(tmp_path, variants=[{"label": "vgg", "set": {"model": "vgg16_colorizer",
                                                                   "model_args": {"weights": None}}}])
    grid["base"]["rebalance_lambda"] = 0.5
    with pytest.raises(ValueError, match="variant 'vgg'.*rebalance_lambda.*drop it"):
        load_grid(grid)


def test_sizes_merge_and_pick_variants(tmp_path):
    grid = tiny_grid(tmp_path)
    grid["sizes"] = {"small": {"base": {"model_args": {"dropout": 0.1}}, "seeds": [3],
                               "variants": ["L2 kernel"], "budget": {"steps": 5}}}
    small = load_grid(grid, "small")
    assert [v.label for v in small.variants] == ["base", "L2 kernel"]
    assert small.variants[0].config.model_args == {"width": 0.0625, "dropout": 0.1}
    assert small.seeds == (3,) and small.steps == 5
    with pytest.raises(ValueError, match="no size 'big'; its sizes: small"):
        load_grid(grid, "big")
    grid["sizes"]["small"]["variants"] = ["nope"]
    with pytest.raises(ValueError, match="names variant"):
        load_grid(grid, "small")


def test_a_grid_file_that_is_not_a_grid(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        load_grid(path)
    with pytest.raises(FileNotFoundError, match="shipped grids: vgg16_ablation, zhang_ablation"
                       "|shipped grids: zhang_ablation"):
        load_grid(tmp_path / "missing.yaml")


def test_an_empty_evaluation_or_training_set_fails_before_training(tmp_path, count_training):
    grid = tiny_grid(photo_folder(tmp_path))
    grid["evaluate"]["data"] = str(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no photos to score"):
        ablate.run(grid, tmp_path / "out")
    grid = tiny_grid(photo_folder(tmp_path / "few", count=1))  # its one photo is not "val"
    grid["evaluate"]["split"] = None
    grid["base"]["train_split"] = "val"
    with pytest.raises(ValueError, match="'val' split of .* holds no photos to train on"):
        ablate.run(grid, tmp_path / "out")
    assert not count_training and not (tmp_path / "out").exists()


# === Running a grid ===========================================================================


def test_two_variants_two_seeds_train_score_and_resume(tmp_path, count_training):
    data = photo_folder(tmp_path)
    grid = tiny_grid(data, variants=[
        {"label": "output at 1/8", "set": {"model_args": {"output_stride": 8}}},
        {"label": "base again", "set": {}}])  # the same config under another label
    out = tmp_path / "out"
    # A run interrupted half-way: one step trained of the budget's two.
    first = load_grid(grid).config("base", 0)
    train(TrainConfig.from_dict({**first.to_dict(), "max_steps": 1}),
          runner.run_folder(out, load_grid(grid).variants[0], 0), verbose=0)

    result = ablate.run(grid, out, verbose=0)
    assert len(count_training) == 6 and result.complete
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["variant"], r["seed"], r["status"]) for r in rows] == [
        (v, s, "finished") for s in "01" for v in ("base", "output at 1/8", "base again")]
    for row in rows:
        assert 0 < float(row["auc"]) <= 1 and float(row["photos_per_second"]) > 0
        assert float(row["train_loss"]) > 0 and float(row["val_loss"]) > 0
    resumed = json.loads((out / "runs/base/seed_0/ablation.json").read_text())
    assert resumed["trained"] == 1 and resumed["steps"] == 2  # resumed at step 1, not redone
    text = (out / "summary.md").read_text()
    assert "| base | 2 |" in text and "| output at 1/8 | 2 |" in text and "| gray |" in text
    for name in ("metrics.png", "losses.png", "samples.png", "grid.yaml"):
        assert (out / name).stat().st_size > 0
    assert list(result.samples) == ["gray input", "base", "output at 1/8", "base again",
                                    "ground truth"]

    # The same config under two labels: no metric can tell them apart.
    again = result.summary[2]
    for metric in summary.METRICS[:-1]:  # photos/s is a clock, not a result
        assert not again[metric]["vs_base"]["distinguishable"], metric
    row = next(line for line in text.splitlines() if line.startswith("| base again"))
    assert row.count("≈") >= 6
    # Losses at 1/8 of the input are another function than the base's: shown, not compared.
    coarse = next(line for line in text.splitlines() if line.startswith("| output at 1/8"))
    assert coarse.count("†") == 2 and "output at 1/8**: val loss" not in text
    assert not result.summary[1]["val_loss"]["vs_base"]["comparable"]

    # Run again: every finished run is reused, and its scores come from the cache.
    count_training.clear()
    again = ablate.run(grid, out, verbose=0)
    assert count_training == []
    assert [r["auc"] for r in again.records] == [r["auc"] for r in result.records]


def test_a_changed_setting_is_refused_before_training(tmp_path, count_training):
    data = photo_folder(tmp_path)
    grid = tiny_grid(data, variants=[], seeds=1, steps=1)
    ablate.run(grid, tmp_path / "out", verbose=0)
    count_training.clear()
    grid["base"]["learning_rate"] = 3e-4
    with pytest.raises(ValueError, match="base/seed_0 was trained with other settings than "
                       r"the grid's \(learning_rate 0.001 -> 0.0003\); run the grid into"):
        ablate.run(grid, tmp_path / "out", verbose=0)
    assert main(["ablate", str(_write(tmp_path / "g.yaml", grid)), "--out",
                 str(tmp_path / "out"), "--check"]) == 2  # --check finds it too
    assert count_training == []
    grid["base"]["learning_rate"] = 1e-3
    grid["budget"]["steps"] = 2  # a longer budget trains the finished run on
    grid["seeds"] = 2  # and a new seed trains only its own run
    result = ablate.run(grid, tmp_path / "out", verbose=0)
    assert count_training == [(0, "base"), (1, "base")]
    assert [r["steps"] for r in result.records] == [2, 2]
    resumed = json.loads((tmp_path / "out/runs/base/seed_0/ablation.json").read_text())
    assert resumed["trained"] == 2  # one step, then one more


def test_a_diverged_run_is_reported_and_the_grid_goes_on(tmp_path, monkeypatch):
    data = photo_folder(tmp_path)
    grid = tiny_grid(data, variants=[{"label": "too fast", "set": {"learning_rate": 1e9}}],
                     seeds=1, steps=1)

    def fake(config, run_dir, **kwargs):
        if config.learning_rate > 1:
            run_dir.mkdir(parents=True)
            raise TrainingDiverged("Training diverged (loss is nan) at step 1")
        return train(config, run_dir, **kwargs)

    monkeypatch.setattr(runner, "train", fake)
    result = ablate.run(grid, tmp_path / "out", verbose=0)
    assert [r["status"] for r in result.records] == ["finished", "diverged"]
    text = result.markdown()
    assert "too fast, seed 0: diverged (Training diverged (loss is nan)" in text
    assert "| too fast | 0 | - |" in text


def test_scoring_training_photos_is_warned_about(tmp_path, capsys):
    grid = load_grid({**tiny_grid(photo_folder(tmp_path)), "evaluate": {"split": "train"}})
    files, warnings = runner.check(grid)
    assert files and len(warnings) == 1
    assert "photos scored are training photos of base" in warnings[0]


def test_weights_none_in_yaml_means_no_weights():
    config = TrainConfig(model="vgg16_colorizer", model_args={"weights": "none"})
    assert config.model_args["weights"] is None


def test_the_command_line_checks_and_lists(tmp_path, capsys):
    assert main(["ablate", "--list"]) == 0
    assert "zhang_ablation" in capsys.readouterr().out
    photos = photo_folder(tmp_path)  # the grid's bsds500 would be fetched: offline here
    assert main(["ablate", "zhang_ablation", "--size", "cpu", "--check", "--data",
                 str(photos)]) == 0
    out = capsys.readouterr().out
    assert "Checked: the photos to train on and 1 to score are there" in out
    assert "7 variants x 2 seeds = 14 runs of 800 steps" in out and "output at 1/8" in out
    assert main(["ablate", "zhang_ablation", "--size", "huge", "--check"]) == 2
    assert "has no size 'huge'" in capsys.readouterr().err
    assert main(["ablate", "zhang_ablaton", "--check"]) == 2
    assert "did you mean zhang_ablation?" in capsys.readouterr().err
    grid = tiny_grid(tmp_path / "no" / "such")
    assert main(["ablate", str(_write(tmp_path / "nodata.yaml", grid)), "--check"]) == 2
    assert "The photos to train on:" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: {model: zhang_eccv16}\nbudget: {steps: 0}\n")
    assert main(["ablate", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "budget steps must be" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# === The seed-spread test =====================================================================


def test_compare_tells_real_differences_from_seed_noise():
    assert summary.compare([0.80, 0.81, 0.79], [0.90, 0.91, 0.89])["distinguishable"]
    noisy = summary.compare([0.80, 0.82], [0.81, 0.83])
    assert not noisy["distinguishable"] and noisy["difference"] == pytest.approx(0.01)
    one = summary.compare([0.8], [0.9])
    assert not one["distinguishable"] and np.isnan(one["p"])
    assert summary.compare([1.0, 1.0], [1.0, 1.0])["p"] == 1.0
    assert summary.compare([1.0, 1.0], [2.0, 2.0])["distinguishable"]
    assert not summary.compare([], [1.0, 2.0])["distinguishable"]


# === The kernel penalty =======================================================================


def tiny_model():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2DTranspose(2, 2, strides=2, name="up")(x)
    x = keras.layers.Flatten()(x)
    frozen = keras.layers.Dense(4, name="frozen")
    outputs = keras.layers.Dense(1, name="dense")(frozen(x))
    frozen.trainable = False
    return keras.Model(inputs, outputs)


def test_the_kernel_penalty_adds_l1_and_l2_to_the_loss():
    keras.utils.set_random_seed(0)
    model = tiny_model()
    assert apply_kernel_penalty(model, l1=1e-3, l2=1e-2) == 3  # conv, up, dense; not frozen
    assert [v.path for v in kernel_variables(model)] == ["conv/kernel", "up/kernel",
                                                          "dense/kernel"]
    kernels = [model.get_layer(n).kernel.numpy() for n in ("conv", "up", "dense")]
    by_hand = sum(1e-3 * np.abs(k).sum() + 1e-2 * np.square(k).sum() for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(by_hand, rel=1e-5)

    loss = keras.losses.MeanSquaredError()
    model.compile("sgd", loss=loss, metrics=[data_loss_metric(loss)])
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 1)).astype("float32")
    y = np.zeros((4, 1), "float32")
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    plain = float(np.mean(np.square(model.predict(x, verbose=0))))
    assert logs["data_loss"] == pytest.approx(plain, rel=1e-5)
    assert logs["loss"] - logs["data_loss"] == pytest.approx(by_hand, rel=1e-4)
    with pytest.raises(ValueError, match="already have a regularizer"):
        apply_kernel_penalty(model, l2=1e-3)


def test_kernel_penalty_options_are_checked():
    with pytest.raises(ValueError, match="kernel_l2 is a penalty factor >= 0"):
        TrainConfig(kernel_l2=-1.0)
    with pytest.raises(ValueError, match="model_args l2 and kernel_l1/kernel_l2 both"):
        TrainConfig(model="vgg16_colorizer", model_args={"weights": None, "l2": 1e-4},
                    kernel_l2=1e-4)
    assert TrainConfig(model="vgg16_colorizer", model_args={"weights": None},
                       kernel_l1=1e-5).kernel_l1 == 1e-5
