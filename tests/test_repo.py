"""The repository checked against itself: notebooks, links, manifests, Dockerfiles, env files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

from ckalab import validate

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LABS = sorted((ROOT / "labs").glob("[0-9]*/*.ipynb"))
LAB_FILES = sorted((ROOT / "labs").glob("[0-9]*/lab.py"))
ALL_NOTEBOOKS = NOTEBOOKS + LABS
BASE_IMAGES = {"python:3.13-slim", "python:3.13", "debian:trixie-slim", "scratch", "registry:3"}


def read(path: Path):
    return nbformat.read(path, as_version=4)


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=rel)
def test_notebook_is_stored_without_outputs(path):
    for cell in read(path).cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, \
                f"{rel(path)} has stored outputs: run `make strip`"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=rel)
def test_notebook_has_parameters_and_start_cells(path):
    code = [c for c in read(path).cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "REQUIRE = None" in params[0].source, f"{rel(path)}: parameters cell"
    assert any("ck.start(" in c.source for c in code[:3]), f"{rel(path)}: ck.start in the first cells"
    if path.parent.name == "notebooks":
        assert any(f'ck.start("{path.stem}"' in c.source for c in code), f"{rel(path)}: start with its own name"


def test_notebooks_are_numbered_in_order():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))), numbers


@pytest.mark.parametrize("path", NOTEBOOKS[:-1], ids=rel)
def test_each_notebook_links_the_next(path):
    following = NOTEBOOKS[NOTEBOOKS.index(path) + 1].name
    assert f"({following})" in markdown(read(path)), f"{rel(path)} should link {following}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=rel)
def test_notebook_has_summary_mistakes_and_sources(path):
    text = markdown(read(path))
    for heading in ("Summary", "Common mistakes", "Sources"):
        assert heading in text, f"{rel(path)} lacks a '{heading}' section"
    sources = text[text.index("Sources"):]
    assert re.search(r"https://(kubernetes\.io|docs\.docker\.com|kind\.sigs\.k8s\.io)", sources)


def lab_next_line(path: Path) -> str:
    """`Next: [NN · Title](file)` of the following lab (its H1 after "Lab "); after the last, exam practice."""
    if path == LABS[-1]:
        return "Next: [09 · Exam practice](../../notebooks/09-exam-practice.ipynb)"
    following = LABS[LABS.index(path) + 1]
    return f"Next: [{read(following).cells[0].source.splitlines()[0].removeprefix('# Lab ')}](../{following.parent.name}/{following.name})"


@pytest.mark.parametrize("path", LABS, ids=rel)
def test_lab_ends_with_summary_mistakes_sources_and_next(path):
    last = read(path).cells[-1]
    assert last.cell_type == "markdown", f"{rel(path)}: the last cell must be the closing markdown cell"
    for heading in ("## Summary", "## Common mistakes", "## Sources"):
        assert heading in last.source, f"{rel(path)}: the last cell lacks '{heading}'"
    sources = last.source[last.source.index("## Sources"):]
    assert re.search(r"https://(kubernetes\.io|docs\.docker\.com|kind\.sigs\.k8s\.io)", sources), rel(path)
    expected = lab_next_line(path)
    assert last.source.rstrip().splitlines()[-1] == expected, f"{rel(path)} should end with {expected}"


@pytest.mark.parametrize("lab", LABS, ids=rel)
def test_every_lab_is_linked_from_a_lesson(lab):
    linking = [p.name for p in NOTEBOOKS if f"../{lab.relative_to(ROOT).as_posix()}" in markdown(read(p))]
    assert linking, f"no notebook links {rel(lab)}: link it from the lesson that teaches its skill"


def _workload_files(pattern: str):
    found = [*(ROOT / "workloads").rglob(pattern), *(ROOT / "labs").glob(f"*/files/**/{pattern}")]
    return sorted(p for p in found if ".broken" not in p.name)


def _is_kubernetes_object(doc) -> bool:
    """An object the API server stores (not kind's or Kustomize's own config files)."""
    return isinstance(doc, dict) and "kind" in doc and "apiVersion" in doc \
        and not str(doc["apiVersion"]).split("/")[0].endswith(("x-k8s.io", "kustomize.config.k8s.io"))


MANIFESTS = [p for p in _workload_files("*.y*ml")
             if any(_is_kubernetes_object(d) for d in yaml.safe_load_all(p.read_text()))]


@pytest.mark.parametrize("path", MANIFESTS, ids=rel)
def test_manifest_is_valid_for_the_current_kubernetes(path):
    assert validate.manifests(path) == []


KUSTOMIZATIONS = [p.parent for p in _workload_files("kustomization.yaml")]


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=rel)
def test_kustomization_builds_valid_manifests(folder):
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed: the kustomizations are built with `kubectl kustomize`"
    built = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    assert [d for d in yaml.safe_load_all(built.stdout) if d], f"{rel(folder)} builds no objects"
    assert validate.manifests(built.stdout) == []


DOCKERFILES = _workload_files("Dockerfile*") + sorted((ROOT / "scripts").rglob("Dockerfile*"))


@pytest.mark.parametrize("path", DOCKERFILES, ids=rel)
def test_dockerfile_passes_hadolint(path):
    findings = validate.dockerfile(path)
    assert findings == [], "\n".join(map(str, findings))


@pytest.mark.parametrize("path", DOCKERFILES, ids=rel)
def test_dockerfile_uses_supported_base_images(path):
    stages = set()
    for line in path.read_text().splitlines():
        match = re.match(r"\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if match:
            image, stage = match.groups()
            assert image in BASE_IMAGES | stages or image.startswith(("$", "localhost:")), \
                f"{rel(path)}: FROM {image} is not a supported base image ({sorted(BASE_IMAGES)})"
            if stage:
                stages.add(stage)


def _pins(lines):
    return sorted(l.strip().lstrip("- ").strip() for l in lines if "==" in l)


@pytest.mark.parametrize("env_file", ["environment.yml", "binder/environment.yml"])
def test_conda_environments_match_requirements(env_file):
    requirements = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / env_file).read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == requirements


def test_readme_is_a_copy_paste_session():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    for target in re.findall(r"^make ([a-z-]+)", readme, re.M):
        assert target in targets, f"README mentions `make {target}`, which the Makefile lacks"


def test_ci_runs_the_readme_test_command():
    assert re.search(r"^make test$", (ROOT / ".ci/run").read_text(), re.M)


LESSONS_WITH_QUIZ = [p for p in NOTEBOOKS if (ROOT / "quizzes" / f"{p.stem}.yaml").exists()]


def test_every_content_lesson_has_a_quiz():
    stems = {p.stem for p in LESSONS_WITH_QUIZ}
    # Setup (00), the mock exam (10) and the dashboard (11) teach nothing new of their own.
    assert stems == {p.stem for p in NOTEBOOKS if p.name[:2] not in ("00", "10", "11")}


@pytest.mark.parametrize("path", LESSONS_WITH_QUIZ, ids=rel)
def test_lesson_ends_with_its_quiz(path):
    cells = read(path).cells
    assert cells[-1].source.strip() == f'ck.quiz.show("{path.stem}")'


@pytest.mark.parametrize("path", NOTEBOOKS, ids=rel)
def test_generated_cells_are_up_to_date(path, tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("link_course", ROOT / "scripts" / "link_course.py")
    link_course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(link_course)
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    assert not link_course.link(copy), f"{rel(path)}: quiz or lab links are stale: run `make link`"


def test_no_emoji_in_what_learners_read():
    """Without an emoji font these render as empty boxes (a pass then looks like a fail)."""
    emoji = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\u23e9-\u23fa]")
    files = [*ALL_NOTEBOOKS, *sorted((ROOT / "ckalab").glob("*.py")), *LAB_FILES, *sorted((ROOT / "quizzes").glob("*.yaml")),
             ROOT / "README.md"]
    found = [f"{rel(p)}: {m.group(0)!r}" for p in files for m in emoji.finditer(p.read_text())]
    assert found == [], found


# ---------------------------------------------------------------- the package's own shape

PACKAGE = ROOT / "ckalab"


def package_imports() -> dict[str, set[str]]:
    """Which course module imports which, from the source (imports inside functions count too)."""
    import ast
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    graph = {}
    for path in PACKAGE.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ckalab."):
                names.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("ckalab."))
        graph[path.stem] = (names & modules) - {path.stem}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as a path (first module repeated at the end), or [] when there is none."""
    state: dict[str, str] = {}

    def visit(module, path):
        state[module] = "open"
        for dependency in sorted(graph[module]):
            if state.get(dependency) == "open":
                return path[path.index(dependency):] + [dependency]
            if dependency not in state and (found := visit(dependency, path + [dependency])):
                return found
        state[module] = "done"
        return []

    for module in sorted(graph):
        if module not in state and (found := visit(module, [module])):
            return found
    return []


