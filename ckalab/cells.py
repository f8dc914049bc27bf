"""Live notebook cells: run a command or skip it visibly, and count both.

* `start(notebook)` is the first code cell of every notebook: it runs the doctor,
  points docker/kubectl at the course's own config, and starts the run report.
* `sh("docker build ...")` shows the command, runs it and streams its output,
  or prints one line saying it was skipped and how to get what is missing.
* `requires("cluster")` guards a cell that uses Python instead of a command.

CKALAB_REQUIRE=docker (or cluster) turns those skips into failures, so CI
cannot pass by skipping.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

from . import doctor
from .checks import Notice, show
from . import settings as settings_module
from . import shell
from .errors import CourseError, install_notebook_handler

CLUSTER_COMMANDS = {"kubectl", "kind", "crictl"}
# Words that run the next word as the command: `time docker stop ...` runs docker.
COMMAND_PREFIXES = {"sudo", "time", "nohup", "exec", "command", "env", "!",
                    "if", "then", "else", "elif", "while", "until", "do", "{"}
PODMAN_PROGRAMS = {"podman", "buildah", "skopeo"}
TOOL_PROGRAMS = {"kubectl", "kind", "docker", "curl", "hadolint"} | PODMAN_PROGRAMS
DOCKER_COMMANDS = {"docker"}
# What `start` exports into the kernel and writes to env.sh for a terminal.
COURSE_ENV_KEYS = ("DOCKER_CONFIG", "KUBECONFIG", "DOCKER_HOST", "REGISTRY_AUTH_FILE")
HOW_TO_GET = {
    "docker": "install Docker and run `make doctor`",
    "cluster": "run `make cluster` (needs Docker, kind and kubectl)",
}


class _Run:
    """What the current notebook run knows: its name, level and report file."""

    def __init__(self):
        self.notebook: str | None = None
        self.environment: doctor.Environment | None = None
        self.require: str = "none"

    @property
    def level(self) -> str:
        if self.environment is None:
            self.environment = doctor.diagnose()
        return self.environment.level


_run = _Run()


def required_level(require: str | None = None) -> str:
    value = (require or os.environ.get("CKALAB_REQUIRE") or "none").strip().lower()
    if value not in settings_module.LEVELS:
        raise CourseError(f"CKALAB_REQUIRE is '{value}', which the course does not know.",
                          "use one of: none, docker, cluster.")
    return value


def _rank(level: str) -> int:
    return settings_module.LEVELS.index(level)


def start(notebook: str, require: str | None = None, *, quiet: bool = False,
          registries: bool = True) -> doctor.Environment:
    """First cell of every notebook. Returns the Environment the doctor found."""
    install_notebook_handler()
    _cell_counter.watch()
    cfg = settings_module.load()
    env_vars = shell.course_env(cfg)
    # Inside the kernel, `!docker` and `!kubectl` use the course's config, too.
    for key in COURSE_ENV_KEYS:
        if key in env_vars:
            os.environ[key] = env_vars[key]
    # Paths in every notebook are written relative to the course root.
    os.chdir(cfg.root)
    _run.notebook = notebook
    _run.require = required_level(require)
    report_path(notebook).unlink(missing_ok=True)
    if not cfg.kubeconfig.exists():
        # A new state folder (a fresh clone, a deleted .ckalab/) on a machine whose course
        # cluster exists: kind writes its kubeconfig again.
        from .cluster import export_kubeconfig
        export_kubeconfig(cfg)
    environment = doctor.diagnose(cfg)
    if registries and environment.docker and not all(
            environment.check(n).ok for n in (f"open registry {cfg.open_registry}",
                                              f"private registry {cfg.private_registry}")):
        from . import registry
        registry.up(cfg)
        environment = doctor.diagnose(cfg)
    _run.environment = environment
    if not quiet:
        show(environment)
    if _rank(environment.level) < _rank(_run.require):
        missing = "; ".join(f"{c.name}: {c.fix}" for c in environment.missing()) or "see the table above"
        raise CourseError(f"This run requires level '{_run.require}' (CKALAB_REQUIRE) but this machine "
                          f"is at level '{environment.level}'.", missing)
    write_env_file(env_vars, cfg)
    return environment


def write_env_file(env_vars: dict, cfg) -> Path:
    """.ckalab/env.sh: `source` it in a terminal to use the course's docker/kubectl config."""
    path = cfg.state_dir / "env.sh"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"export {k}={shlex.quote(env_vars[k])}" for k in COURSE_ENV_KEYS if k in env_vars]
    path.write_text("# source this file to use the course's Docker config, kube context and Podman logins\n"
                    + "\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- report

def report_path(notebook: str) -> Path:
    return settings_module.load().reports_dir / f"{notebook}.jsonl"


class _CellCounter:
    """Tells one cell from the next. nbval runs cells with store_history=False, so IPython's
    execution_count stays the same for every cell; a pre_run_cell hook counts them instead."""

    def __init__(self):
        self.count = 0
        self.cell_id: str | None = None

    def __call__(self, info=None) -> None:
        self.count += 1
        self.cell_id = getattr(info, "cell_id", None)   # set by JupyterLab and nbclient

    def watch(self) -> None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell_ = get_ipython()
        if shell_ is not None and self not in shell_.events.callbacks["pre_run_cell"]:
            shell_.events.register("pre_run_cell", self)


_cell_counter = _CellCounter()


def _cell_id() -> int | str | None:
    if _cell_counter.count:
        return _cell_counter.cell_id or _cell_counter.count
    try:
        from IPython import get_ipython
        shell_ = get_ipython()
        return shell_.execution_count if shell_ is not None else None
    except ImportError:
        return None


def _record(status: str, level: str, what: str) -> None:
    if not _run.notebook:
        return
    path = report_path(_run.notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"cell": _cell_id(), "status": status, "level": level, "what": what[:120], "time": time.time()}
    with path.open("a") as fh:
        fh.write(json.dumps(entry) + "\n")


def read_report(notebook: str, reports_dir: Path | None = None) -> dict:
    """Per-level counts of cells executed and skipped in the notebook's last run."""
    path = (reports_dir / f"{notebook}.jsonl") if reports_dir else report_path(notebook)
    cells: dict[tuple, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            key = (entry["cell"], entry["level"])
            # A cell that ran anything counts as executed.
            if cells.get(key) != "executed":
                cells[key] = entry["status"]
    counts: dict = {}
    for (cell, level), status in cells.items():
        counts.setdefault(level, {"executed": 0, "skipped": 0})[status] += 1
    return counts


def report_lines(reports_dir: Path) -> list[str]:
    """The run report of `reports_dir` as text: lessons, then labs (lab ids start with "lab"),
    live cells executed/skipped per level, and the totals."""
    names = sorted((p.stem for p in reports_dir.glob("*.jsonl")), key=lambda n: (n.startswith("lab"), n))
    levels = ("docker", "cluster", "podman", "emulation")
    lines = [f"{'notebook':40}" + "".join(f"{level + ' run/skip':>20}" for level in levels)]
    totals = {level: [0, 0] for level in levels}
    for name in names:
        counts = read_report(name, reports_dir)
        row = []
        for level in levels:
            c = counts.get(level, {"executed": 0, "skipped": 0})
            totals[level][0] += c["executed"]
            totals[level][1] += c["skipped"]
            row.append(f"{c['executed']}/{c['skipped']}")
        lines.append(f"{name:40}" + "".join(f"{r:>20}" for r in row))
    lines.append(f"{'TOTAL':40}" + "".join(f"{'/'.join(map(str, totals[level])):>20}" for level in levels))
    return lines


def cycle_report_lines(reports_dir: Path) -> list[str]:
    """make test's lab cycles (tests/conftest.py writes them): one line each, then the totals."""
    entries = [json.loads(line) for path in sorted(reports_dir.glob("*.jsonl"))
               for line in path.read_text().splitlines() if line.strip()]
    entries.sort(key=lambda e: (e["cycle"].startswith("exam:"), e["cycle"]))
    lines = [f"{'cycle':46}{'outcome':>10}{'seconds':>9}"]
    lines += [f"{e['cycle']:46}{e['outcome']:>10}{e['seconds']:>9}" for e in entries]
    passed = sum(e["outcome"] == "passed" for e in entries)
    lines.append(f"{'TOTAL':46}{f'{passed}/{len(entries)} passed':>19}")
    return lines


# ---------------------------------------------------------------- guards

def programs_of(command: str) -> list[str]:
    """The programs a shell command line runs: the word in command position of each
    pipeline part, after `VAR=value` assignments and prefixes like `sudo` or `time`.
    Quotes are respected."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: fall back to plain words
        tokens = command.split()
    programs, at_start = [], True
    for token in tokens:
        if token and set(token) <= set("|&;()<>"):
            at_start = True
            continue
        if at_start:
            if re.fullmatch(r"\w+=.*", token) or token in COMMAND_PREFIXES:
                continue
            programs.append(Path(token).name)
            at_start = False
    return programs


def needs_of(command: str) -> str:
    """The level a shell command needs, from the programs it calls."""
    programs = set(programs_of(command))
    # `docker exec cka-images-control-plane crictl ...` runs on a kind node: that needs the cluster.
    tokens = set(command.split())
    if "crictl" in tokens or any(t.endswith(("-control-plane", "-worker")) for t in tokens):
        return "cluster"
    if programs & CLUSTER_COMMANDS:
        return "cluster"
    if programs & DOCKER_COMMANDS:
        return "docker"
    return "none"


def missing_programs(command: str) -> list[str]:
    """Course tools a command calls that are not installed (e.g. kubectl on Binder)."""
    return sorted({p for p in programs_of(command) if p in TOOL_PROGRAMS and not shell.which(p)})


def requires(level: str, what: str = "this cell") -> bool:
    """True if the machine has `level`; otherwise print why the cell is skipped and return False."""
    if level == "none":
        return True
    if _rank(_run.level) >= _rank(level):
        _record("executed", level, what)
        return True
    if _rank(_run.require or "none") >= _rank(level):
        raise CourseError(f"{what} needs {level}, which is not available, and this run requires "
                          f"'{_run.require}' (CKALAB_REQUIRE).", HOW_TO_GET[level] + ".")
    _record("skipped", level, what)
    show(Notice(f"{what} needs {'a kind cluster' if level == 'cluster' else 'Docker'}, "
                f"which this machine does not have. To run it, {HOW_TO_GET[level]}."))
    return False


def permitted(allowed: bool, column: str, what: str, how: str,
              why: str = "it changes this machine, and you have not allowed it") -> bool:
    """Guard for a cell that changes this machine beyond the course's own things (the kernel's
    binfmt_misc, say): it runs only when `allowed` (the learner said so in the notebook's
    parameters cell, and the machine can). Otherwise it prints a Skipped line with `why` and `how`
    to get it, counted under `column` in the run report; a run that requires a level
    (CKALAB_REQUIRE) fails instead of skipping."""
    if allowed:
        _record("executed", column, what)
        return True
    how = how.rstrip(". ")
    if _rank(_run.require or "none") > 0:
        raise CourseError(f"{what} was skipped ({why}), and this run requires '{_run.require}' (CKALAB_REQUIRE).",
                          how + ".")
    _record("skipped", column, what)
    show(Notice(f"{what}, because {why}. To run it, {how}."))
    return False


def sh(command: str, *, needs: str | None = None, expect: str = "success",
       timeout: float = 600, echo: bool = True, cwd: str | Path | None = None) -> shell.Result | None:
    """Show and run a shell command as a learner would type it.

    `expect="failure"` is for commands the lesson shows failing: the cell fails
    if such a command unexpectedly succeeds. `expect="either"` is for commands whose outcome
    depends on the machine (the lesson explains both). Returns None when skipped.
    """
    if expect not in ("success", "failure", "either"):
        raise ValueError(f"expect must be success, failure or either, not {expect!r}")
    level = needs or needs_of(command)
    label = command.splitlines()[0]
    if not requires(level, f"`{label}`"):
        return None
    missing = missing_programs(command)
    # Podman, Buildah and skopeo cells get a column of their own in the run report.
    tool_level = "podman" if set(programs_of(command)) & PODMAN_PROGRAMS else "tools"
    if missing:
        if _rank(_run.require or "none") > 0:
            raise CourseError(f"`{label}` needs {', '.join(missing)}, which is not installed, and this run "
                              f"requires '{_run.require}' (CKALAB_REQUIRE).", "install it and run `make doctor`.")
        _record("skipped", tool_level, label)
        show(Notice(f"`{label}` needs {', '.join(missing)}, which is not installed here. "
                    "To run it, install it (see the README) and run `make doctor`."))
        return None
    if tool_level == "podman":
        _record("executed", tool_level, label)
    if level == "cluster":
        from .cluster import guard
        guard()
    if echo:
        print(f"$ {command}", flush=True)
    root = settings_module.load().root
    result = shell.run(command, env=shell.course_env(), timeout=timeout, cwd=cwd or root,
                       stream=lambda line: (sys.stdout.write(line), sys.stdout.flush()))
    if expect == "success" and not result.ok:
        raise CourseError(f"`{label}` exited with status {result.returncode}; its output is above.",
                          "read the last lines of that output; `make doctor` checks the environment.")
    if expect == "failure" and result.ok:
        raise CourseError(f"`{label}` was expected to fail here, but it succeeded.",
                          "something in your environment differs from the lesson: run `make doctor`.")
    return result
