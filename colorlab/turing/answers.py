"""What a participant answered: one record per trial, saved as it is given, read back checked.

An answer records the participant, the trial (its number, kind, method, photo and the real
photo's side), the side the participant called fake, whether they were fooled (they called
the real photo fake), the reaction time from the buttons' onset and the display time the
page actually used. Files are JSON lines (one answer per line, appended the moment it is
given, so a crash loses at most the current trial), a JSON list (the page's download), or
CSV; :func:`read_answers` refuses malformed, truncated, duplicated and foreign answers,
naming the file and the line.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import pathlib
from typing import Any, Iterable, Sequence

from colorlab.turing.protocol import KINDS, SIDES, Session, Trial

__all__ = ["FIELDS", "Answer", "AnswerFileError", "append_answer", "parse_answer",
           "read_answers", "score"]


class AnswerFileError(ValueError):
    """An answer file that cannot be trusted: malformed, truncated, duplicated or foreign."""


@dataclasses.dataclass(frozen=True)
class Answer:
    """One trial's answer.

    Attributes:
        study, participant: Whose answer, in which study.
        trial, kind, method, photo, real_side: The trial (see :class:`~.protocol.Trial`).
        chose: The side the participant called fake ("left" or "right").
        reaction_ms: Milliseconds from the buttons' onset to the click (None if unknown).
        shown_ms: How long each image was actually shown, in milliseconds (None if unknown).
    """

    study: str
    participant: str
    trial: int
    kind: str
    method: str
    photo: str
    real_side: str
    chose: str
    reaction_ms: float | None = None
    shown_ms: float | None = None

    @property
    def fooled(self) -> bool:
        """The participant called the real photo fake: the colorization passed for real."""
        return self.chose == self.real_side


#: The fields of an answer, in file order (``fooled`` is written too, for spreadsheets).
FIELDS = tuple(f.name for f in dataclasses.fields(Answer))


def score(session: Session, choices: Sequence[str],
          reaction_ms: Sequence[float | None] | None = None,
          shown_ms: Sequence[float | None] | None = None) -> list[Answer]:
    """The answers of a session whose trials were answered ``choices`` (the sides called fake).

    Raises:
        ValueError: more choices than trials, or a choice that is not "left" or "right".
    """
    if len(choices) > len(session.trials):
        raise ValueError(f"{len(choices)} choices for a session of {len(session.trials)} trials.")
    answers = []
    for i, (trial, chose) in enumerate(zip(session.trials, choices)):
        if chose not in SIDES:
            raise ValueError(f"Trial {trial.number}: a choice is 'left' or 'right', got {chose!r}.")
        answers.append(_answer(session, trial, chose,
                               None if reaction_ms is None else reaction_ms[i],
                               None if shown_ms is None else shown_ms[i]))
    return answers


def _answer(session: Session, trial: Trial, chose: str, reaction_ms: float | None,
            shown_ms: float | None) -> Answer:
    return Answer(session.study, session.participant, trial.number, trial.kind, trial.method,
                  trial.photo, trial.real_side, chose, reaction_ms, shown_ms)


def append_answer(path: str | os.PathLike, answer: Answer) -> None:
    """Appends one answer to a JSON-lines file and flushes it to disk at once."""
    record = {**dataclasses.asdict(answer), "fooled": answer.fooled}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_answers(paths: str | os.PathLike | Iterable[str | os.PathLike],
                 study: str | None = None) -> list[Answer]:
    """Reads answer files (JSON lines, a JSON list, or CSV), checked.

    Args:
        paths: A file or files.
        study: The study's id (or the :class:`~colorlab.turing.study.Study`): answers from
            another study are refused (default: all the files must agree on one).

    Raises:
        AnswerFileError: a file that is not answers, a record with a missing or wrong field,
            a truncated last line, the same trial answered twice, a ``fooled`` that
            contradicts the sides, or another study's answers; the message names the file
            and the line.
    """
    if isinstance(study, dict):  # a Study: its id
        study = study.get("id")
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise AnswerFileError("No answer files were given.")
    answers: list[Answer] = []
    seen: dict[tuple, str] = {}
    for path in map(pathlib.Path, paths):
        for where, record in _records(path):
            answer = parse_answer(record, f"{path}{where}")
            key = (answer.study, answer.participant, answer.trial)
            if key in seen:
                raise AnswerFileError(
                    f"{path}{where}: participant {answer.participant!r} answered trial "
                    f"{answer.trial} twice (also in {seen[key]}): the same file given twice, "
                    "or two people who typed the same name (rename one's answers).")
            seen[key] = f"{path}{where}"
            study = study or answer.study
            if answer.study != study:
                raise AnswerFileError(f"{path}{where}: an answer of study {answer.study!r}, "
                                      f"not of {study!r}: analyse each study on its own.")
            answers.append(answer)
    return answers


def _records(path: pathlib.Path) -> Iterable[tuple[str, Any]]:
    """(", line N", record) for every record of one file."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's "CSV UTF-8" has a BOM
    except UnicodeDecodeError:
        raise AnswerFileError(f"{path}: not UTF-8 text; save it as UTF-8 (a spreadsheet's "
                              "'CSV UTF-8'), or use the page's own download.") from None
    except OSError as error:
        raise AnswerFileError(f"{path}: cannot be read ({error.strerror or error}).") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        missing = [f for f in FIELDS[:8] if not rows or f not in rows[0]]
        if missing:
            hint = " (is it separated by ';'? save it with commas)" if rows and len(rows[0]) == 1 \
                else ""
            raise AnswerFileError(f"{path}: not an answers CSV: no column {', '.join(missing)}"
                                  f"{hint}.")
        return [(f", line {i}", row) for i, row in enumerate(rows, start=2)]
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except ValueError as error:
            raise AnswerFileError(f"{path}: a JSON list that does not parse ({error}); is "
                                  "it complete?") from None
        return [(f", answer {i}", r) for i, r in enumerate(records, start=1)]
    lines = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise AnswerFileError(f"{path}: holds no answers.")
    records = []
    for i, line in lines:
        try:
            records.append((f", line {i}", json.loads(line)))
        except ValueError:
            last = i == lines[-1][0]
            raise AnswerFileError(
                f"{path}, line {i}: not a JSON answer"
                + (" (the last line is cut: the session was interrupted while writing; "
                   "delete that line to keep the others)" if last else "") + ".") from None
    return records