def test_import_cycle_finds_a_circle():
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_package_imports_form_a_tree():
    cycle = import_cycle(package_imports())
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_every_module_is_used():
    """A module is imported by another one, called by a notebook as `ck.<module>`, run by the
    Makefile as `python -m ckalab.<module>`, imported by a script or by a lab's lab.py."""
    graph = package_imports()
    imported = set().union(*graph.values())
    notebooks = "\n".join(path.read_text() for path in ALL_NOTEBOOKS)
    called = set(re.findall(r"\bck\.([a-z_]+)\.", notebooks))
    run = set(re.findall(r"-m ckalab\.([a-z_]+)", (ROOT / "Makefile").read_text()))
    scripts = "\n".join(path.read_text() for path in (ROOT / "scripts").glob("*.py"))
    from_scripts = {name for line in re.findall(r"^from ckalab import (.+?)(?:  #.*)?$", scripts, re.M)
                    for name in re.split(r",\s*", line)}
    by_labs = {name for path in LAB_FILES for name in re.findall(r"^from ckalab\.([a-z_]+) import", path.read_text(), re.M)}
    used = imported | called | run | from_scripts | by_labs | {"__init__", "__main__"}
    assert not sorted(set(graph) - used), f"modules nothing uses: {sorted(set(graph) - used)}"


