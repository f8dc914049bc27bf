"""ckalab.dashboard: renders from any progress file; the JSON and CSV exports round-trip."""

from __future__ import annotations

import json

import matplotlib
import pytest

from ckalab import dashboard, progress
from ckalab.errors import CourseError

matplotlib.use("Agg")

FIXTURE = {
    "version": 1,
    "quizzes": {
        "02-image-anatomy": {"attempts": [{"time": 1_700_000_000, "score": 3, "total": 6, "answers": {}},
                                          {"time": 1_700_000_500, "score": 5, "total": 6, "answers": {}}],
                             "best": 5, "total": 6},
        "05-tags-digests-registries": {"attempts": [{"time": 1_700_001_000, "score": 4, "total": 8, "answers": {}}],
                                       "best": 4, "total": 8},
    },
    "labs": {
        "lab01-fix-dockerfile": {"checks": 3, "passed": True, "hints_used": 2, "passed_at": 1_700_002_000,
                                 "last_check": 1_700_002_000, "last_failed": []},
        "lab09-wrong-tag": {"checks": 1, "passed": False, "hints_used": 1, "last_check": 1_700_003_000,
                            "last_failed": ["replicas Ready"]},
    },
    "exams": [
        {"time": 1_700_010_000, "seed": 4242, "mode": "exam", "minutes": 20, "elapsed": 1300.5, "overtime": True,
         "score": 9, "total": 22, "percent": 40.9,
         "skills": {"Dockerfile": {"score": 6, "total": 6}, "rollouts": {"score": 3, "total": 16}},
         "tasks": [{"number": 1, "title": "Fix and build a Dockerfile", "skill": "Dockerfile", "level": "docker",
                    "score": 6, "total": 6, "seconds": 400.0, "skipped": False}]},
        {"time": 1_700_005_000, "seed": 17, "mode": "exam", "minutes": 20, "elapsed": 900.0, "overtime": False,
         "score": 4, "total": 22, "percent": 18.2, "skills": {}, "tasks": []},
    ],
}


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    path.write_text(json.dumps(FIXTURE))
    monkeypatch.setenv("CKALAB_PROGRESS", str(path))
    return path


def test_load_follows_ckalab_progress(progress_file):
    board = dashboard.load()
    assert board.source == progress_file
    assert board.data["labs"]["lab01-fix-dockerfile"]["passed"] is True


def test_tables_and_totals(progress_file):
    board = dashboard.load()
    rows = board.rows
    assert [q["quiz"] for q in rows["quizzes"]] == ["02-image-anatomy", "05-tags-digests-registries"]
    assert rows["quizzes"][0] == {"quiz": "02-image-anatomy", "best": 5, "total": 6, "last": 5, "attempts": 2,
                                  "percent": 83.3}
    assert [(l["lab"], l["passed"], l["hints_used"]) for l in rows["labs"]] == [
        ("lab01-fix-dockerfile", True, 2), ("lab09-wrong-tag", False, 1)]
    # Exam attempts are numbered in time order, whatever the order in the file.
    assert [(e["attempt"], e["seed"], e["score"]) for e in rows["exams"]] == [(1, 17, 4), (2, 4242, 9)]
    assert {(s["attempt"], s["skill"]) for s in rows["exam_skills"]} == {(2, "Dockerfile"), (2, "rollouts")}
    assert rows["exam_tasks"][0]["seconds"] == 400.0
    assert board.totals() == {"quizzes_taken": 2, "quiz_points": 9, "quiz_total": 14, "labs_passed": 1,
                              "labs_tried": 2, "hints_used": 3, "exam_attempts": 2, "best_exam_percent": 40.9}


def test_renders_text_html_and_plot(progress_file):
    board = dashboard.load()
    text = str(board)
    assert "Labs: 1 of 2 passed, 3 hint(s) used" in text and "seed 4242: 9/22" in text
    page = board._repr_html_()
    assert "lab09-wrong-tag" in page and "02-image-anatomy" in page and "9 / 22" in page
    fig = board.plot()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Quizzes", "Labs (bar: passed; dots: hints)", "Mock exam over time"]
    exam_line = fig.axes[2].get_lines()[0]
    assert list(exam_line.get_ydata()) == [18.2, 40.9]
    assert len(fig.axes[0].patches) == 2


def test_empty_or_missing_file_renders(tmp_path, monkeypatch):
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "none.json"))
    board = dashboard.load()
    assert board.totals()["exam_attempts"] == 0
    assert "nothing yet" in board._repr_html_()
    board.plot()


def test_broken_file_is_a_course_error(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text("{not json")
    with pytest.raises(CourseError, match="not valid JSON"):
        dashboard.load(path)


def test_export_round_trips(progress_file, tmp_path):
    board = dashboard.load()
    out = tmp_path / "export"
    paths = board.export(out)
    assert sorted(p.name for p in paths) == sorted(["progress.json", *(f"{n}.csv" for n in dashboard.COLUMNS)])
    back = dashboard.read_export(out)
    assert back["progress"] == FIXTURE
    assert back["totals"] == board.totals()
    for name, rows in board.rows.items():
        assert back[name] == rows, name
    assert (out / "labs.csv").read_text().splitlines()[0] == "lab,passed,checks,hints_used,passed_at"


def test_export_default_folder_is_build(progress_file, tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setenv("CKALAB_HOME", str(tmp_path))
    paths = dashboard.load().export()
    assert all(p.parent == tmp_path / "build" / "progress" for p in paths)


def test_progress_written_by_the_course_renders(tmp_path, monkeypatch):
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "p.json"))
    progress.record_quiz("02-image-anatomy", 2, 6)
    progress.record_lab("lab01-fix-dockerfile", hints_used=1)
    progress.record_exam({"seed": 5, "score": 1, "total": 3, "skills": {}, "tasks": []})
    rows = dashboard.load().rows
    assert rows["quizzes"][0]["best"] == 2 and rows["labs"][0]["hints_used"] == 1
    assert rows["exams"][0]["percent"] == 33.3
