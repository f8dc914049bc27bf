"""The static book: pages from executed notebooks, with where their outputs come from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from ckalab import book, builds
from ckalab.errors import CourseError

ROOT = Path(__file__).resolve().parent.parent


def test_pages_say_where_their_outputs_come_from_and_leave_solutions_out(tmp_path):
    executed = tmp_path / "executed"
    lesson, lab = ROOT / "notebooks" / "08-troubleshooting-image-pulls.ipynb", ROOT / "labs" / "09-wrong-tag" / "09-wrong-tag.ipynb"
    for source in (lesson, lab):
        (executed / source.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, executed / source.relative_to(ROOT))
    info = json.loads(book.write_provenance(executed, ROOT, "cluster").read_text())
    pages = book.render(executed, tmp_path / "book", ROOT)
    assert [p.relative_to(tmp_path / "book").as_posix() for p in pages] == \
        ["notebooks/08-troubleshooting-image-pulls.html", "labs/09-wrong-tag/09-wrong-tag.html"]
    lab_page = pages[1].read_text()
    assert info["commit"][:12] in lab_page and "level <b>cluster</b>" in lab_page
    solution = next(c for c in nbformat.read(lab, as_version=4).cells if builds.is_solution(c))
    assert solution.source.splitlines()[2] not in lab_page          # a line of the reference solution
    lesson_page = pages[0].read_text()
    assert ".ipynb\"" not in lesson_page and 'href="../labs/09-wrong-tag/09-wrong-tag.html"' in lesson_page  # links lead to pages
    index = (tmp_path / "book" / "index.html").read_text()
    assert "labs/09-wrong-tag/09-wrong-tag.html" in index and "notebooks/08-troubleshooting-image-pulls.html" in index


def test_no_run_yet_names_the_fix(tmp_path):
    with pytest.raises(CourseError) as exc:
        book.render(tmp_path / "executed", tmp_path / "book", ROOT)
    assert "make test" in exc.value.fix
