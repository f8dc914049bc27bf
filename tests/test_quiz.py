"""ckalab.quiz: the banks are valid and true to their rules, grading is right, the widgets
work when driven headlessly, results reach the progress file, and the Markdown copy of each
quiz (for readers without a kernel) matches the bank."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest

from ckalab import progress, quiz, quiz_banks
from ckalab.errors import CourseError

ROOT = Path(__file__).resolve().parent.parent
CONTENT_NOTEBOOKS = ["01-first-image", "02-image-anatomy", "03-dockerfile-instructions", "04-build-cache-and-size",
                     "05-tags-digests-registries", "06-deploy-and-update", "07-private-registries-in-kubernetes",
                     "08-troubleshooting-image-pulls", "09-exam-practice", "12-podman-buildah-skopeo",
                     "13-multi-platform-images"]


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("CKALAB_PROGRESS", str(path))
    return path


def _q(stem, kind):
    return next(q for q in quiz_banks.read_bank(stem)["questions"] if q["type"] == kind)


def _right(q):
    return [i for i, o in enumerate(q["options"]) if o["correct"]]


# ---------------------------------------------------------------- banks

def test_one_bank_per_content_notebook():
    assert quiz_banks.stems() == CONTENT_NOTEBOOKS
    assert sum(len(quiz_banks.read_bank(s)["questions"]) for s in quiz_banks.stems()) >= 54


@pytest.mark.parametrize("stem", CONTENT_NOTEBOOKS)
def test_bank_is_valid(stem):
    bank = quiz_banks.read_bank(stem)
    assert quiz_banks.problems(bank, stem) == []
    assert len(bank["questions"]) >= 6
    for q in bank["questions"]:
        assert q["source"].startswith(quiz_banks.ALLOWED_SOURCES)
        if q["type"] == "single":
            assert len(_right(q)) == 1
        elif q["type"] == "multiple":
            assert len(_right(q)) >= 2 and len(_right(q)) < len(q["options"])
        if q["type"] != "command":
            assert all(len(o["explanation"]) > 10 for o in q["options"])


def test_banks_cover_the_misconceptions():
    tagged = " | ".join(q.get("misconception", "") for s in quiz_banks.stems() for q in quiz_banks.read_bank(s)["questions"])
    for belief in ["EXPOSE publishes", "imagePullPolicy default", "docker push always needs", "latest means newest",
                   "tag is immutable", "HEALTHCHECK", "crictl", "ServiceAccount update existing Pods",
                   "another namespace", "shell-form CMD", "combining RUN", "multi-stage"]:
        assert belief in tagged, belief


BROKEN = [
    ("two correct in single", lambda b: b["questions"][0]["options"][1].update(correct=True), "exactly 1 correct"),
    ("option without explanation", lambda b: b["questions"][0]["options"][0].pop("explanation"), "explanation"),
    ("too few questions", lambda b: b.update(questions=b["questions"][:5]), "minItems is 6"),
    ("unofficial source", lambda b: b["questions"][0].update(source="https://example.com/blog"), "not an official"),
    ("duplicate id", lambda b: b["questions"][1].update(id=b["questions"][0]["id"]), "duplicate"),
    ("multiple with one right", lambda b: [o.update(correct=False) for o in b["questions"][4]["options"][1:]],
     "at least 2 correct"),
    ("accepted near-miss", lambda b: b["questions"][1]["near_misses"][0].update(example="docker build -t hello:1.0 workloads/hello"),
     "is correct"),
    ("answer that does not parse", lambda b: b["questions"][1]["answers"].append("docker build 'x"), "does not parse"),
    ("wrong id", lambda b: b.update(id="01-other"), "but the file is"),
]


@pytest.mark.parametrize("what,breaks,words", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_banks_are_caught(what, breaks, words):
    bank = copy.deepcopy(quiz_banks.read_bank("01-first-image"))
    assert quiz_banks.problems(bank, "01-first-image") == []
    breaks(bank)
    found = quiz_banks.problems(bank, "01-first-image")
    assert any(words in p for p in found), found


def test_unknown_quiz_is_a_course_error():
    with pytest.raises(CourseError, match="no quiz called"):
        quiz.show("99-nothing")


# ---------------------------------------------------------------- grading

def test_grade_single():
    q = _q("02-image-anatomy", "single")
    right = _right(q)[0]
    wrong = next(i for i in range(len(q["options"])) if i != right)
    ok = quiz_banks.grade(q, right)
    assert ok.correct and q["options"][right]["explanation"] in ok.text
    bad = quiz_banks.grade(q, wrong)
    assert bad.status == "incorrect"
    assert q["options"][wrong]["explanation"] in bad.text and q["options"][right]["explanation"] in bad.text
    for nothing in (None, -1, 99, "A", True):
        assert quiz_banks.grade(q, nothing).status == "invalid"


def test_grade_multiple():
    q = _q("02-image-anatomy", "multiple")
    right = _right(q)
    assert quiz_banks.grade(q, right).correct
    partial = quiz_banks.grade(q, right[:1])
    assert partial.status == "incorrect" and "You missed" in partial.text
    wrong = [i for i in range(len(q["options"])) if i not in right][0]
    over = quiz_banks.grade(q, right + [wrong])
    assert over.status == "incorrect" and q["options"][wrong]["explanation"] in over.text
    assert quiz_banks.grade(q, []).status == "invalid"
    assert quiz_banks.grade(q, None).status == "invalid"


def test_grade_command_bad_input_is_a_prompt_not_a_traceback():
    q = _q("06-deploy-and-update", "command")
    for line, words in [("", "Type a command"), ("kubectl set image 'deploy/web", "quotes"), (None, "Type a command"),
                        ("rm -rf /", "not a command")]:
        fb = quiz_banks.grade(q, line)
        assert fb.status == "invalid" and words in fb.message


# ---------------------------------------------------------------- widgets (headless)

def test_widget_single_choice(progress_file):
    view = quiz.show("03-dockerfile-instructions")
    q = view.questions[0]
    q.button.click()                                           # nothing selected
    assert "Choose one option" in q.feedback.value
    assert view.answered == 0 and "Score: 0 / 7" in view.score_label.value
    q.input.value = _right(q.question)[0]
    q.button.click()
    assert "Correct." in q.feedback.value
    assert "Score: 1 / 7" in view.score_label.value and "answered 1 of 7" in view.score_label.value


def test_widget_wrong_answer_shows_both_explanations_and_first_answer_counts(progress_file):
    view = quiz.show("02-image-anatomy")
    q = view.questions[0]
    right = _right(q.question)[0]
    wrong = (right + 1) % len(q.question["options"])
    q.input.value = wrong
    q.button.click()
    assert "Not quite." in q.feedback.value and "You chose" in q.feedback.value
    assert q.question["source"] in q.feedback.value
    assert q.last.details[1].startswith("The answer is")
    q.input.value = right
    q.button.click()                                            # practice: score unchanged
    assert "Correct." in q.feedback.value and "Practice" in q.feedback.value
    assert view.score == 0 and f"Score: 0 / {len(view.questions)}" in view.score_label.value


def test_widget_multiple_choice(progress_file):
    view = quiz.show("02-image-anatomy")
    q = next(v for v in view.questions if v.question["type"] == "multiple")
    q.button.click()
    assert "Select at least one option" in q.feedback.value and q.first is None
    for i in _right(q.question):
        q.boxes[i].value = True
    q.button.click()
    assert "you found all of them" in q.feedback.value and view.score == 1


def test_widget_command(progress_file):
    view = quiz.show("06-deploy-and-update")
    q = view.questions[0]
    q.input.value = "kubectl set image 'deploy/web"
    q.button.click()
    assert "check your quotes" in q.feedback.value and q.first is None
    q.input.value = "kubectl set image deploy/web web=localhost:5001/web:2.0"
    q.button.click()
    assert "Close, but not quite." in q.feedback.value and "<b>container</b> name" in q.feedback.value
    assert f"Score: 0 / {len(view.questions)}" in view.score_label.value and view.answered == 1


def test_widget_never_shows_a_traceback(progress_file, monkeypatch):
    view = quiz.show("06-deploy-and-update")
    q = view.questions[0]

    def boom(*_a, **_k):
        raise RuntimeError("bug")

    monkeypatch.setattr(quiz, "grade", boom)
    q.input.value = "kubectl get pods"
    q.button.click()
    assert "could not be checked" in q.feedback.value and q.first is None


def _answer_all(view, correct=True):
    for q in view.questions:
        kind = q.question["type"]
        if kind == "single":
            right = _right(q.question)[0]
            q.input.value = right if correct else (right + 1) % len(q.question["options"])
        elif kind == "multiple":
            for i in _right(q.question) if correct else [0]:
                q.boxes[i].value = True
        else:
            q.input.value = q.question["answers"][0] if correct else "kubectl get nodes"
        q.button.click()


def test_finished_quiz_is_saved_to_progress(progress_file):
    view = quiz.show("05-tags-digests-registries")
    n = len(view.questions)
    _answer_all(view)
    data = json.loads(progress_file.read_text())
    entry = data["quizzes"]["05-tags-digests-registries"]
    assert entry["best"] == n and entry["total"] == n and len(entry["attempts"]) == 1
    assert set(entry["attempts"][0]["answers"]) == {q.question["id"] for q in view.questions}
    assert f"Saved: {n} / {n}" in view.saved_label.value
    view.restart_button.click()
    assert view.answered == 0 and view.saved_label.value == "" and f"Score: 0 / {n}" in view.score_label.value
    _answer_all(view, correct=False)
    entry = progress.load()["quizzes"]["05-tags-digests-registries"]
    assert [a["score"] for a in entry["attempts"]][0] == n and entry["attempts"][1]["score"] < n and entry["best"] == n


def test_a_half_done_quiz_is_saved_after_each_answer(progress_file):
    view = quiz.show("05-tags-digests-registries")
    n = len(view.questions)
    first, second = view.questions[:2]
    _answer_all(type("Part", (), {"questions": [first, second]})())
    entry = progress.load()["quizzes"]["05-tags-digests-registries"]
    assert len(entry["attempts"]) == 1 and entry["attempts"][0]["complete"] is False
    assert set(entry["attempts"][0]["answers"]) == {first.question["id"], second.question["id"]}
    assert f"after 2 of {n} answers" in view.saved_label.value
    _answer_all(view)                      # the rest: the same attempt, now complete
    entry = progress.load()["quizzes"]["05-tags-digests-registries"]
    assert len(entry["attempts"]) == 1 and entry["attempts"][0]["complete"] is True
    assert len(entry["attempts"][0]["answers"]) == n


def test_save_failure_is_a_message(progress_file, monkeypatch):
    def readonly(*_a, **_k):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(progress, "record_quiz", readonly)
    view = quiz.show("01-first-image")
    _answer_all(view)
    assert "could not be saved" in view.saved_label.value and "read-only" in view.saved_label.value


def test_widget_renders_as_a_widget(progress_file):
    bundle = quiz.show("01-first-image")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("Quiz: Your first image")


# ---------------------------------------------------------------- summary

def test_summary_table(progress_file):
    assert "0 of 11 quizzes taken" in str(quiz.summary())
    progress.record_quiz("02-image-anatomy", 5, 7)
    progress.record_quiz("02-image-anatomy", 6, 7)
    text = str(quiz.summary())
    row = next(line for line in text.splitlines() if line.startswith("02-image-anatomy"))
    assert row.split()[1:] == ["6/7", "6/7", "2"]
    assert "1 of 11 quizzes taken; best scores add up to 6 / 7." in text
    assert "<table>" in quiz.summary()._repr_html_()


# ---------------------------------------------------------------- Markdown for readers without a kernel

@pytest.mark.parametrize("stem", CONTENT_NOTEBOOKS)
def test_markdown_has_questions_and_options_but_no_answers(stem):
    text = quiz.markdown(stem)
    bank = quiz_banks.read_bank(stem)
    assert text.startswith(f"## Quiz: {bank['title']}")
    for q in bank["questions"]:
        assert q["prompt"].strip() in text
        for o in q.get("options", []):
            assert o["text"] in text
            assert o["explanation"] not in text
        for a in q.get("answers", []):
            assert a not in text


def test_notebook_cells_are_markdown_then_show():
    md, code = quiz.notebook_cells("04-build-cache-and-size")
    assert md.cell_type == "markdown" and md.source == quiz.markdown("04-build-cache-and-size")
    assert code.cell_type == "code" and code.source == 'ck.quiz.show("04-build-cache-and-size")'


def test_check_notebook_catches_stale_quiz_markdown(tmp_path):
    nb = nbformat.read(str(ROOT / "notebooks" / "01-first-image.ipynb"), as_version=4)
    nb.cells = [c for c in nb.cells if "quiz" not in c.metadata.get("tags", [])]
    nb.cells += quiz.notebook_cells("01-first-image") + [nbformat.v4.new_markdown_cell("The end.")]
    path = tmp_path / "01-first-image.ipynb"
    nbformat.write(nb, str(path))
    assert quiz.check_notebook(path) == []
    nb.cells[-3].source += "\n\nedited by hand"
    nbformat.write(nb, str(path))
    assert "differs" in quiz.check_notebook(path)[0]
    nb.cells[-3].cell_type, nb.cells[-3].source = "code", "print(1)"
    nb.cells[-3].pop("attachments", None)
    nb.cells[-3].update(outputs=[], execution_count=None)
    nbformat.write(nb, str(path))
    assert "no Markdown cell above" in quiz.check_notebook(path)[0]


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_quiz_markdown_matches_bank(path):
    """Every `ck.quiz.show(...)` cell in a notebook has the bank's current Markdown above it."""
    assert quiz.check_notebook(path) == []
