"""The exported Turing-test page, played in a real browser (headless Chromium + Selenium)."""

import shutil
import time

import numpy as np
import pytest
from PIL import Image

from colorlab import turing
from conftest import make_photo

DRIVER = shutil.which("chromedriver")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("turing")
    files = []
    for i in range(8):
        path = root / "photos" / f"photo {i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(make_photo(i + 20, (80, 96))).save(path)
        files.append(path)

    def sepia(crop):  # a "method": the photo's lightness with one brownish colour
        from colorlab.colorize import with_ab
        return with_ab(crop, (8.0, 20.0))

    return turing.make_study(files, {"sepia": sepia}, root / "study", size=64, practice=2,
                             test=4, vigilance=0.25, baselines=("gray",))


def test_a_study_holds_every_image_and_a_checksum_id(study):
    again = turing.load_study(study.folder)
    assert again["id"] == study["id"] and len(study["id"]) == 12
    assert study["methods"] == ["sepia", "gray"] and len(study["photos"]) == 8
    assert "photo_0" in study["photos"]  # file names made safe
    for what in ("real", "sepia", "gray", "vigilance"):
        assert Image.open(study.image("photo_0", what)).size == (64, 64)
    with pytest.raises(ValueError, match="already holds a study"):
        turing.make_study([], {}, study.folder)
    photos = sorted((study.folder.parent / "photos").iterdir())
    with pytest.raises(ValueError, match="at least one test trial"):  # before any work
        turing.make_study(photos, {}, study.folder.parent / "none", test=0)
    assert not (study.folder.parent / "none" / "study.json").exists()
    with pytest.raises(ValueError, match="holds files of its own"):  # not among the photos
        turing.make_study(photos, {}, photos[0].parent, practice=2, test=4)
    mixed = turing.make_study(photos, {"sepia": lambda crop: crop}, study.folder.parent / "m",
                              size=64, practice=2, test=4, vigilance=0.25, baselines=("gray",),
                              design="mixed")
    assert mixed["id"] != study["id"]  # the id covers the protocol, not only the images


needs_browser = pytest.mark.skipif(
    DRIVER is None or BROWSER is None,
    reason="needs Debian's chromium and chromium-driver: sudo apt-get install chromium "
           "chromium-driver")


