"""The Turing test's core: sessions, answers, analysis, checked with simulated participants."""

import json

import numpy as np
import pytest

from colorlab import turing
from colorlab.turing.answers import AnswerFileError

PHOTOS = [f"photo{i:03d}" for i in range(60)]
METHODS = ["zhang_eccv16", "vgg16_colorizer", "gray"]


def _sessions(count, study="study-1", method_per_session=True, **kwargs):
    return [turing.plan_session(PHOTOS, METHODS, study=study, participant=f"p{i:02d}",
                                method=METHODS[i % 3] if method_per_session else None, **kwargs)
            for i in range(count)]


def test_a_session_follows_the_protocol():
    session = turing.plan_session(PHOTOS, METHODS, study="s", participant="ana")
    kinds = [t.kind for t in session.trials]
    assert kinds[:10] == ["practice"] * 10 and len(kinds) == 50
    assert kinds.count("vigilance") == 4 and kinds[10] == "test"  # 10 % of 40, never first
    assert [t.number for t in session.trials] == list(range(1, 51))
    photos = [t.photo for t in session.trials]
    assert len(set(photos)) == 50  # no photo twice: the second would be given away
    test = [t for t in session.trials if t.kind != "practice"]
    assert sum(t.real_side == "left" for t in test) == 20  # sides balanced...
    counts = {m: sum(t.method == m for t in test) for m in METHODS}
    assert counts == {m: 12 for m in METHODS}  # ...and methods, in a mixed session
    assert all(t.method == "vigilance" for t in test if t.kind == "vigilance")
    assert {t.fake_side for t in test} == {"left", "right"}
    assert all(t.fake_side != t.real_side for t in test)


def test_sessions_are_reproducible_from_the_seed_and_random_between_people():
    again = turing.plan_session(PHOTOS, METHODS, study="s", participant="ana")
    assert again == turing.plan_session(PHOTOS, METHODS, study="s", participant="ana")
    assert again != turing.plan_session(PHOTOS, METHODS, study="s", participant="ana", seed=1)
    assert again != turing.plan_session(PHOTOS, METHODS, study="s", participant="ben")
    assert turing.Session.from_dict(json.loads(json.dumps(again.to_dict()))) == again
    # Over many people, the first test trial's real side is a coin flip.
    firsts = [s.trials[10].real_side == "left" for s in _sessions(400)]
    assert 0.42 < np.mean(firsts) < 0.58


def test_one_method_per_session_and_bad_plans_are_refused():
    session = turing.plan_session(PHOTOS, METHODS, study="s", participant="c", method="gray")
    assert {t.method for t in session.trials if t.kind != "vigilance"} == {"gray"}
    for kwargs, message in (
            (dict(method="pix2pix"), "not one of the study's methods"),
            (dict(test=55), "shows 65 different photos, but the study has 60"),
            (dict(vigilance=1.0), "from 0 to below 1"),
            (dict(test=1, vigilance=0.9), "leaves none for the methods"),
            (dict(practice=-1), "practice is a number of trials")):
        with pytest.raises(ValueError, match=message):
            turing.plan_session(PHOTOS, METHODS, study="s", participant="c", **kwargs)
    with pytest.raises(ValueError, match="methods must be distinct"):
        turing.plan_session(PHOTOS, ["a", "vigilance"], study="s", participant="c")


def test_answers_are_appended_as_given_and_read_back(tmp_path):
    session = _sessions(1)[0]
    choices = [t.fake_side if t.number % 3 else t.real_side for t in session.trials]
    answers = turing.score(session, choices, [700.0] * 50, [1000.0] * 50)
    path = tmp_path / "ana.jsonl"
    for answer in answers[:20]:
        turing.append_answer(path, answer)  # each on disk at once: a crash loses one trial
    assert turing.read_answers(path) == answers[:20]
    as_list = tmp_path / "ana.json"
    as_list.write_text(json.dumps([{**a.__dict__, "fooled": a.fooled} for a in answers]))
    assert turing.read_answers(as_list) == answers
    assert sum(a.fooled for a in answers) == sum(1 for n in range(1, 51) if n % 3 == 0)


def test_broken_duplicated_and_foreign_answer_files_name_the_file(tmp_path):
    answers = turing.score(_sessions(1)[0], ["left"] * 50)
    good = tmp_path / "good.jsonl"
    for a in answers:
        turing.append_answer(good, a)
    cut = tmp_path / "cut.jsonl"
    cut.write_text(good.read_text()[:-30])
    with pytest.raises(AnswerFileError, match="cut.jsonl, line 50: .*the last line is cut"):
        turing.read_answers(cut)
    with pytest.raises(AnswerFileError, match="answered trial 1 twice"):
        turing.read_answers([good, good])
    other = tmp_path / "other.jsonl"
    turing.append_answer(other, turing.score(_sessions(1, study="study-2")[0], ["left"])[0])
    with pytest.raises(AnswerFileError, match="other.jsonl, line 1: an answer of study "
                                              "'study-2', not of 'study-1'"):
        turing.read_answers([good, other])
    lying = tmp_path / "lying.jsonl"
    record = {**answers[0].__dict__, "fooled": not answers[0].fooled}
    lying.write_text(json.dumps(record) + "\n")
    with pytest.raises(AnswerFileError, match="contradicts the sides"):
        turing.read_answers(lying)
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps([{"study": "s", "participant": "x"}]))
    with pytest.raises(AnswerFileError, match="missing.json, answer 1: the answer has no trial"):
        turing.read_answers(missing)
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(AnswerFileError, match="not an answers CSV"):
        turing.read_answers(tmp_path / "notes.csv")


