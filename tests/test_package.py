"""The package as students and CI meet it: README commands, notebooks' hygiene, helpers."""

import json
import re

import matplotlib
import numpy as np
import pytest

import colorlab
from colorlab import notebook, plot
from colorlab.quantize import ColorBins

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    lines = ci.split("# --- the README's Quickstart, verbatim ---", 1)[1].strip().splitlines()
    install, test = lines
    assert install == 'pip install -e ".[dev]"' and test == "pytest"
    assert re.search(r'^pip install -e "\.\[dev\]"', readme, re.M)
    assert re.search(r"^pytest\b", readme, re.M)


def test_public_api():
    assert colorlab.__version__
    lab = colorlab.rgb_to_lab(np.array([[0.5, 0.5, 0.5]]))
    np.testing.assert_allclose(colorlab.lab_to_rgb(lab), [[0.5, 0.5, 0.5]], atol=1e-6)
    assert len(colorlab.ColorBins.zhang313()) == len(colorlab.zhang_imagenet_prior()) == 313


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_quick_mode_switch(monkeypatch, value, expected):
    monkeypatch.setenv(notebook.QUICK_ENV, value)
    assert notebook.quick_mode() is expected
    assert notebook.setup(verbose=False) is expected


def test_sample_photo():
    assert notebook.sample_photo("chelsea").dtype == np.uint8
    with pytest.raises(ValueError, match="choose one of"):
        notebook.sample_photo("mona_lisa")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = "".join(cells[0]["source"])
    assert "google.colab" in first and "pip install" in first and "notebook.setup()" in first
    assert re.match(r"\d\d_", path.name)
    checked = 0
    for cell in cells:
        source = "".join(cell["source"])
        if "NBVAL_CHECK_OUTPUT" in source:
            checked += 1
            assert cell["outputs"], f"{path.name}: a checked cell has no stored output"
        else:
            assert not cell["outputs"], f"{path.name}: commit outputs only for checked cells"
    assert checked >= 1
    assert "from colorlab" in "".join(s for c in cells for s in c["source"])


def test_strip_outputs_keeps_only_checked_cells(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    kept = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)")
    kept.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    dropped = nbformat.v4.new_code_cell("print(2)", execution_count=3)
    dropped.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    nb.cells = [kept, dropped]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert notebook.strip_outputs(str(path)) == 1
    again = nbformat.read(path, as_version=4)
    assert again.cells[0].outputs and not again.cells[1].outputs


def test_plot_helpers():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, mask = plot.ab_plane(50, resolution=111)
    assert image.shape == (111, 111, 3) and 0.1 < mask.mean() < 0.6
    _, mask_white = plot.ab_plane(99.9, resolution=111)
    assert mask_white.mean() < 0.02
    fig, axes = plt.subplots(1, 3)
    bins = ColorBins.zhang313()
    plot.plot_bins(axes[0], bins)
    plot.plot_bins(axes[1], bins, colorlab.zhang_imagenet_prior(), log=True)
    plot.plot_ab_plane(axes[2], 60)
    plot.plot_lab_channels(notebook.sample_photo("coffee")[::8, ::8])
    plt.close("all")
