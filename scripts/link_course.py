"""Keep the lessons' generated cells in step with the course: the quiz of each lesson (from
quizzes/<stem>.yaml) and the links to the labs that practise its skills.

Run after editing a quiz bank or adding a lab: `make link`. Idempotent; tests check the result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ckalab import quiz  # noqa: E402

# Lesson -> the labs that practise what it teaches.
LABS_BY_LESSON = {
    "02-image-anatomy": ["16"],
    "03-dockerfile-instructions": ["01"],
    "04-build-cache-and-size": ["02", "03"],
    "05-tags-digests-registries": ["04", "06"],
    "06-deploy-and-update": ["07", "08", "13", "21", "22"],
    "07-private-registries-in-kubernetes": ["05", "10", "11", "12", "19"],
    "08-troubleshooting-image-pulls": ["09", "14", "17", "18", "23"],
    "12-podman-buildah-skopeo": ["15"],
    "13-multi-platform-images": ["20"],
}


def lab_title(path: Path) -> str:
    first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
    return first.lstrip("# ").strip()


def labs_cell(stem: str):
    lines = ["## Practise it", "", "Hands-on labs for this lesson, each with a **Check** button and stepped hints:", ""]
    for number in LABS_BY_LESSON[stem]:
        path = next((ROOT / "labs").glob(f"{number}-*/{number}-*.ipynb"))
        lines.append(f"* [{lab_title(path)}](../{path.relative_to(ROOT).as_posix()})")
    cell = nbformat.v4.new_markdown_cell("\n".join(lines), metadata={"tags": ["labs-links"]})
    cell.id = "labs-links"
    return cell


def summary_index(nb) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("## Summary"):
            return i
    return len(nb.cells)


def link(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    nb.cells = [c for c in nb.cells if not {"quiz", "labs-links"} & set(c.metadata.get("tags", []))]
    if path.stem in LABS_BY_LESSON:
        at = summary_index(nb)
        nb.cells[at:at] = [labs_cell(path.stem)]
    if (ROOT / "quizzes" / f"{path.stem}.yaml").exists():
        questions, widget = quiz.notebook_cells(path.stem)
        questions.id, widget.id = "quiz-questions", "quiz-widget"  # stable ids: reruns change nothing
        nb.cells += [questions, widget]  # every lesson ends with its quiz
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if nbformat.writes(nb) == before:
        return False
    nbformat.write(nb, path)
    return True


if __name__ == "__main__":
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if link(notebook):
            print(f"updated {notebook.relative_to(ROOT)}")
