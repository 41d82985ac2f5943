"""A study as one self-contained HTML page, to send to a class.

The page embeds every image (JPEG data URIs), preloads them before the first trial, and
needs no server and no network. It asks for a name or participant id, which picks one of
the study's pre-planned sessions (:func:`slot_of`, the same 32-bit FNV-1a hash in Python
and JavaScript), runs the protocol with the browser's own timer (``setTimeout``, not a
kernel round trip): 0.5 s blank, the left image for the exposure, 0.6 s, the right image,
then the two buttons; practice trials show the truth (green "Real", red "Fake") for
``feedback_ms``. Every answer is kept in localStorage where the browser allows it (an
interrupted participant resumes; where it throws, the page says so and carries on), and
the end offers "Download my answers" as JSON and CSV for
:func:`colorlab.turing.read_answers`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import pathlib
from importlib import resources

from colorlab.files import atomic_path
from colorlab.turing.protocol import KINDS, SIDES, VIGILANCE_METHOD, plan_session
from colorlab.turing.study import Study, load_study

__all__ = ["SESSIONS", "export_page", "page_html", "session_for", "slot_of"]

#: Pre-planned sessions in a page (a name picks one; methods are assigned to slots in turn).
SESSIONS = 240


def slot_of(participant: str, count: int = SESSIONS) -> int:
    """The session slot a participant's name picks: FNV-1a (32 bits) of its UTF-16 units.

    Example:
        >>> slot_of("ana", 240), slot_of("ana", 240) == slot_of("ana ", 240)
        (21, False)
    """
    value = 0x811C9DC5
    units = participant.encode("utf-16-le")
    for i in range(0, len(units), 2):
        value ^= int.from_bytes(units[i:i + 2], "little")
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value % count


def session_for(study: Study, slot: int, participant: str | None = None):
    """The pre-planned session of a slot: what the page plays for a name in that slot.

    Args:
        participant: The name the session carries (default ``slot<N>``); the trials are
            the slot's whatever the name.
    """
    if isinstance(slot, bool) or not isinstance(slot, int) or slot < 0:
        raise TypeError(f"slot is a session number (slot_of(name) gives a name's), got {slot!r}.")
    methods = study["methods"]
    method = methods[slot % len(methods)] if study["design"] == "one" else None
    session = plan_session(study["photos"], methods, study=study["id"],
                           participant=f"slot{slot}", seed=study["seed"], method=method,
                           practice=study["practice"], test=study["test"],
                           vigilance=study["vigilance"])
    if participant is None:
        return session
    return dataclasses.replace(session, participant=participant)


def page_html(study: Study | str | os.PathLike, *, sessions: int = SESSIONS,
              exposure_ms: int | None = None, feedback_ms: int | None = None,
              notify: str | None = None) -> str:
    """The study's page as HTML text (see :func:`export_page`).

    Args:
        notify: A token: each answer is also posted to the parent window
            (``postMessage({colorlabTuring: token, answer})``), for the notebook runner.
    """
    study = study if isinstance(study, Study) else load_study(study)
    if sessions < 1:
        raise ValueError(f"sessions must be 1 or more, got {sessions}.")
    methods, photos = study["methods"], study["photos"]
    plans = []
    for slot in range(sessions):
        plans.append([[KINDS.index(t.kind),
                       -1 if t.method == VIGILANCE_METHOD else methods.index(t.method),
                       photos.index(t.photo), SIDES.index(t.real_side)]
                      for t in session_for(study, slot).trials])
    images = {}
    for photo in photos:
        for what in ("real", VIGILANCE_METHOD, *methods):
            data = base64.b64encode(study.image(photo, what).read_bytes()).decode()
            images[f"{photo}/{what}"] = "data:image/jpeg;base64," + data
    settings = {"id": study["id"], "photos": photos, "methods": methods,
                "practice": study["practice"], "test": study["test"],
                "exposure_ms": int(exposure_ms or study["exposure_ms"]),
                "feedback_ms": int(feedback_ms or study["feedback_ms"]), "sessions": plans}
    template = resources.files("colorlab").joinpath("resources/turing_page.html").read_text()
    return (template.replace("__STUDY__", json.dumps(settings, separators=(",", ":")))
            .replace("__IMAGES__", json.dumps(images, separators=(",", ":")))
            .replace("__NOTIFY__", json.dumps(notify)))


def export_page(study: Study | str | os.PathLike, out: str | os.PathLike, *,
                sessions: int = SESSIONS, exposure_ms: int | None = None,
                feedback_ms: int | None = None) -> pathlib.Path:
    """Writes the study as one HTML file.

    Args:
        study: A :class:`Study` or its folder.
        out: The HTML file to write.
        sessions: How many sessions to pre-plan (participants' names pick among them).
        exposure_ms, feedback_ms: Override the study's display times (e.g. short ones to
            test the page itself; a real study keeps the study's).

    Returns:
        The path written.
    """
    page = page_html(study, sessions=sessions, exposure_ms=exposure_ms,
                     feedback_ms=feedback_ms)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
