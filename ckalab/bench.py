"""`make bench`: time every notebook (papermill, Docker mode) and compare the brief's image
with the course's, in one run, as tables.

    python -m ckalab.bench                   # all notebooks in notebooks/
    python -m ckalab.bench --only 03- 04-    # just those

The image numbers come from ckalab.measure.compare(), the function notebook 04 calls: when
notebook 04 ran in this bench, its own measurement (saved by the notebook) is reported, so
the table and the notebook show the same numbers; otherwise the bench measures them itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import measure
from . import settings as settings_module
from .errors import CourseError

BUDGET_SECONDS = 90
TOTAL_BUDGET_SECONDS = 600



def notebooks(root: Path, only: list[str] | None = None) -> list[Path]:
    found = sorted((root / "notebooks").glob("*.ipynb"))
    if only:
        found = [p for p in found if any(p.name.startswith(o) or o in p.stem for o in only)]
    return found


def run_notebook(path: Path, root: Path, out_dir: Path, require: str = "docker") -> tuple[float, str]:
    """Execute one notebook with papermill; return (seconds, 'ok' or the error's first line)."""
    import papermill
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        papermill.execute_notebook(str(path), str(out_dir / path.name), cwd=str(root), kernel_name="python3",
                                   progress_bar=False, parameters={"REQUIRE": require, "SOLVE": True},
                                   execution_timeout=600)
        status = "ok"
    except Exception as exc:  # the bench reports a failing notebook and goes on
        status = "FAILED: " + (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:80]
    return time.perf_counter() - started, status


def notebook_table(rows: list[tuple[str, float, str]], budget: float) -> str:
    return measure.format_table([
        {"notebook": name, "seconds": f"{seconds:.1f}",
         f"budget {budget:.0f} s": ("within" if seconds <= budget else "OVER") if status == "ok" else "-",
         "status": status}
        for name, seconds, status in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ckalab.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="notebook name prefixes or parts, e.g. 03- 04-")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds allowed per notebook")
    parser.add_argument("--require", default="docker", choices=["none", "docker", "cluster"],
                        help="REQUIRE passed to the notebooks (default: docker)")
    args = parser.parse_args(argv)

    cfg = settings_module.load()
    root = cfg.root
    os.environ.setdefault("CKALAB_REQUIRE", args.require)
    started = time.time()
    rows = []
    selected = notebooks(root, args.only)
    print(f"bench: {len(selected)} notebook(s), REQUIRE={args.require}, budget {args.budget:.0f} s each", flush=True)
    for path in selected:
        seconds, status = run_notebook(path, root, root / "build" / "bench", args.require)
        rows.append((path.stem, seconds, status))
        print(f"  {path.stem:40} {seconds:6.1f} s  {status}", flush=True)

    print("\nNotebook execution (papermill, one kernel each):")
    print(notebook_table(rows, args.budget))

    comparison = measure.load()
    if comparison is None or comparison.created < started:
        print("\nMeasuring the images (notebook 04 did not run in this bench) ...", flush=True)
        try:
            comparison = measure.compare(measure.SIZE_VARIANTS, measure.SIZE_SOURCE)
            comparison.save()
        except CourseError as exc:
            print(f"bench: {exc.message}", file=sys.stderr)
            return 2
        origin = "measured by the bench with ckalab.measure.compare()"
    else:
        origin = "measured by notebook 04 in this run (ckalab.measure.compare())"
    print(f"\nBrief's Dockerfile vs the course's ({origin}):")
    print(f"  edit: {comparison.edit}; clutter: {comparison.clutter}")
    print(comparison.table())

    total = time.time() - started
    print(f"\nbench total: {total:.0f} s (target under {TOTAL_BUDGET_SECONDS} s)")
    failed = [name for name, _, status in rows if status != "ok"]
    over = [name for name, seconds, status in rows if status == "ok" and seconds > args.budget]
    if failed:
        print(f"bench: failed notebooks: {', '.join(failed)}", file=sys.stderr)
    if over:
        print(f"bench: over the {args.budget:.0f} s budget: {', '.join(over)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
