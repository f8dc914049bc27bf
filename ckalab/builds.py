"""Student and instructor builds of the notebooks, into the ignored folder build/.

    python -m ckalab.builds student      # build/student/{notebooks,labs/NN-name}: solutions removed, outputs cleared
    python -m ckalab.builds instructor   # build/instructor/...: solutions kept, RISE slide metadata on every cell

(`make student` / `make instructor` run these.) A solution cell is one tagged `solution` (the
answer a learner writes) or `solution-run` (the cell that applies a lab's reference solution
when SOLVE is True); both are removed from the student build, with the markdown cell right
before them when it introduces the solution ("## Solution", "Worked solution ..."). The instructor build sets
`metadata.slideshow.slide_type` on every cell for the jupyterlab-rise slideshow: headings
start a slide, the parameters cell is skipped, everything else appears as a fragment or
subslide.
"""

from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path

import nbformat

from . import settings as settings_module

SOLUTION_TAGS = ("solution", "solution-run")
# Lessons are notebooks/NN-name.ipynb; a lab is the notebook in its folder, labs/NN-name/NN-name.ipynb.
SOURCE_GLOBS = ("notebooks/*.ipynb", "labs/[0-9]*/*.ipynb")   # never an .ipynb_checkpoints/ copy
KINDS = ("student", "instructor")
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
LONG_MARKDOWN = 500   # characters: a longer paragraph gets a subslide of its own


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def is_solution(cell) -> bool:
    return bool(tags(cell) & set(SOLUTION_TAGS))


def sources(root: Path | None = None) -> list[Path]:
    """The course's notebooks and labs, in course order."""
    root = root or settings_module.load().root
    return [p for pattern in SOURCE_GLOBS for p in sorted(root.glob(pattern))]


def _clear(cell) -> None:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    cell.metadata.pop("execution", None)
    cell.metadata.pop("papermill", None)


def _clean_notebook_metadata(nb) -> None:
    for key in ("widgets", "papermill"):
        nb.metadata.pop(key, None)


def introduces_solution(cell, following) -> bool:
    """A markdown cell right before a solution cell that talks about it ("## Solution",
    "Worked solution (hidden: ...)"): without the solution it would be an empty promise."""
    return (cell.cell_type == "markdown" and following is not None and is_solution(following)
            and "solution" in cell.source.lower())


def without_solutions(nb):
    """A copy without solution cells and the markdown that introduces them; outputs kept."""
    nb = copy.deepcopy(nb)
    cells = nb.cells
    nb.cells = [c for i, c in enumerate(cells) if not is_solution(c)
                and not introduces_solution(c, cells[i + 1] if i + 1 < len(cells) else None)]
    return nb


def student(nb):
    """A copy without solution cells (and the markdown that introduces them), outputs cleared."""
    nb = without_solutions(nb)
    for cell in nb.cells:
        _clear(cell)
    _clean_notebook_metadata(nb)
    return nb


def _heading_level(cell) -> int:
    if cell.cell_type != "markdown":
        return 0
    first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
    marks = len(first) - len(first.lstrip("#"))
    return marks if first[marks:marks + 1] == " " else 0


def slide_type(cell, index: int) -> str:
    """RISE slide type: title and ## headings start a slide, ### a subslide; parameters are
    skipped; code, solutions and short prose appear as fragments; long prose gets a subslide."""
    if "parameters" in tags(cell) or "injected-parameters" in tags(cell):
        return "skip"
    level = _heading_level(cell)
    if index == 0 or level in (1, 2):
        return "slide"
    if level >= 3:
        return "subslide"
    if cell.cell_type == "markdown" and len(cell.source) > LONG_MARKDOWN:
        return "subslide"
    return "fragment"


def instructor(nb):
    """A copy with the solutions kept and slideshow metadata on every cell, outputs cleared."""
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        _clear(cell)
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell, index)}
    _clean_notebook_metadata(nb)
    nb.metadata["rise"] = {"scroll": True, "enable_chalkboard": False}
    return nb


def build(kind: str, root: Path | None = None, out: Path | None = None) -> list[Path]:
    """Write every notebook and lab as a `kind` build into out (default build/<kind>). Returns the paths."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    root = Path(root) if root else settings_module.load().root
    out = Path(out) if out else root / "build" / kind
    if out.exists():
        shutil.rmtree(out)
    transform = student if kind == "student" else instructor
    written = []
    for path in sources(root):
        nb = transform(nbformat.read(path, as_version=4))
        nbformat.validate(nb)
        target = out / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in KINDS:
        print("usage: python -m ckalab.builds student|instructor", file=sys.stderr)
        return 2
    root = settings_module.load().root
    paths = build(argv[0], root)
    removed = 0
    if argv[0] == "student":
        removed = sum(1 for p in sources(root) for c in nbformat.read(p, as_version=4).cells if is_solution(c))
    where = (root / "build" / argv[0]).relative_to(root)
    print(f"{argv[0]} build: {len(paths)} notebooks in {where}/"
          + (f", {removed} solution cell(s) removed" if argv[0] == "student" else ", slide metadata on every cell"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
