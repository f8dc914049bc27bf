"""The progress file: quiz results are recorded, and an interrupted save never corrupts it."""

from __future__ import annotations

import json
import os

import pytest

from ckalab import progress


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "state" / "progress.json"
    monkeypatch.setenv("CKALAB_PROGRESS", str(path))
    return path


def test_record_quiz_writes_attempts_and_best(progress_file):
    progress.record_quiz("02-image-anatomy", 5, 7, {"digest-what": {"correct": True}})
    entry = progress.record_quiz("02-image-anatomy", 3, 7)
    data = json.loads(progress_file.read_text())
    assert data["quizzes"]["02-image-anatomy"] == entry
    assert [a["score"] for a in entry["attempts"]] == [5, 3]
    assert entry["best"] == 5 and entry["total"] == 7
    assert entry["attempts"][0]["answers"] == {"digest-what": {"correct": True}}


def _leftover_temp_files(path):
    return [p.name for p in path.parent.iterdir() if p.name.startswith(".progress-")]


def test_crash_in_replace_keeps_old_content(progress_file, monkeypatch):
    progress.record_quiz("01-first-image", 6, 7)
    before = progress_file.read_text()

    def crash(*_args, **_kwargs):
        raise OSError("simulated crash during os.replace")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        progress.record_quiz("01-first-image", 1, 7)
    monkeypatch.undo()
    assert progress_file.read_text() == before
    assert json.loads(progress_file.read_text())["quizzes"]["01-first-image"]["best"] == 6
    assert _leftover_temp_files(progress_file) == []


def test_crash_while_writing_json_keeps_old_content(progress_file, monkeypatch):
    progress.record_quiz("01-first-image", 6, 7)
    before = progress_file.read_text()
    real_dump = json.dump

    def half_written(obj, fh, **kwargs):
        fh.write('{"version": 1, "quizzes": {"01-first-im')   # a partial write, then the crash
        raise KeyboardInterrupt("simulated interrupt in json.dump")

    monkeypatch.setattr(progress.json, "dump", half_written)
    with pytest.raises(KeyboardInterrupt):
        progress.record_quiz("01-first-image", 2, 7)
    monkeypatch.setattr(progress.json, "dump", real_dump)
    assert progress_file.read_text() == before
    assert _leftover_temp_files(progress_file) == []
    # and the file still loads and accepts new results
    assert progress.record_quiz("01-first-image", 7, 7)["best"] == 7


def test_unreadable_file_reads_as_empty(progress_file):
    progress_file.parent.mkdir(parents=True)
    progress_file.write_text('{"quizzes": {')
    assert progress.load()["quizzes"] == {}
