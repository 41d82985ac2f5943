"""The notebook runner in a real JupyterLab (slow: starts a server, a kernel and Chromium)."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from test_turing_page import BROWSER, DRIVER, needs_browser, study  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, needs_browser]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_answers_reach_the_kernel_through_the_widget_channel_in_jupyterlab(study, tmp_path):
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    answers = tmp_path / "answers.jsonl"
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(
        "from colorlab import turing\n"
        f"runner = turing.run_in_notebook({str(study.folder)!r}, {str(answers)!r}, "
        "sessions=8, exposure_ms=250, feedback_ms=300)")]
    nbformat.write(notebook, tmp_path / "session.ipynb")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={tmp_path}",
         "--allow-root"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = None
    try:
        for _ in range(120):  # the server's start
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        driver = webdriver.Chrome(service=Service(DRIVER), options=options)
        driver.get(f"http://127.0.0.1:{port}/lab/tree/session.ipynb")
        wait = WebDriverWait(driver, 120, poll_frequency=0.05)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".jp-Notebook .cm-content"))
        time.sleep(3)  # the kernel's start (a kernel dialog, if any, is accepted)
        for button in driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog-button.jp-mod-accept"):
            button.click()
        time.sleep(1)
        driver.find_element(By.CSS_SELECTOR, ".jp-Notebook .cm-content").click()
        ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT) \
            .perform()
        frame = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".jp-OutputArea iframe"))
        driver.switch_to.frame(frame)
        play = WebDriverWait(driver, 30, poll_frequency=0.01)
        play.until(lambda d: d.find_element(By.ID, "start").is_enabled())
        driver.find_element(By.ID, "participant").send_keys("ana")
        driver.find_element(By.ID, "start").click()
        answer = "return getComputedStyle(document.getElementById('answer')).visibility"
        for number in range(1, 7):
            play.until(lambda d: d.execute_script(answer) == "visible")
            driver.find_element(By.ID, "btn-left" if number % 2 else "btn-right").click()
            time.sleep(0.1)
        play.until(lambda d: d.find_element(By.ID, "done").is_displayed())
        for _ in range(60):  # the widget's message to the kernel, then the file
            if answers.exists() and len(answers.read_text().splitlines()) == 6:
                break
            time.sleep(0.5)
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(30)
    lines = [json.loads(line) for line in answers.read_text().splitlines()]
    assert [line["trial"] for line in lines] == list(range(1, 7))
    assert [line["chose"] for line in lines] == ["left", "right"] * 3