def test_practice_is_left_out_and_inattentive_people_are_excluded():
    sessions = _sessions(30, method_per_session=False)
    answers = turing.simulate_answers(sessions, {"zhang_eccv16": 0.3, "vgg16_colorizer": 0.2,
                                                 "gray": 0.05}, inattentive=0.2, seed=3)
    # Practice answers say the opposite of the test's: they must not move the rates.
    flipped = [a if a.kind != "practice" else
               turing.Answer(**{**a.__dict__, "chose": a.real_side}) for a in answers]
    result, same = turing.analyze(answers), turing.analyze(flipped)
    assert {m: s.rate for m, s in result.scores.items()} == \
        {m: s.rate for m, s in same.scores.items()}
    careless = [p for p, (right, total, kept) in result.vigilance.items() if not kept]
    assert careless == result.excluded and 3 <= len(careless) <= 12
    kept_trials = sum(s.trials for s in result.scores.values())
    assert kept_trials == 36 * (30 - len(result.excluded))
    assert list(result.scores) == ["zhang_eccv16", "vgg16_colorizer", "gray"]
    assert result.better[("zhang_eccv16", "gray")] > 0.99
    assert sum(n for m in result.photos.values() for _, n in m.values()) == kept_trials
    assert "| zhang_eccv16 |" in result.markdown() and " s |" in result.markdown()
    assert 400 <= result.scores["gray"].reaction_ms <= 1500  # the simulated reaction times


def test_bootstrap_intervals_cover_the_true_rate_about_95_percent_of_the_time():
    """Over repeated simulated studies in which people differ (Beta concentration 8), the
    two-stage bootstrap interval covers the true fool rate about 95 % of the time; the
    Wilson interval, which treats trials as independent, covers it far less often."""
    truth, covered, wilson = 0.3, [], []
    for study in range(150):
        sessions = [turing.plan_session(PHOTOS[:46], ["m"], study=f"s{study}",
                                        participant=f"p{i}", practice=6, test=40,
                                        vigilance=0.1) for i in range(16)]
        answers = turing.simulate_answers(sessions, {"m": truth}, concentration=8.0,
                                          vigilance_rate=1.0, seed=study)
        score = turing.analyze(answers, bootstrap=400, seed=study).scores["m"]
        covered.append(score.low <= truth <= score.high)
        wilson.append(score.wilson_low <= truth <= score.wilson_high)
    assert 0.88 <= np.mean(covered) <= 0.995, np.mean(covered)
    assert np.mean(wilson) < np.mean(covered) - 0.05, (np.mean(wilson), np.mean(covered))


def test_trials_needed_to_tell_methods_apart():
    assert turing.trials_needed(0.30, 0.20) == 294  # 10 points: about 300 trials per method
    assert turing.trials_needed(0.30, 0.25) == 1251  # 5 points: about 1,300
    assert turing.trials_needed(0.30, 0.20, design_effect=2.0) == 587  # clustered: about twice
    with pytest.raises(ValueError, match="two different shares"):
        turing.trials_needed(0.3, 0.3)


def test_spreadsheet_csvs_and_python_mistakes_get_clear_answers(tmp_path):
    """What an instructor tried (lesson 10's trial): a spreadsheet's CSV UTF-8 (with a byte
    order mark), a CSV missing a column, a path given to analyze, a generator."""
    answers = turing.score(_sessions(1)[0], ["left"] * 50, [700.0] * 50, [1000.0] * 50)
    columns = list(turing.answers.FIELDS)
    rows = [",".join(columns)] + [",".join(str(getattr(a, c)) for c in columns) for a in answers]
    bom = tmp_path / "excel.csv"
    bom.write_bytes("\ufeff".encode() + "\n".join(rows).encode())
    assert [a.trial for a in turing.read_answers(bom)] == list(range(1, 51))
    (tmp_path / "short.csv").write_text("\n".join(r.replace(",left", ",") for r in rows)
                                        .replace("real_side,", ""))
    with pytest.raises(AnswerFileError, match="no column real_side"):
        turing.read_answers(tmp_path / "short.csv")
    (tmp_path / "latin1.csv").write_bytes("study\nJos\xe9".encode("latin-1"))
    with pytest.raises(AnswerFileError, match="not UTF-8 text; save it as UTF-8"):
        turing.read_answers(tmp_path / "latin1.csv")
    with pytest.raises(TypeError, match="read files with colorlab.turing.read_answers"):
        turing.analyze(str(bom))
    simulated = turing.simulate_answers(_sessions(6), {m: 0.3 for m in METHODS})
    assert turing.analyze(a for a in simulated).scores  # a generator is fine
