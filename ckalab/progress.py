"""The learner's progress file (.ckalab/progress.json): quiz scores, labs, hints, exam attempts.

Written kernel-side with atomic replaces, so an interrupted write never leaves a
half-written file: readers see the old or the new content, nothing in between.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from . import settings as settings_module

EMPTY = {"version": 1, "quizzes": {}, "labs": {}, "exams": []}


def path() -> Path:
    return Path(os.environ.get("CKALAB_PROGRESS") or settings_module.load().state_dir / "progress.json")


def load() -> dict:
    """The progress so far; an empty record if there is none or it cannot be read."""
    p = path()
    try:
        data = json.loads(p.read_text())
    except (FileNotFoundError, ValueError):
        return json.loads(json.dumps(EMPTY))
    for key, value in EMPTY.items():
        data.setdefault(key, json.loads(json.dumps(value)))
    return data


def save(data: dict) -> None:
    """Write atomically: a temp file in the same folder, fsync, then os.replace."""
    p = path()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".progress-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record_quiz(quiz_id: str, score: int, total: int, answers: dict | None = None, *,
                started: float | None = None) -> dict:
    """Record an attempt. With `started` (when the attempt began), an attempt with the same start
    is updated in place: a quiz saves after every answer, so half an attempt is not lost."""
    data = load()
    entry = data["quizzes"].setdefault(quiz_id, {"attempts": []})
    attempt = {"time": time.time(), "score": score, "total": total, "answers": answers or {}}
    if started is not None:
        attempt["started"] = started
        attempt["complete"] = len(answers or {}) == total
    same = [a for a in entry["attempts"] if started is not None and a.get("started") == started]
    if same:
        same[0].update(attempt)
    else:
        entry["attempts"].append(attempt)
    entry["best"] = max(a["score"] for a in entry["attempts"])
    entry["total"] = total
    save(data)
    return entry


def record_lab(lab_id: str, *, passed: bool | None = None, hints_used: int | None = None,
               failed_checks: list[str] | None = None) -> dict:
    data = load()
    entry = data["labs"].setdefault(lab_id, {"checks": 0, "passed": False, "hints_used": 0})
    if passed is not None:
        entry["checks"] += 1
        entry["last_check"] = time.time()
        entry["last_failed"] = failed_checks or []
        if passed and not entry["passed"]:
            entry["passed"] = True
            entry["passed_at"] = time.time()
    if hints_used is not None:
        entry["hints_used"] = max(entry["hints_used"], hints_used)
    save(data)
    return entry


def record_exam(attempt: dict) -> dict:
    data = load()
    attempt = {"time": time.time(), **attempt}
    data["exams"].append(attempt)
    save(data)
    return attempt
