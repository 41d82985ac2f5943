"""A Turing-test session inside a notebook, in JupyterLab or Colab.

The exported page (:func:`~colorlab.turing.page.page_html`) runs in an ``<iframe>`` of the
cell's output, so its timing is the browser's own (``setTimeout``), never ``time.sleep`` in
the kernel (which would block widget messages and add the kernel's round trip, large in
Colab). Each answer, the moment it is clicked, is posted to the output around the frame,
which hands it to the kernel, where :meth:`NotebookSession.receive` checks it and appends it
to a JSON-lines file: a crash or a disconnect loses at most the current trial.

How the answer reaches the kernel:

- in Colab, through ``google.colab.kernel.invokeFunction`` (registered with
  ``google.colab.output.register_callback``): Colab's only way from JavaScript to the kernel;
- elsewhere (JupyterLab, Jupyter Notebook, VS Code), through a hidden core ``ipywidgets``
  Text widget: the script writes the answer into its input and fires its ``input`` event,
  and the widget syncs the value to the kernel, where an observer receives it.
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import secrets

from colorlab.turing.answers import AnswerFileError, append_answer, parse_answer
from colorlab.turing.page import SESSIONS, page_html
from colorlab.turing.study import Study, load_study

__all__ = ["NotebookSession", "run_in_notebook"]

_FORWARD = """
<script>
(function () {
  const token = %(token)s;
  window.addEventListener("message", function (event) {
    const data = event.data;
    if (!data || data.colorlabTuring !== token) return;
    const text = JSON.stringify(data.answer);
    const colab = window.google && window.google.colab && window.google.colab.kernel;
    if (colab) { colab.invokeFunction("colorlab_turing_" + token, [text], {}); return; }
    const input = document.querySelector(".colorlab-turing-" + token + " input");
    if (!input) { console.error("colorlab: the answer channel is missing"); return; }
    input.value = text;
    input.dispatchEvent(new Event("input", {bubbles: true}));
  });
})();
</script>
"""


class NotebookSession:
    """One notebook session's page, its answer channel and its answer file.

    Args:
        study: A :class:`~colorlab.turing.study.Study` or its folder.
        answers: The JSON-lines file each answer is appended to (created).
        sessions, exposure_ms, feedback_ms: As for :func:`~colorlab.turing.page.page_html`.

    Attributes:
        received: Answers saved so far.
        problems: Messages that arrived and were refused (with why).
    """

    def __init__(self, study: Study | str | os.PathLike, answers: str | os.PathLike, *,
                 sessions: int = SESSIONS, exposure_ms: int | None = None,
                 feedback_ms: int | None = None) -> None:
        self.study = study if isinstance(study, Study) else load_study(study)
        self.path = pathlib.Path(answers)
        self.token = secrets.token_hex(8)
        self.received = 0
        self.problems: list[str] = []
        self._seen: set[tuple[str, int]] = set()
        self._page = page_html(self.study, sessions=sessions, exposure_ms=exposure_ms,
                               feedback_ms=feedback_ms, notify=self.token)

    def receive(self, text: str) -> None:
        """Checks one answer sent by the page and appends it to the answer file."""
        try:
            answer = parse_answer(json.loads(text), f"answer {self.received + 1}")
            if answer.study != self.study["id"]:
                raise AnswerFileError(f"an answer of study {answer.study!r}, not this one")
            if (answer.participant, answer.trial) in self._seen:  # a retaken session
                raise AnswerFileError(f"{answer.participant!r} answered trial {answer.trial} "
                                      "again; the first answer is kept (take the test again "
                                      "under another name)")
        except (ValueError, TypeError) as error:  # a bad message must not end the session
            self.problems.append(str(error))
            return
        append_answer(self.path, answer)
        self._seen.add((answer.participant, answer.trial))
        self.received += 1

    def html(self) -> str:
        """The frame with the page and the script that forwards its answers."""
        frame = (f'<iframe srcdoc="{html.escape(self._page, quote=True)}" width="640" '
                 'height="620" style="border: 1px solid #ccc"></iframe>')
        return frame + _FORWARD % {"token": json.dumps(self.token)}

    def show(self) -> None:
        """Displays the session in the cell's output, with its answer channel."""
        import ipywidgets
        from IPython.display import HTML, display

        channel = ipywidgets.Text(layout=ipywidgets.Layout(display="none"))
        channel.add_class(f"colorlab-turing-{self.token}")
        channel.observe(lambda change: self.receive(change["new"]), names="value")
        try:
            from google.colab import output  # Colab: JavaScript reaches the kernel here
        except ImportError:
            pass
        else:
            output.register_callback(f"colorlab_turing_{self.token}", self.receive)
        display(channel, HTML(self.html()))


def run_in_notebook(study: Study | str | os.PathLike,
                    answers: str | os.PathLike = "turing-answers.jsonl",
                    **options) -> NotebookSession:
    """Shows a session in the notebook's output; answers go to ``answers`` as they come.

    Returns:
        The :class:`NotebookSession` (``.received``: answers saved so far;
        :func:`colorlab.turing.read_answers` reads the file).
    """
    session = NotebookSession(study, answers, **options)
    session.show()
    return session
