"""Execute every notebook and lab with papermill (parameters injected), in course order.

The executed copies land in build/executed/; `make test` then runs nbval over
them, which executes each again and compares the cells marked NBVAL_CHECK_OUTPUT.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import papermill
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "labs").glob("[0-9]*/*.ipynb"))
OUT = ROOT / "build" / "executed"


@pytest.fixture(scope="module")
def provenance():
    """Where this run's outputs come from, for the static book (`make book`)."""
    from ckalab import book, doctor
    return book.write_provenance(OUT, ROOT, doctor.diagnose().level)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch, provenance):
    # `make report` shows this pass apart from the nbval pass and from the learner's own runs.
    monkeypatch.setenv("CKALAB_REPORTS", str(ROOT / "build" / "reports" / "papermill"))
    target = OUT / path.relative_to(ROOT)
    target.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(path), str(target), cwd=str(ROOT), kernel_name="python3", progress_bar=False,
        # SOLVE=True runs each lab's reference solution, so CI proves it passes its own Check.
        # EMULATION lets lesson 13 register QEMU in binfmt_misc (and remove it): only where the
        # run allows it (CKALAB_ALLOW_EMULATION=1, as CI sets), never on a learner's machine.
        parameters={"REQUIRE": os.environ.get("CKALAB_REQUIRE") or None, "SOLVE": True,
                    "EMULATION": os.environ.get("CKALAB_ALLOW_EMULATION") == "1"},
        execution_timeout=600,
    )


def _has_docker_cells(path: Path) -> bool:
    import nbformat
    from ckalab import cells
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and ("ck.requires(\"docker\"" in cell.source or any(
                cells.needs_of(cmd) == "docker" for cmd in re.findall(r'ck\.sh\(\s*f?"([^"]+)"', cell.source))):
            return True
    return False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_docker(path, tmp_path, monkeypatch):
    """The Binder case: no Docker Engine. Every notebook still runs to the end, and each cell
    that needs Docker says it was skipped instead of failing."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker-here.sock")
    monkeypatch.setenv("CKALAB_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "progress.json"))
    monkeypatch.delenv("CKALAB_REQUIRE", raising=False)
    target = ROOT / "build" / "executed-without-docker" / path.relative_to(ROOT)
    target.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(path), str(target), cwd=str(ROOT), kernel_name="python3",
                               progress_bar=False, parameters={"REQUIRE": None, "SOLVE": False},
                               execution_timeout=300)
    reports = list((tmp_path / "reports").glob("*.jsonl"))
    counts = {}
    for report in reports:
        for line in report.read_text().splitlines():
            entry = json.loads(line)
            counts.setdefault((entry["level"], entry["status"]), 0)
            counts[(entry["level"], entry["status"])] += 1
    assert counts.get(("docker", "executed"), 0) == 0 and counts.get(("cluster", "executed"), 0) == 0
    if _has_docker_cells(path):
        assert counts.get(("docker", "skipped"), 0) > 0, "Docker cells should say they were skipped"
