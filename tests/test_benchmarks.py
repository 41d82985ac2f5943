"""The benchmark scripts run end to end (tiny settings, photos made here). Slow: -m slow."""

import subprocess
import sys

import pytest
from PIL import Image

from conftest import ROOT, make_photo

pytestmark = pytest.mark.slow


def _photos(root, layout):
    for folder, count in layout.items():
        path = root / folder
        path.mkdir(parents=True)
        for i in range(count):
            Image.fromarray(make_photo(7 * len(folder) + i, (48, 64))).save(path / f"{i}.png")
    return root


def _script(name, *args):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *map(str, args)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_does_it_learn_trains_both_heads_and_checks_the_claim(tmp_path):
    photos = _photos(tmp_path / "photos", {"imagenet-sample": 6, "bsds500/train": 4,
                                           "bsds500/val": 3})
    out = tmp_path / "out"
    tiny = ["--photos", photos, "--out", out, "--width", 1 / 16, "--image-size", 32,
            "--batch-size", 2, "--eval-size", 64]
    printed = _script("does_it_learn.py", *tiny, "--minutes", 0.02)
    assert "Trained on 10 photos" in printed and "evaluated on 3" in printed
    assert printed.count("PASS") + printed.count("FAIL") == 3
    assert "| zhang (L2 regression) |" in printed
    assert (out / "evaluation" / "metrics.md").is_file()
    again = _script("does_it_learn.py", *tiny, "--evaluate-only")
    assert again.count("reusing the finished run") == 2


def test_startup_benchmark_reports_the_ratio():
    printed = _script("startup.py", "--rounds", 1)
    assert "colorlab --help / import tensorflow = " in printed


def test_train_throughput_measures_float32_on_a_cpu(tmp_path):
    photos = _photos(tmp_path / "photos", {"p": 8})
    printed = _script("train_throughput.py", "--photos", photos, "--width", 1 / 16,
                      "--image-size", 32, "--batch-size", 4, "--steps", 2, "--warmup", 1)
    assert "float32" in printed and "photos/s" in printed
    assert "mixed_float16          skipped (no GPU" in printed


def test_pretrained_benchmark_compares_inference_with_the_machines_matmul():
    printed = _script("pretrained.py", "--rounds", 1, "--size", 64, "--photo-side", 120, 160)
    assert "GFLOP/s (numpy)" in printed and printed.count(" p/s ") == 4
    assert "zhang_eccv16" in printed and "zhang_siggraph17" in printed