# ---------------------------------------------------------------- solutions use exam tools only

# A worked solution may run shell commands (`ck.sh`), skip itself where a level is missing, and
# read the lab's registry login, which an exam task states in its text. Anything else from the
# course package would be a way to the answer that an exam terminal does not have.
SOLUTION_CALLS_ALLOWED = {"ck.sh", "ck.requires", "ck.registry.credentials"}
COURSE_COMMAND_ALLOWED = "python -m ckalab credentials"


def _dotted(node) -> str:
    import ast
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def course_helpers_in_solution(cell_type: str, source: str) -> list[str]:
    """What in one solution cell comes from the course package rather than from exam tools."""
    import ast
    found = []
    if cell_type == "markdown":
        found += re.findall(r"\bck\.[a-z_.]+", source)
        texts = [source]
    else:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _dotted(node.func).startswith("ck.") \
                    and _dotted(node.func) not in SOLUTION_CALLS_ALLOWED:
                found.append(_dotted(node.func))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append("import " + ", ".join(a.name for a in node.names))
        texts = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for text in texts:             # shell commands: no course Python behind the learner's back
        found += [m for m in re.findall(r"python3? -m ckalab[\w. ]*", text)
                  if not m.startswith(COURSE_COMMAND_ALLOWED)]
    return found


def test_solution_rule_catches_course_helpers():
    assert course_helpers_in_solution("code", 'digest = ck.registry.api("open").manifest("a", "1").digest') \
        == ["ck.registry.api"]
    assert course_helpers_in_solution("code", 'print(ck.diagnose.from_cluster(pod, "ns"))') \
        == ["ck.diagnose.from_cluster"]
    assert course_helpers_in_solution("code", "from ckalab import registry") == ["import registry"]
    assert course_helpers_in_solution("code", 'ck.sh("python -m ckalab.registry digest x")')
    assert course_helpers_in_solution("markdown", "```python\nck.registry.api('open')\n```") == ["ck.registry.api"]
    assert not course_helpers_in_solution(
        "code", 'creds = ck.registry.credentials()\nck.sh(f"kubectl create secret x --docker-password={creds.password}")')
    assert not course_helpers_in_solution("markdown", "```bash\npython -m ckalab credentials\ncurl -sI URL\n```")


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=rel)
def test_solution_cells_use_only_exam_tools(path):
    """Worked solutions are what a learner can type on an exam terminal (issue 11)."""
    solutions = [c for c in read(path).cells if "solution" in c.metadata.get("tags", [])]
    found = {c.get("id", "?"): helpers for c in solutions
             if (helpers := course_helpers_in_solution(c.cell_type, c.source))}
    assert not found, (f"{rel(path)}: solution cells use course helpers {found}; use kubectl, docker, "
                       "podman, curl against the registry API, crictl or ctr instead")


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=rel)
def test_code_cells_compile_without_warnings(path):
    """An invalid escape such as '\\.' in a printed command warns now and is an error later."""
    import warnings
    for cell in read(path).cells:
        if cell.cell_type == "code" and not cell.source.lstrip().startswith(("%", "!")):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                compile(cell.source, f"{rel(path)} cell {cell.get('id')}", "exec")


def test_no_module_is_a_giant_without_saying_why():
    """About 400 lines at most, unless the module's docstring says which one concept makes it long."""
    import ast
    long = []
    for path in [*sorted(PACKAGE.glob("*.py")), *LAB_FILES]:
        text = path.read_text()
        if text.count("\n") > 420 and "over 400 lines because it holds one concept" not in (
                ast.get_docstring(ast.parse(text)) or ""):
            long.append(f"{rel(path)} ({text.count(chr(10))} lines)")
    assert not long, f"split these, or say in the docstring why one concept needs the length: {long}"


# ---------------------------------------------------------------- tests import helpers, not tests

