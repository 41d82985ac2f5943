"""The predicted colour distribution (uncertainty, coherent alternatives) and colour hints."""

import numpy as np
import pytest

from colorlab import models, pretrained
from colorlab.colorize import colorize
from colorlab.distribution import alternatives, entropy_bits, smooth_gumbel, uncertainty
from colorlab.predict import hint_maps, predict
from conftest import ROOT, make_photo

PHOTO = make_photo(3, (60, 80))


@pytest.fixture(scope="module")
def eccv16():
    return models.zhang_eccv16(width=1 / 16, release=True)


def test_entropy_is_zero_for_a_sure_pixel_and_log2_q_for_a_uniform_one():
    logits = np.zeros((2, 313), np.float32)
    logits[1, 7] = 1000.0
    bits = entropy_bits(logits)
    np.testing.assert_allclose(bits, [np.log2(313), 0.0], atol=1e-4)


def test_uncertainty_is_a_map_of_bits_at_the_photos_size(eccv16):
    bits = uncertainty(eccv16, PHOTO)
    assert bits.shape == (60, 80) and bits.dtype == np.float32
    assert 0 <= bits.min() and bits.max() <= np.log2(313) + 1e-4


def test_the_noise_is_gumbel_at_every_pixel_so_each_choice_is_an_exact_sample():
    """Gumbel-max: argmax(logits + g) is distributed as softmax(logits) when g is standard
    Gumbel, however the noise is correlated across pixels."""
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    rng = np.random.default_rng(0)
    picks = [int(np.argmax(logits + smooth_gumbel((6, 6, 4), 2.0, rng)[3, 2]))
             for _ in range(3000)]
    frequency = np.bincount(picks, minlength=4) / len(picks)
    np.testing.assert_allclose(frequency, [0.5, 0.3, 0.15, 0.05], atol=0.03)


def test_coherent_noise_makes_neighbours_choose_together():
    rng = np.random.default_rng(1)
    flat = np.zeros((48, 48, 20))  # every bin equally likely everywhere

    def changes(sigma):
        choice = np.argmax(flat + smooth_gumbel(flat.shape, sigma, rng), axis=-1)
        return float(np.mean(choice[:, 1:] != choice[:, :-1]))

    assert changes(0.0) > 0.9  # per-pixel sampling: confetti
    assert changes(8.0) < 0.15  # one noise field: regions


def test_alternatives_differ_from_each_other_and_repeat_with_their_seed(eccv16):
    first = alternatives(eccv16, PHOTO, 3, seed=4)
    again = alternatives(eccv16, PHOTO, 3, seed=4)
    assert len(first) == 3 and first[0].shape == (60, 80, 3) and first[0].dtype == np.uint8
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], alternatives(eccv16, PHOTO, 1, seed=5)[0])


def test_distribution_tools_refuse_a_model_that_regresses_ab(eccv16):
    regression = models.zhang_siggraph17(width=1 / 16)
    with pytest.raises(ValueError, match="outputs ab.*load_model\\('zhang_eccv16'\\)"):
        uncertainty(regression, PHOTO)
    with pytest.raises(ValueError, match="temperature 0 is the mode"):
        alternatives(eccv16, PHOTO, temperature=0)
    with pytest.raises(ValueError, match="count is how many"):
        alternatives(eccv16, PHOTO, count=0)


def test_hints_are_squares_of_the_colours_chroma_on_the_copy_the_model_sees():
    ab, mask = hint_maps([(0, 0, (0, 0, 255)), (99, 199, "#00ff00")], (100, 200), (48, 96),
                         hint_size=3)
    assert mask[0, 0, 0] == 1 and mask[:2, :2].sum() == 4  # cut at the edge
    assert mask[46:48, 94:96].sum() == 4 and mask.sum() == 8
    assert ab[0, 0, 1] < -0.9  # blue: b about -108
    assert ab[47, 95, 0] < -0.7  # green: a about -86
    for hint, message in (((5, 5), "a hint is \\(row, col, colour\\)"),
                          ((100, 5, "#ffffff"), "not on the photo, whose rows are 0-99"),
                          ((5, 5, "red"), "RGB triple of 0-255 numbers"),
                          ((5, 5, (300, 0, 0)), "RGB triple")):
        with pytest.raises(ValueError, match=message):
            hint_maps([hint], (100, 200), (48, 96))


def test_a_hint_recolours_the_released_siggraph17_and_other_models_refuse_hints(eccv16,
                                                                               tmp_path):
    """The committed width-1/16 release (official layout, random weights): a hint feeds the
    four-channel network exactly as the official forward pass (tests/test_pretrained.py),
    so here: it changes the colours near it, and only there most."""
    source = tmp_path / "siggraph17.pth"  # a copy: the conversion is saved beside it
    source.write_bytes((ROOT / "tests" / "data" / "siggraph17_width1-16_torch2.13.pth")
                       .read_bytes())
    model = pretrained.load("zhang_siggraph17", source)
    plain = predict(model, PHOTO, render_size=64).output  # (64, 88, 2) ab / 110
    hinted = predict(model, PHOTO, render_size=64, hints=[(30, 40, "#20c020")]).output
    change = np.abs(hinted - plain).sum(axis=-1)
    assert plain.shape == (64, 88, 2) and change.max() > 1e-3
    assert change[27:37, 39:49].mean() > 10 * change.mean()  # around (32, 44): the hint
    assert colorize(model, PHOTO, hints=[(30, 40, "#20c020")]).shape == (60, 80, 3)
    with pytest.raises(ValueError, match="takes no colour hints; zhang_siggraph17 does"):
        colorize(eccv16, PHOTO, hints=[(1, 1, "#ff0000")])


def test_a_newcomers_mistakes_get_one_clear_line(eccv16):
    """What a student tried first (lesson 00's trial): each refused, saying what to do."""
    decoded = pretrained.load("zhang_eccv16", "Random")  # already decoded at T = 1
    with pytest.raises(ValueError, match="outputs ab directly, so temperature 0 would change"):
        colorize(decoded, PHOTO, temperature=0)
    assert colorize(decoded, PHOTO).shape == (60, 80, 3)  # no temperature: fine
    with pytest.raises(ValueError, match="not a distribution over bins.*logits=True"):
        uncertainty(decoded, PHOTO)
    with pytest.raises(ValueError, match="coherence is a fraction .* got 5"):
        alternatives(eccv16, PHOTO, coherence=5)
    with pytest.raises(ValueError, match="is a file name, not an image: read it first"):
        colorize(eccv16, "astronaut.png")
    with pytest.raises(ValueError, match="looks like 0-1 values"):
        hint_maps([(1, 1, (1.0, 0, 0))], (10, 10), (10, 10))
    ab, _ = hint_maps([(1, 1, PHOTO[5, 5])], (10, 10), (10, 10))  # a pixel of a photo
    assert np.abs(ab).max() > 0 or not PHOTO[5, 5].std()


def test_a_wide_coherence_is_drawn_on_a_coarser_grid_and_stays_gumbel():
    """A correlation length near the photo's size (coherence 1) is drawn on a grid of about
    sigma / 2 and interpolated, instead of a blur as wide as the photo on every bin."""
    noise = smooth_gumbel((64, 64, 313), 64.0, np.random.default_rng(0))
    assert noise.shape == (64, 64, 313)
    # Blurred white noise correlates as exp(-d^2 / 4 sigma^2): 0.78 across the 63 columns.
    assert np.corrcoef(noise[:, 0].ravel(), noise[:, -1].ravel())[0, 1] > 0.65
    assert abs(noise.mean() - 0.5772) < 0.1  # the Gumbel mean, Euler's constant
