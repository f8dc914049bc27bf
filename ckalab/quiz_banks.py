"""Quiz banks and grading, with no widgets: quizzes/<notebook-stem>.yaml, read, validated
against quizzes/schema.json, and judged by `grade(question, answer)` (ckalab.quiz shows them).

Three kinds of question: `single`, `multiple` and `command` (the typed command is parsed by
ckalab.commands, so equivalent spellings pass and known near-misses get a specific explanation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import commands
from . import settings as settings_module
from .errors import CourseError

SCHEMA_FILE = "schema.json"
ALLOWED_SOURCES = ("https://kubernetes.io/", "https://docs.docker.com/", "https://kind.sigs.k8s.io/",
                   "https://github.com/kubernetes-sigs/cri-tools/", "https://distribution.github.io/",
                   "https://github.com/opencontainers/", "https://github.com/kubernetes/kubernetes/",
                   "https://github.com/containerd/containerd/",
                   # Podman, Buildah and skopeo: their project's own manuals.
                   "https://docs.podman.io/", "https://github.com/containers/",
                   # Docker Official Images: the Dockerfiles and docs the images are built from.
                   "https://github.com/docker-library/")


# ---------------------------------------------------------------- banks

def bank_dir() -> Path:
    """quizzes/ in the course root (CKALAB_HOME), else next to this package."""
    root = settings_module.load().root / "quizzes"
    if root.is_dir():
        return root
    return Path(__file__).resolve().parent.parent / "quizzes"


def stems() -> list[str]:
    """The notebook stems that have a question bank, in course order."""
    return sorted(p.stem for p in bank_dir().glob("*.yaml"))


def schema() -> dict:
    return json.loads((bank_dir() / SCHEMA_FILE).read_text())


def read_bank(stem: str) -> dict:
    path = bank_dir() / f"{stem}.yaml"
    if not path.exists():
        known = ", ".join(stems()) or "none"
        raise CourseError(f"There is no quiz called '{stem}' (banks: {known}).",
                          "use the notebook's file name without .ipynb, e.g. ck.quiz.show(\"02-image-anatomy\").")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CourseError(f"quizzes/{stem}.yaml is not valid YAML ({exc}).",
                          "fix the file, or restore it with `git checkout quizzes/`.") from None


def problems(bank: dict, stem: str | None = None) -> list[str]:
    """Everything wrong with a bank: schema errors, then the rules a schema cannot say."""
    import jsonschema

    found = []
    validator = jsonschema.Draft202012Validator(schema())
    for err in sorted(validator.iter_errors(bank), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top)"
        if err.validator in ("minItems", "maxItems", "minLength"):
            message = f"{err.validator} is {err.validator_value}"
        else:
            message = err.message if len(err.message) < 200 else f"fails {err.validator} ({err.validator_value})"
        found.append(f"{where}: {message}")
    if found:
        return found
    if stem and bank["id"] != stem:
        found.append(f"id is '{bank['id']}' but the file is {stem}.yaml")
    seen = set()
    for q in bank["questions"]:
        qid = q["id"]
        if qid in seen:
            found.append(f"{qid}: duplicate question id")
        seen.add(qid)
        if not q["source"].startswith(ALLOWED_SOURCES):
            found.append(f"{qid}: source {q['source']} is not an official page")
        found += [f"{qid}: {p}" for p in _question_problems(q)]
    return found


def _question_problems(q: dict) -> list[str]:
    if q["type"] == "single":
        n = sum(o["correct"] for o in q["options"])
        return [] if n == 1 else [f"a single-choice question needs exactly 1 correct option, has {n}"]
    if q["type"] == "multiple":
        n = sum(o["correct"] for o in q["options"])
        wrong = len(q["options"]) - n
        return [] if n >= 2 and wrong >= 1 else [
            f"a multiple-choice question needs at least 2 correct and 1 wrong option, has {n} and {wrong}"]
    found = []
    ns = q.get("namespace", "default")
    for line in q["answers"] + q.get("accept", []):
        cmd, err = commands.try_parse(line, namespace=ns)
        if err:
            return [f"answer `{line}` does not parse: {err}"]
        if any(commands.matches(cmd, nm["match"], namespace=ns) for nm in q.get("near_misses", [])):
            found.append(f"answer `{line}` matches a near-miss pattern")
    for line in q.get("accept", []):
        if not grade(q, line).correct:
            found.append(f"`{line}` is listed under accept but is not accepted")
    for nm in q.get("near_misses", []):
        fb = grade(q, nm["example"])
        if fb.correct or fb.status == "invalid":
            found.append(f"near-miss example `{nm['example']}` is {fb.status}")
        elif fb.near_miss != nm["explanation"]:
            found.append(f"near-miss example `{nm['example']}` gets another explanation: {fb.near_miss!r}")
    return found


def load(stem: str) -> dict:
    """A validated bank. A broken bank is a CourseError naming the first problems."""
    bank = read_bank(stem)
    found = problems(bank, stem)
    if found:
        raise CourseError(f"quizzes/{stem}.yaml has {len(found)} problem(s): " + "; ".join(found[:3]),
                          "run `.venv/bin/python -m pytest tests/test_quiz.py` to see them all.")
    return bank


# ---------------------------------------------------------------- grading (pure)

@dataclass
class Feedback:
    """The verdict on one answer. status: correct, incorrect, or invalid (nothing to grade)."""
    status: str
    message: str
    details: list[str] = field(default_factory=list)
    near_miss: str | None = None
    source: str | None = None

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    @property
    def text(self) -> str:
        return "\n".join([self.message, *self.details])


def option_label(q: dict, i: int) -> str:
    return f"{chr(65 + i)}. {q['options'][i]['text']}"


def grade(question: dict, answer) -> Feedback:
    """Judge one answer. single: an option index; multiple: a collection of indices; command: a string."""
    kind = question["type"]
    if kind == "single":
        return _grade_single(question, answer)
    if kind == "multiple":
        return _grade_multiple(question, answer)
    return _grade_command(question, answer)


def _grade_single(q: dict, answer) -> Feedback:
    options = q["options"]
    if answer is None or isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(options):
        return Feedback("invalid", "Choose one option first, then press Check.")
    right = next(i for i, o in enumerate(options) if o["correct"])
    if answer == right:
        return Feedback("correct", "Correct.", [f"{option_label(q, right)}: {options[right]['explanation']}"],
                        source=q["source"])
    return Feedback("incorrect", "Not quite.", [
        f"You chose {option_label(q, answer)}: {options[answer]['explanation']}",
        f"The answer is {option_label(q, right)}: {options[right]['explanation']}"], source=q["source"])


def _grade_multiple(q: dict, answer) -> Feedback:
    options = q["options"]
    try:
        chosen = {int(i) for i in (answer or ())}
    except (TypeError, ValueError):
        chosen = set()
    chosen = {i for i in chosen if 0 <= i < len(options)}
    if not chosen:
        return Feedback("invalid", "Select at least one option (all that apply), then press Check.")
    right = {i for i, o in enumerate(options) if o["correct"]}
    details = []
    for i, o in enumerate(options):
        if i in chosen and i in right:
            details.append(f"Right: {option_label(q, i)}: {o['explanation']}")
        elif i in chosen:
            details.append(f"Wrong: You chose {option_label(q, i)}: {o['explanation']}")
        elif i in right:
            details.append(f"Missed: You missed {option_label(q, i)}: {o['explanation']}")
    if chosen == right:
        return Feedback("correct", "Correct: you found all of them.", details, source=q["source"])
    return Feedback("incorrect", f"Not quite: {len(right)} options are right.", details, source=q["source"])


def _grade_command(q: dict, answer) -> Feedback:
    ns = q.get("namespace", "default")
    line = answer if isinstance(answer, str) else ""
    cmd, err = commands.try_parse(line, namespace=ns)
    if err:
        return Feedback("invalid", err)
    ignore = q.get("ignore_flags", [])
    accepted = [commands.parse(a, namespace=ns) for a in q["answers"]]
    model = f"A correct answer: `{q['answers'][0]}`. {q['explanation']}"
    if any(commands._without(cmd, ignore) == commands._without(a, ignore) for a in accepted):
        details = [q["explanation"]]
        if len(q["answers"]) > 1:
            details.append("Also accepted: " + ", ".join(f"`{a}`" for a in q["answers"][1:]))
        return Feedback("correct", "Correct.", details, source=q["source"])
    for nm in q.get("near_misses", []):
        if commands.matches(cmd, nm["match"], namespace=ns):
            return Feedback("incorrect", "Close, but not quite.", [nm["explanation"], model],
                            near_miss=nm["explanation"], source=q["source"])
    return Feedback("incorrect", "Not quite.", [commands.describe_difference(cmd, accepted[0]), model],
                    source=q["source"])