@pytest.fixture
def browser(tmp_path):
    pytest.importorskip("selenium", reason="pip install selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


def _play(driver, plan):
    """Plays a session as a participant would: watches each exposure end, answers
    left, right, left, ..., and checks feedback comes in practice only."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 20, poll_frequency=0.01)
    wait.until(lambda d: d.find_element(By.ID, "start").is_enabled())  # all preloaded
    driver.find_element(By.ID, "participant").send_keys("ana")
    driver.find_element(By.ID, "start").click()

    def visibility(element_id):
        return driver.execute_script(
            f"return getComputedStyle(document.getElementById('{element_id}')).visibility")

    for trial in plan.trials:
        wait.until(lambda d: visibility("left-img") == "visible")
        wait.until(lambda d: visibility("left-img") == "hidden")  # hidden after exposure
        assert visibility("answer") == "hidden"  # no answer while an image shows
        wait.until(lambda d: visibility("answer") == "visible")
        assert visibility("left-img") == visibility("right-img") == "hidden"
        choice = "left" if trial.number % 2 else "right"
        driver.find_element(By.ID, f"btn-{choice}").click()
        if trial.kind == "practice":
            wait.until(lambda d: visibility("feedback") == "visible")
            labels = {driver.find_element(By.ID, f"{side}-label").text
                      for side in ("left", "right")}
            assert labels == {"Real", "Fake"}
            wait.until(lambda d: visibility("feedback") == "hidden")
        else:
            time.sleep(0.05)
            assert visibility("feedback") == "hidden"  # no feedback in the test
    wait.until(lambda d: d.find_element(By.ID, "done").is_displayed())
    return wait


def _check(answers, plan):
    assert [a.trial for a in answers] == list(range(1, 7))
    assert [(a.kind, a.method, a.photo, a.real_side) for a in answers] == \
        [(t.kind, t.method, t.photo, t.real_side) for t in plan.trials]
    assert [a.chose for a in answers] == ["left", "right"] * 3
    assert all(200 <= a.shown_ms <= 600 and a.reaction_ms >= 0 for a in answers)


@needs_browser
def test_the_page_runs_the_protocol_in_a_real_browser(study, tmp_path, browser):
    from selenium.webdriver.common.by import By

    page = turing.export_page(study, tmp_path / "study.html", sessions=8, exposure_ms=250,
                              feedback_ms=300)
    browser.get(page.as_uri())
    plan = turing.session_for(study, turing.slot_of("ana", 8))
    wait = _play(browser, plan)
    browser.find_element(By.ID, "download-json").click()
    browser.find_element(By.ID, "download-csv").click()
    wait.until(lambda d: list(browser.downloads.glob("answers-ana.json"))
               and list(browser.downloads.glob("answers-ana.csv")))
    kept = browser.execute_script("return localStorage.length")
    answers = turing.read_answers(browser.downloads / "answers-ana.json", study=study["id"])
    _check(answers, plan)
    assert turing.read_answers(browser.downloads / "answers-ana.csv") == answers
    assert kept == 1  # kept in the browser too: an interrupted participant resumes
    result = turing.analyze(answers, bootstrap=200)
    assert sum(s.trials for s in result.scores.values()) == 3  # practice and vigilance out
    assert np.isfinite([s.rate for s in result.scores.values()]).all()


@needs_browser
def test_in_a_notebook_each_answer_reaches_the_kernel_as_it_is_clicked(study, tmp_path,
                                                                        browser):
    """The notebook runner's output (the page in a frame, and the script that forwards
    answers to a hidden widget's input), in a host page with a stand-in for the widget:
    every click arrives as one input event, which the kernel side appends to its file."""
    from selenium.webdriver.common.by import By

    runner = turing.NotebookSession(study, tmp_path / "answers.jsonl", sessions=8,
                                    exposure_ms=250, feedback_ms=300)
    host = tmp_path / "notebook-output.html"
    host.write_text(
        f'<div class="colorlab-turing-{runner.token}"><input></div>'
        '<script>window.sent = []; document.querySelector("input").addEventListener('
        '"input", (e) => window.sent.push(e.target.value));</script>' + runner.html())
    browser.get(host.as_uri())
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    plan = turing.session_for(study, turing.slot_of("ana", 8))
    _play(browser, plan)
    browser.switch_to.default_content()
    for text in browser.execute_script("return window.sent"):
        runner.receive(text)  # what the widget's observer does in the kernel
    runner.receive("{not json")
    runner.receive(text)  # the last answer (trial 6) again: a retaken session
    assert runner.received == 6 and len(runner.problems) == 2
    assert "answered trial 6 again" in runner.problems[1]
    _check(turing.read_answers(tmp_path / "answers.jsonl", study=study["id"]), plan)


def test_the_command_line_makes_exports_and_analyzes(study, tmp_path, capsys):
    from colorlab.cli import main

    photos = study.folder.parent / "photos"
    assert main(["turing", "make", str(photos), "-o", str(tmp_path / "s"), "--size", "48",
                 "--practice", "2", "--test", "4", "--vigilance", "0.25", "--method",
                 "flat=" + str(_flat_model(tmp_path))]) == 0
    assert main(["turing", "export", str(tmp_path / "s"), "-o", str(tmp_path / "s.html"),
                 "--sessions", "6"]) == 0
    assert (tmp_path / "s.html").stat().st_size > 10_000
    made = turing.load_study(tmp_path / "s")
    sessions = [turing.page.session_for(made, slot) for slot in range(6)]
    answers = turing.simulate_answers(sessions, {"flat": 0.4, "gray": 0.1,
                                                 "random colour": 0.05}, seed=1)
    files = []
    for session in sessions:
        path = tmp_path / f"{session.participant}.jsonl"
        for answer in answers:
            if answer.participant == session.participant:
                turing.append_answer(path, answer)
        files.append(str(path))
    capsys.readouterr()
    assert main(["turing", "analyze", *files, "--out", str(tmp_path / "report"),
                 "--bootstrap", "200", "--study", str(tmp_path / "s")]) == 0
    printed = capsys.readouterr().out
    assert "| flat |" in printed and "Vigilance: " in printed
    assert (tmp_path / "report" / "photos.csv").read_text().startswith("method,photo,")
    assert {p.name for p in (tmp_path / "report").glob("*.png")} >= {
        "fool_rates.png", "photos_flat.png", "photos_random_colour.png"}
    assert main(["turing", "analyze", *files, "--out", str(tmp_path / "r2"),
                 "--study", str(study.folder)]) == 2  # another study's answers: refused...
    assert not (tmp_path / "r2").exists()  # ...before anything is written
    assert main(["turing", "make", str(photos), "-o", str(tmp_path / "t"),
                 "--method", "nameless"]) == 2  # one line, no traceback


def _flat_model(tmp_path):
    from colorlab import models

    path = tmp_path / "flat.keras"
    models.zhang_eccv16(width=1 / 16).save(path)
    return path
