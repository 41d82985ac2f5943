"""The package's structure as issue 16 asks for it: one home per method, a light import,
no import cycles, modules of one concept."""

import ast
import subprocess
import sys

import keras
import numpy as np
import pytest

from colorlab import models
from colorlab.train import TrainConfig
from conftest import ROOT, make_photo

PACKAGE = ROOT / "colorlab"


# === One home per method ========================================================================


def _toy_colorizer(width: float = 1.0, input_shape=None, name: str = "toy_colorizer"):
    """A two-layer student model: L in, ab / 110 out (the 'add a model' exercise)."""
    inputs = models.lightness_input(input_shape, 2)
    x = keras.layers.Conv2D(models.scaled(8, width), 3, strides=2, padding="same",
                            activation="relu", name="down")(inputs)
    x = keras.layers.UpSampling2D(2, name="up")(x)
    ab = keras.layers.Conv2D(2, 3, padding="same", activation="tanh", dtype="float32",
                             name="ab")(x)
    return models.BuiltModel(inputs, ab, builder="toy_colorizer",
                             arguments=dict(width=width, input_shape=input_shape), name=name)


@pytest.fixture
def sample_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(16):
        Image.fromarray(make_photo(i, (48, 64))).save(folder / f"p{i:02d}.png")
    return folder


@pytest.fixture
def toy_method():
    method = models.register(models.Method(
        name="toy_colorizer", builder=_toy_colorizer, paper="a student's exercise",
        output="ab", target="ab", loss="l1", losses=("mse",),
        optimizer=dict(optimizer="adam", learning_rate=1e-3), image_size=32, multiple=2,
        to_ab=models.ab_from_regression,
    ))
    yield method
    del models.METHODS["toy_colorizer"]


def test_a_registered_toy_method_trains_colorizes_and_evaluates(toy_method, tmp_path,
                                                                 sample_folder):
    from colorlab.colorize import colorize
    from colorlab.evaluate import Candidate, evaluate_split
    from colorlab.train import train

    assert "toy_colorizer" in models.names() and models.side_multiple("toy_colorizer") == 2
    config = TrainConfig(model="toy_colorizer", data=str(sample_folder), batch_size=2,
                         max_steps=2, samples=1, cache=False)
    assert (config.loss, config.image_size, config.target) == ("l1", 32, "ab")
    result = train(config, tmp_path / "run", verbose=0)
    model = models.load_model(tmp_path / "run")  # the .keras file rebuilds through METHODS
    assert models.method_of(model) is toy_method and result.steps == 2
    photo = np.full((40, 50, 3), 120, np.uint8)
    assert colorize(model, photo).shape == (40, 50, 3)
    scores = evaluate_split([Candidate("toy", model, config)], str(sample_folder), "val+test",
                            size=64)
    assert {"gray", "toy"} <= {row["method"] for row in scores.rows}


@pytest.mark.parametrize("options, message", [
    (dict(model="zhang_eccv16", loss="mse"), "loss must be one of .* for zhang_eccv16.*head"),
    (dict(model="vgg16_colorizer", prior="data"), "prior is an option of zhang_eccv16"),
    (dict(model="unet_generator", rebalance_lambda=0.3), "rebalance_lambda is an option of"),
    (dict(model="vgg16_colorizer", momentum=0.9), "momentum is an option of the sgd optimizer"),
    (dict(model="iizuka_two_stream", optimizer="sgd", beta_1=0.5), "beta_1 is an option of the adam"),
    (dict(model="patch_discriminator"), "not trained on its own"),
    (dict(model="zhang_eccv16", model_args={"weights": None}), "'weights' is not an argument"),
])
def test_options_a_method_ignores_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**options)


def test_methods_fill_their_own_defaults():
    assert TrainConfig(model="vgg16_colorizer").prior is None
    zhang = TrainConfig()
    assert (zhang.prior, zhang.rebalance_lambda, zhang.loss) == ("imagenet", 0.5, "rebalanced")
    sgd = TrainConfig(optimizer="sgd", momentum=0.9)  # Zhang's Adam settings do not carry over
    assert (sgd.beta_1, sgd.beta_2, sgd.momentum, sgd.learning_rate, sgd.weight_decay) == (
        None, None, 0.9, 1e-2, None)
    adadelta = TrainConfig(optimizer="adadelta")
    assert (adadelta.learning_rate, adadelta.weight_decay) == (1.0, None)
    assert TrainConfig(model="iizuka_two_stream", optimizer="adam").learning_rate == 1e-3
    assert TrainConfig(model="iizuka_two_stream").image_size == 224