def parse_answer(record: Any, where: str) -> Answer:
    """An Answer from one record (a dict as the files hold it), every field checked.

    Raises:
        AnswerFileError: a missing or wrong field, or a ``fooled`` that contradicts the
            sides; the message starts with ``where``.
    """
    if not isinstance(record, dict):
        raise AnswerFileError(f"{where}: an answer is an object of {', '.join(FIELDS)}; got "
                              f"{type(record).__name__}.")
    missing = [f for f in FIELDS[:8] if record.get(f) in (None, "")]
    if missing:
        raise AnswerFileError(f"{where}: the answer has no {', '.join(missing)}.")
    try:
        answer = Answer(
            study=str(record["study"]), participant=str(record["participant"]),
            trial=int(record["trial"]), kind=str(record["kind"]), method=str(record["method"]),
            photo=str(record["photo"]), real_side=str(record["real_side"]),
            chose=str(record["chose"]),
            reaction_ms=_number(record.get("reaction_ms")),
            shown_ms=_number(record.get("shown_ms")))
    except (TypeError, ValueError) as error:
        raise AnswerFileError(f"{where}: a field has the wrong type ({error}).") from None
    if answer.kind not in KINDS or answer.real_side not in SIDES or answer.chose not in SIDES:
        raise AnswerFileError(f"{where}: kind must be one of {KINDS} and the sides 'left' or "
                              f"'right'; got {answer.kind!r}, {answer.real_side!r}, "
                              f"{answer.chose!r}.")
    fooled = record.get("fooled")
    if fooled not in (None, "") and str(fooled).lower() not in (str(answer.fooled).lower(),
                                                                 str(int(answer.fooled))):
        raise AnswerFileError(f"{where}: fooled={fooled!r} contradicts the sides (real on the "
                              f"{answer.real_side}, called fake: {answer.chose}).")
    return answer


def _number(value: Any) -> float | None:
    return None if value in (None, "") else float(value)
