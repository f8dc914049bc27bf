"""Execute every notebook and lab with papermill (parameters injected), in course order.

The executed copies land in build/executed/; `make test` then runs nbval over
them, which executes each again and compares the cells marked NBVAL_CHECK_OUTPUT.
"""

from __future__ import annotations

import os
from pathlib import Path

import papermill
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "labs").glob("*.ipynb"))
OUT = ROOT / "build" / "executed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path):
    target = OUT / path.parent.name / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(path), str(target), cwd=str(ROOT), kernel_name="python3", progress_bar=False,
        # SOLVE=True runs each lab's reference solution, so CI proves it passes its own Check.
        parameters={"REQUIRE": os.environ.get("CKALAB_REQUIRE") or None, "SOLVE": True},
        execution_timeout=600,
    )