def test_no_module_dispatches_on_a_model_name():
    """Outside colorlab/models, no code compares against a method's name."""
    names = set(models.names())
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "models" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                constants = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
                if names & set(map(str, constants)):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders


# === A light import ==============================================================================


def test_import_colorlab_help_and_argument_errors_need_no_tensorflow():
    script = """
import contextlib, io, sys
import colorlab
assert "tensorflow" not in sys.modules, "import colorlab imported TensorFlow"
from colorlab.cli import main
for argv in ([], ["--help"], ["train", "--help"], ["demo", "--help"], ["colorize", "--help"],
             ["evaluate", "--help"], ["models", "--help"], ["data", "list", "--help"],
             ["data", "prior", "--help"], ["train", "--epochs", "many"], ["colorize"],
             ["nosuchcommand"]):
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit:
            pass
    first = err.getvalue().splitlines()[:1]  # a mistake's first line says what was wrong
    assert not first or first[0].startswith("colorlab: error: "), (argv, err.getvalue())
    assert "tensorflow" not in sys.modules, f"{argv} imported TensorFlow"
print("light")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "light", done.stderr


def test_loading_colorlab_models_registers_the_keras_classes():
    done = subprocess.run(
        [sys.executable, "-c", "import keras, colorlab.models; "
         "print(keras.saving.get_registered_object('colorlab>BuiltModel') is not None, "
         "keras.saving.get_registered_object('colorlab>RebalancedCrossEntropy') is not None)"],
        capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["True", "True"], done.stderr


# === No import cycles, modules of one concept ====================================================


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path, modules):
    """colorlab modules a file imports anywhere (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in modules:
                found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names
                      if f"{node.module}.{alias.name}" in modules}
    return found


def test_no_import_cycle_among_colorlab_modules():
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path, paths) - {name} for name, path in paths.items()}
    # A module importing its own package's __init__ (colorlab.data.x -> colorlab.data) is
    # Python's package machinery, not a cycle: leave those edges out.
    graph = {name: {t for t in targets if not name.startswith(t + ".")}
             for name, targets in graph.items()}
    visiting, done, cycles = set(), set(), []

    def visit(name, trail):
        visiting.add(name)
        for target in sorted(graph[name]):
            if target in visiting:
                cycles.append(" -> ".join([*trail[trail.index(target):], target]))
            elif target not in done:
                visit(target, [*trail, target])
        visiting.discard(name)
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert not cycles, cycles


def test_function_level_imports_of_colorlab_are_only_the_clis():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "cli.py":
            continue
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                            "colorlab") and [a.name for a in node.names] != ["_startup"]:
                        # (the one deliberate lazy import: TensorFlow's quiet start-up, where
                        # a light module needs TensorFlow in one function)
                        offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, offenders


def test_no_module_is_much_over_450_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 470}
    assert not long, long


def test_a_method_description_is_checked_when_made():
    base = dict(name="t", builder=_toy_colorizer, paper="", output="ab", target="ab",
                loss="mse", to_ab=models.ab_from_regression, image_size=64, multiple=4)
    for change, message in [({"target": "soft"}, "'ab' output trains on 'ab'"),
                            ({"optimizer": {"optimizer": "adamw"}}, "optimizer must be"),
                            ({"image_size": 66}, "not a multiple of"),
                            ({"to_ab": None}, "needs to_ab")]:
        with pytest.raises(ValueError, match=message):
            models.Method(**{**base, **change})


def test_a_builder_that_returns_a_plain_keras_model_is_refused(tmp_path, sample_folder):
    def plain(width: float = 1.0, input_shape=None, name: str = "plain"):
        inputs = keras.Input((None, None, 1))
        return keras.Model(inputs, keras.layers.Conv2D(2, 1, name="ab")(inputs), name=name)

    models.register(models.Method(name="plain", builder=plain, paper="", output="ab",
                                  target="ab", loss="mse", image_size=32, multiple=1,
                                  to_ab=models.ab_from_regression))
    try:
        from colorlab.train import train

        config = TrainConfig(model="plain", data=str(sample_folder), batch_size=2, max_steps=1)
        with pytest.raises(ValueError, match="returns models.BuiltModel"):
            train(config, tmp_path / "run", verbose=0)
    finally:
        del models.METHODS["plain"]