TESTS = ROOT / "tests"
STATES_FILES = sorted((ROOT / "labs").glob("[0-9]*/states.py"))


def imported_test_modules(source: str) -> list[str]:
    """The test modules (test_*) that `source` imports, at its top or inside a function."""
    import ast
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
    return [name for name in found if name.split(".")[-1].startswith("test_")]


def test_the_import_rule_catches_a_test_module():
    assert imported_test_modules("from test_lab_cycles import lab_env\nimport cycles") == ["test_lab_cycles"]
    assert imported_test_modules("def f():\n    import test_exam\n") == ["test_exam"]
    assert imported_test_modules("from cycles import non_vacuity_cycle\nfrom ckalab import labs") == []


def test_no_test_module_imports_another_test_module():
    """Shared fixtures live in tests/conftest.py and shared helpers in modules that are not test
    files (tests/cycles.py, tests/fake_cluster.py, ...), so no two test modules can import each other."""
    offenders = {rel(path): names for path in [*sorted(TESTS.rglob("*.py")), *STATES_FILES]
                 if (names := imported_test_modules(path.read_text()))}
    assert not offenders, f"import a helper module or a conftest.py fixture instead: {offenders}"


# ---------------------------------------------------------------- names inside a lab's folder

def top_level_names(source: str) -> list[str]:
    import ast
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return names


def numbered_names(source: str, number: str) -> list[str]:
    """Top-level names that carry the lab's number (`_check09`, `NAMES09`, `_lab01_check`, `L09`)."""
    return [name for name in top_level_names(source) if re.search(rf"(?<!\d){number}(?!\d)", name)]


def test_the_name_rule_catches_numbered_names():
    source = "L09 = 'x'\nNAMES09 = {}\ndef _lab01_check(): pass\ndef _check(): pass\nMAX_PULLS = 3\n"
    assert numbered_names(source, "09") == ["L09", "NAMES09"]
    assert numbered_names(source, "01") == ["_lab01_check"]


@pytest.mark.parametrize("path", LAB_FILES, ids=rel)
def test_lab_names_carry_no_lab_number_and_no_banner(path):
    """In its own folder a lab's number is noise: `_check`, `NAMES`, `LAB_ID`, not `_check09`; and the
    `# ==== labNN` banners of the old shared modules stay gone."""
    text = path.read_text()
    assert not numbered_names(text, path.parent.name[:2]), \
        f"{rel(path)}: drop the lab number from {numbered_names(text, path.parent.name[:2])}"
    banners = [i for i, line in enumerate(text.splitlines(), 1) if line.startswith("# ====")]
    assert not banners, f"{rel(path)}: remove the '# ====' banner lines {banners}"


def test_every_lab_names_its_lifecycle_the_same():
    """One scheme for the four lifecycle functions: _setup, _check, _solve, _teardown."""
    from ckalab import labs
    for lab in labs.all_labs():
        names = [fn.__name__ for fn in (lab.setup_fn, lab.check_fn, lab.solve_fn, lab.teardown_fn)]
        assert names == ["_setup", "_check", "_solve", "_teardown"], (lab.id, names)


def test_kubectl_diagnose_and_docker_have_one_meaning_each():
    """`kubectl` raises on a failure (cluster_actions; cluster.kubectl_result returns its Result),
    `diagnose` is the machine's (doctor; a Pod's is diagnose.explain_pod), and `docker()` lives with
    the Docker helpers (docker_checks), not in the lab framework."""
    import ast
    defined: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                defined.setdefault(node.name, []).append(path.stem)
    assert defined["kubectl"] == ["cluster_actions"] and defined["kubectl_result"] == ["cluster"]
    assert defined["diagnose"] == ["doctor"] and defined["explain_pod"] == ["diagnose"]
    assert defined["docker"] == ["docker_checks"]


def test_calls_of_the_shell_helpers_pass_only_keywords_they_take():
    """kubectl (raises), kubectl_result (returns) and docker are called from every lab: a keyword
    one of them no longer takes (check= after the split) fails only on a cluster, so it fails here."""
    import ast
    import inspect
    from ckalab import cluster, cluster_actions, docker_checks
    takes = {name: set(inspect.signature(fn).parameters) for name, fn in
             {"kubectl": cluster_actions.kubectl, "kubectl_result": cluster.kubectl_result,
              "docker": docker_checks.docker}.items()}
    wrong = []
    for path in [*ROOT.glob("ckalab/*.py"), *ROOT.glob("labs/*/*.py"), *ROOT.glob("scripts/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in takes:
                    wrong += [f"{path.relative_to(ROOT)}:{node.lineno} {name}({k.arg}=)" for k in node.keywords
                              if k.arg and k.arg not in takes[name] and "kwargs" not in takes[name]]
    assert not wrong, wrong
