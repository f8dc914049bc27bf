"""ckalab.builds: the student build has no solutions and still executes; the instructor build keeps
them and carries RISE slide metadata on every cell."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import papermill
import pytest

from ckalab import builds

ROOT = Path(__file__).resolve().parent.parent


def solution_lines(path: Path) -> set[str]:
    """Lines of the solution cells that appear in no other cell of the notebook (the answer itself)."""
    nb = nbformat.read(path, as_version=4)
    other = "\n".join(c.source for c in nb.cells if not builds.is_solution(c))
    lines = {l.strip() for c in nb.cells if builds.is_solution(c) for l in c.source.splitlines()}
    return {l for l in lines if len(l) >= 20 and l not in other}


@pytest.fixture(scope="module")
def student_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return out, builds.build("student", ROOT, out)


@pytest.fixture(scope="module")
def instructor_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("instructor")
    return out, builds.build("instructor", ROOT, out)


def test_course_has_solutions_to_strip():
    tagged = [p for p in builds.sources(ROOT)
              if any(builds.is_solution(c) for c in nbformat.read(p, as_version=4).cells)]
    assert tagged, "no cell is tagged solution/solution-run: the student build test would prove nothing"


def test_student_build_has_every_notebook_and_no_solution(student_build):
    out, paths = student_build
    assert sorted(p.relative_to(out) for p in paths) == sorted(p.relative_to(ROOT) for p in builds.sources(ROOT))
    secrets = {p.relative_to(ROOT): solution_lines(p) for p in builds.sources(ROOT)}
    assert any(secrets.values())
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            assert not builds.tags(cell) & set(builds.SOLUTION_TAGS), (path.name, cell.source[:60])
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
            assert not (cell.cell_type == "markdown" and re.match(r"#+ Solution\b", cell.source)), path.name
    for name, lines in secrets.items():
        built_text = (out / name).read_text()
        leaked = [l for l in lines if l in built_text]
        assert not leaked, f"{name}: solution text in the student build: {leaked[:3]}"


def test_student_transform_on_a_small_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T"),
                nbformat.v4.new_code_cell("SOLVE = False", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_markdown_cell("## Solution\n\nExpand the next cell."),
                nbformat.v4.new_code_cell("print('the answer is 42')", metadata={"tags": ["solution"]}),
                nbformat.v4.new_code_cell("if SOLVE:\n    lab.solve()", metadata={"tags": ["solution-run"]}),
                nbformat.v4.new_markdown_cell("## Clean up"),
                nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output("stream", text="1")],
                                          execution_count=3)]
    out = builds.student(nb)
    assert [c.source for c in out.cells] == ["# T", "SOLVE = False", "## Clean up", "x = 1"]
    assert out.cells[-1].outputs == [] and out.cells[-1].execution_count is None
    assert len(nb.cells) == 7 and nb.cells[-1].outputs  # the source is not changed


@pytest.mark.parametrize("which", ["lab", "lesson"])
def test_student_build_executes(which, student_build, docker_env, tmp_path):
    out, paths = student_build
    labs = [p for p in paths if p.parent.parent.name == "labs"]
    # Prefer a Docker-level lab (labs 01-06) so the built lab really runs here; any lab otherwise.
    docker_labs = [p for p in labs if re.match(r"0[1-6]-", p.name)]
    lessons = [p for p in paths if p.name.startswith("01-first-image")]
    chosen = (docker_labs or labs)[0] if which == "lab" else lessons[0]
    target = tmp_path / chosen.name
    papermill.execute_notebook(str(chosen), str(target), cwd=str(ROOT), kernel_name="python3",
                               progress_bar=False, parameters={"REQUIRE": "docker"}, execution_timeout=600)
    executed = nbformat.read(target, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert any(c.outputs for c in executed.cells if c.cell_type == "code")


def test_instructor_build_has_slides_and_keeps_solutions(instructor_build):
    out, paths = instructor_build
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        source = nbformat.read(ROOT / path.relative_to(out), as_version=4)
        assert [c.source for c in nb.cells] == [c.source for c in source.cells], path.name
        types = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
        assert all(t in builds.SLIDE_TYPES for t in types), (path.name, types)
        assert types[0] == "slide"
        for cell, kind in zip(nb.cells, types):
            if "parameters" in builds.tags(cell):
                assert kind == "skip"
            elif cell.cell_type == "markdown" and re.match(r"##? ", cell.source):
                assert kind == "slide"
        assert nb.metadata["rise"]["scroll"] is True
    kept = sum(builds.is_solution(c) for p in paths for c in nbformat.read(p, as_version=4).cells)
    assert kept == sum(builds.is_solution(c) for p in builds.sources(ROOT)
                       for c in nbformat.read(p, as_version=4).cells) > 0


def test_slide_types_for_each_kind_of_cell():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    assert builds.slide_type(md("# Title"), 0) == "slide"
    assert builds.slide_type(md("## Part"), 4) == "slide"
    assert builds.slide_type(md("### Detail"), 4) == "subslide"
    assert builds.slide_type(md("#hashtag is not a heading"), 4) == "fragment"
    assert builds.slide_type(md("x " * 400), 4) == "subslide"
    assert builds.slide_type(code("REQUIRE = None", metadata={"tags": ["parameters"]}), 1) == "skip"
    assert builds.slide_type(code("ck.sh('docker ps')"), 5) == "fragment"


def test_entry_point_and_make_targets(tmp_path, capsys):
    assert builds.main(["teacher"]) == 2
    makefile = (ROOT / "Makefile").read_text()
    for kind in builds.KINDS:
        assert re.search(rf"^{kind}: .*\n\t\$\(PY\) -m ckalab.builds {kind}$", makefile, re.M), kind
