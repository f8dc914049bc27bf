"""Labs: a task, a starting state, a Check that reads the REAL state, and stepped hints.

One lab is one folder, `labs/NN-short-name/`:

    labs/01-fix-dockerfile/
        01-fix-dockerfile.ipynb   the task, hints and Check panel the learner works in
        lab.py                    setup, Check, reference solution, known-wrong attempts, teardown
        files/                    what the lab builds and applies (broken ones carry `.broken`)

Labs are discovered: every `labs/*/lab.py` is imported on first use (`get`, `all_labs`), and
the folder's name is the lab's id without its `lab` prefix (lab01-fix-dockerfile lives in
labs/01-fix-dockerfile/). Using a lab in its notebook:

    lab = ck.labs.get("lab01-fix-dockerfile")
    lab.setup()       # the starting state (often broken); prints one "Skipped" line without Docker/cluster
    lab.panel()       # Check button (shows every sub-check, records progress) + Hint button (1 -> 2 -> 3)
    lab.check()       # CheckResult (ckalab.checks): named sub-checks, each passed/failed with a reason
    lab.solve()       # the reference solution (tests and CI only)
    lab.teardown()    # removes what the lab (and the learner) made for it; lab.reset() = teardown + setup

Defining a lab: its lab.py calls `register` (shared helpers: ckalab.docker_checks,
ckalab.cluster_checks for reading the cluster, ckalab.cluster_actions for changing it):

    from ckalab.labs import Lab, WrongAttempt, register

    def _setup(lab): ...        # idempotent; never overwrites files the learner already edited
    def _check(lab, r): ...     # r.add("builds", ok, "reason") for each name in `checks`; read-only
    def _solve(lab): ...
    def _teardown(lab): ...     # containers, images, repos, files in lab.work_dir

    register(Lab(
        id="lab01-fix-dockerfile", title="Fix a broken Dockerfile", level="docker",
        checks=["builds", "exec-form CMD", ...],     # sub-check names, in the order shown
        first_failure="exec-form CMD",               # fails right after setup (tests assert it)
        hints=["...", "...", "..."],                 # exactly 3, from a nudge to nearly the answer;
                                                     # {cluster}, {node}, {context}: the course's own
        setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
        wrong_attempts=[WrongAttempt("keeps ADD", _keeps_add, fails="no ADD for local files")],
        check_note="",      # say so when the Check builds or waits: shown while it runs
        names={"image": "lab01/ledger-api:check", ...},   # what a variant may rename (see below)
        disrupts=None,      # "node" (restarts the kubelet) or "control-plane" (restarts the API server):
                            # what other labs on the cluster would feel, so tests run its cycle alone
    ))

Every lab.py ends in this same `register(Lab(...))` shape: it is the declaration, repeated on purpose.

Names: a lab reads every name a learner could be asked to use (namespace, Deployment, container,
repository, tag, container name, host port) from `lab.names`, never from a constant. The notebook
uses the defaults; `lab.variant(names, work_dir=...)` is the same lab under other names, which is
how the mock exam (ckalab.exam) draws its tasks: with the lab's own setup, Check and solution.

What the framework guarantees, so lab modules need not repeat it:

* `check()` never raises: the level is probed first (Docker engine / the course's cluster), and
  if it is missing the result is one failed sub-check naming the fix; a CourseError or any
  other exception inside `check_fn` becomes a failed sub-check "checker"; every name in
  `checks` that `check_fn` did not add is reported failed as "not checked: an earlier check failed".
  That guard is `guarded_check`, which the mock exam's tasks run too (ckalab.exam_tasks).
* `lab.say("building ...")` inside `check_fn` shows progress (panel status line, or print).
* Paths: `lab.work_dir` (.ckalab/work/labNN/, learner-writable), `lab.files`
  (labs/NN-name/files/, the lab's own files; broken ones carry `.broken`), `lab.place(src, dest)`
  copies a workload file into work_dir unless the learner already has it.
* Helpers for check_fn/setup_fn: `ckalab.docker_checks.docker(*args)` runs docker with the course's config.
* Progress (ckalab.progress.record_lab): every `check()` records passed/failed sub-checks
  (`check(record=False)` does not); `hint(step)` records how many hints were seen.
* `panel()` returns a LabPanel (ipywidgets: check_button, hint_button, status, result,
  hints_shown); tests click the buttons headlessly. It shows no part of the solution.
* Tests (tests/test_lab_cycles.py) run, for every lab: setup -> Check fails on `first_failure`
  -> each wrong attempt (from a fresh setup) fails on its `fails` -> solve -> Check passes.

It is over 400 lines because it holds one concept, the lab framework: the Lab type, its panel,
the level probes, and discovery.
"""

from __future__ import annotations

import dataclasses
import html
import importlib.util
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import progress
from . import settings as settings_module
from . import shell
from .checks import READABLE, CheckResult, inline_code
from .errors import CourseError

LAB_FILE = "lab.py"
LEVELS = ("docker", "cluster")
DISRUPTS = (None, "node", "control-plane")
NEEDS = {"docker": "Docker", "cluster": "a kind cluster"}

_REGISTRY: dict[str, "Lab"] = {}
_loaded = False


@dataclass
class WrongAttempt:
    """A known-wrong answer: `apply(lab)` turns the setup state into it; Check must fail on `fails`."""
    name: str
    apply: Callable[["Lab"], None]
    fails: str
    # False when the attempt only overwrites what any earlier attempt wrote (an answer file), so
    # tests may apply it without a reset in between.
    needs_reset: bool = True

    def __call__(self, lab: "Lab") -> None:
        self.apply(lab)


@dataclass
class Lab:
    id: str
    title: str
    level: str
    checks: list[str]
    first_failure: str
    hints: list[str]
    setup_fn: Callable[["Lab"], None]
    check_fn: Callable[["Lab", CheckResult], None]
    solve_fn: Callable[["Lab"], None]
    teardown_fn: Callable[["Lab"], None]
    wrong_attempts: list[WrongAttempt] = field(default_factory=list)
    check_note: str = ""
    names: dict = field(default_factory=dict)
    disrupts: str | None = None
    _work_dir: Path | None = field(default=None, repr=False)
    _folder: Path | None = field(default=None, repr=False)
    _defaults: dict | None = field(default=None, repr=False)
    _say: Callable[[str], None] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"{self.id}: level must be one of {LEVELS}, not {self.level!r}")
        if self.disrupts not in DISRUPTS:
            raise ValueError(f"{self.id}: disrupts must be one of {DISRUPTS}, not {self.disrupts!r}")
        if len(self.hints) != 3:
            raise ValueError(f"{self.id}: a lab has exactly 3 stepped hints, not {len(self.hints)}")
        names = set(self.checks)
        if len(names) != len(self.checks):
            raise ValueError(f"{self.id}: sub-check names must be unique")
        for name in [self.first_failure, *(w.fails for w in self.wrong_attempts)]:
            if name not in names:
                raise ValueError(f"{self.id}: {name!r} is not one of its checks {self.checks}")

    # ------------------------------------------------------------ paths

    @property
    def number(self) -> str:
        return self.id.split("-", 1)[0]          # "lab03"

    @property
    def work_dir(self) -> Path:
        return self._work_dir or settings_module.load().state_dir / "work" / self.number

    def variant(self, names: dict, *, work_dir: Path) -> "Lab":
        """This lab under other names (only names it has), working in `work_dir`; not registered."""
        unknown = sorted(set(names) - set(self.names))
        if unknown:
            raise ValueError(f"{self.id} has no names {unknown}; it has {sorted(self.names)}")
        return dataclasses.replace(self, names={**self.names, **names}, _work_dir=work_dir,
                                   _defaults=self.defaults)

    @property
    def defaults(self) -> dict:
        """The names the notebook shows (a variant's names replace some of them)."""
        return self._defaults if self._defaults is not None else self.names

    @property
    def folder(self) -> Path:
        """labs/NN-name/: where this lab's notebook, lab.py and files/ are."""
        return self._folder or labs_root() / self.id.removeprefix("lab")

    @property
    def files(self) -> Path:
        return self.folder / "files"

    def shown(self, path: Path) -> str:
        """A path as a learner types it in the course folder (absolute when it is elsewhere)."""
        try:
            return str(path.relative_to(settings_module.load().root))
        except ValueError:
            return str(path)

    def place(self, src: str, dest: str | None = None, *, overwrite: bool = False) -> Path:
        """Copy labs/NN-name/files/<src> to work_dir/<dest> (default: src without `.broken`).

        Keeps a file the learner already has unless `overwrite`."""
        target = self.work_dir / (dest or src.replace(".broken", ""))
        if overwrite or not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.files / src, target)
        return target

    def remove_work(self) -> None:
        if self.work_dir.exists():
            shutil.rmtree(self.work_dir)

    # ------------------------------------------------------------ lifecycle

    def _available(self, what: str) -> bool:
        from .cells import requires
        return requires(self.level, what)

    def setup(self, *, announce: bool = True) -> None:
        """Create the starting state. Without the level it needs, prints one Skipped line.
        announce=False leaves out the "<id> is ready" line: a mock-exam task never names its lab."""
        if not self._available(f"setting up {self.id}"):
            return
        self.setup_fn(self)
        if announce:
            print(f"{self.id} is ready: {self.title}.")

    def solve(self) -> None:
        """The reference solution (what tests and CI run with SOLVE=True)."""
        if self._available(f"the reference solution of {self.id}"):
            self.solve_fn(self)

    def teardown(self, *, announce: bool = True) -> None:
        """Remove what the lab made, including the learner's files in work_dir."""
        problem = unavailable(self.level)
        if problem is None:
            self.teardown_fn(self)
        self.remove_work()
        if announce:
            print(f"{self.id}: cleaned up" + (f" (only its files: {problem})" if problem else "") + ".")

    def reset(self, *, announce: bool = True) -> None:
        """Start over: teardown, then setup."""
        self.teardown(announce=announce)
        self.setup(announce=announce)

    # ------------------------------------------------------------ check

    def say(self, message: str) -> None:
        """Progress from inside a check (a build, a wait): panel status line or a printed line."""
        if self._say:
            self._say(message)
        else:
            print(message, flush=True)

    def check(self, *, record: bool = True) -> CheckResult:
        """Run every sub-check against the real state. Never raises; records progress."""
        result = guarded_check(self, self.id, unavailable(self.level))
        if record:
            try:
                progress.record_lab(self.id, passed=result.passed,
                                    failed_checks=[s.name for s in result.failed()])
            except OSError:
                pass
        return result

    # ------------------------------------------------------------ hints and panel

    @property
    def shown_hints(self) -> list[str]:
        """The hints as the learner reads them: `{cluster}`, `{node}` and `{context}` name the
        course's own cluster (CKALAB_CLUSTER), its node and its kube context."""
        return [with_course_names(h) for h in self.hints]

    def hint(self, step: int) -> str:
        """Hint `step` (1-3) and record that the learner has seen that many."""
        step = max(1, min(step, len(self.hints)))
        try:
            progress.record_lab(self.id, hints_used=step)
        except OSError:
            pass
        return self.shown_hints[step - 1]

    def panel(self) -> "LabPanel | None":
        """Check + Hint buttons for the notebook; one Skipped line without Docker/cluster."""
        if not self._available(f"the Check panel of {self.id}"):
            return None
        return LabPanel(self)


class LabPanel:
    """The widgets: `check_button`, `hint_button`, `status`, `result`, `hints_shown` (ipywidgets)."""

    def __init__(self, lab: Lab):
        import ipywidgets as w
        self.lab = lab
        self.hints_used = 0
        self.last_result: CheckResult | None = None
        self.check_button = w.Button(description="Check", button_style="primary", icon="check")
        self.hint_button = w.Button(description=f"Hint 1 of {len(lab.hints)}", icon="lightbulb-o")
        self.status = w.HTML("")
        self.result = w.HTML("")
        self.hints_shown = w.HTML("")
        # Classes a browser test (or a stylesheet) can find; they change nothing on the page.
        self.status.add_class("ckalab-check-status")
        self.result.add_class("ckalab-check-result")
        self.check_button.on_click(lambda _b: self.run_check())
        self.hint_button.on_click(lambda _b: self.next_hint())
        self.widget = w.VBox([w.HTML(f"<b>{html.escape(lab.id)}</b>: {html.escape(lab.title)}"),
                              w.HBox([self.check_button, self.hint_button]),
                              self.status, self.result, self.hints_shown])

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)

    def _set_status(self, message: str) -> None:
        self.status.value = f"<i>{html.escape(message)}</i>"

    def run_check(self) -> CheckResult:
        self.check_button.disabled = True
        self._set_status(self.lab.check_note or "Checking ...")
        self.lab._say = self._set_status
        started = time.monotonic()
        try:
            result = self.lab.check()
        finally:
            self.lab._say = None
            self.check_button.disabled = False
        self.last_result = result
        # The clock time shows that a second press, with the same outcome, really checked again.
        self._set_status(f"Checked at {time.strftime('%H:%M:%S')} in {time.monotonic() - started:.1f} s.")
        self.result.value = result._repr_html_()
        return result

    def next_hint(self) -> str | None:
        if self.hints_used >= len(self.lab.hints):
            return None
        self.hints_used += 1
        text = self.lab.hint(self.hints_used)
        shown = "".join(f"<p style='{READABLE}'><b>Hint {i + 1}:</b> {inline_code(h)}</p>"
                        for i, h in enumerate(self.lab.shown_hints[:self.hints_used]))
        self.hints_shown.value = shown
        if self.hints_used >= len(self.lab.hints):
            self.hint_button.description = "No more hints"
            self.hint_button.disabled = True
        else:
            self.hint_button.description = f"Hint {self.hints_used + 1} of {len(self.lab.hints)}"
        return text


# ---------------------------------------------------------------- the course's names in hints

def with_course_names(text: str) -> str:
    """`text` with `{cluster}`, `{node}` and `{context}` replaced by the course's cluster name
    (CKALAB_CLUSTER, default cka-images), its node (<cluster>-control-plane) and its kube context
    (kind-<cluster>). Plain replacement: other braces in a hint (a Go template) stay as written."""
    cfg = settings_module.load()
    for placeholder, value in (("{cluster}", cfg.cluster_name), ("{node}", f"{cfg.cluster_name}-control-plane"),
                               ("{context}", cfg.kube_context)):
        text = text.replace(placeholder, value)
    return text


# ---------------------------------------------------------------- the guard of every Check

NOT_CHECKED = "not checked: an earlier check failed"
CHECKER = "checker"     # the sub-check a check that could not finish reports


def needs(level: str) -> str:
    """The one sub-check a Check reports when its level is missing."""
    return f"needs {NEEDS[level]}"


def guarded_check(lab: Lab, title: str, problem: str | None) -> CheckResult:
    """`lab.check_fn` behind the one guard that a lab's Check and an exam task's share.

    `problem` (the level is missing, from `unavailable`): nothing is read, and the result is one
    failed sub-check naming the fix. A CourseError inside the check (the kubeconfig's context is
    not the course's, the API server does not answer, ...) or a checker bug becomes a failed
    sub-check "checker" instead of an exception; every declared sub-check it did not reach is
    reported failed."""
    result = CheckResult(title)
    if problem:
        result.add(needs(lab.level), False, problem)
        return result
    try:
        lab.check_fn(lab, result)
    except CourseError as exc:
        result.add(CHECKER, False, exc.message)
    except Exception as exc:  # a checker bug must still not blow up at the learner
        result.add(CHECKER, False, f"the check could not finish ({type(exc).__name__}: {exc}); "
                                   "run lab.reset() and try again")
    done = {s.name for s in result.subchecks}
    for name in lab.checks:
        if name not in done:
            result.add(name, False, NOT_CHECKED)
    return result


# ---------------------------------------------------------------- level probes

def unavailable(level: str) -> str | None:
    """Why `level` cannot be used right now (one line), or None. Fast: a few seconds at most."""
    from .doctor import docker_client
    try:
        docker_client(timeout=3)
    except CourseError as exc:
        return exc.message
    if level != "cluster":
        return None
    from .cluster import context_problem
    problem = context_problem()
    if problem:
        return problem.message
    cfg = settings_module.load()
    ready = shell.run(["kubectl", "--context", cfg.kube_context, "get", "--raw", "/readyz",
                       "--request-timeout=2s"], env=shell.course_env(cfg), timeout=5)
    if not ready.ok:
        return (f"the course's cluster {cfg.cluster_name} does not answer "
                f"({(ready.output.strip().splitlines() or ['?'])[-1][:100]}). Fix: run `make cluster`.")
    return None


# ---------------------------------------------------------------- registry of labs

def register(lab: Lab) -> Lab:
    """Add a lab to the registry (called when its lab.py is imported)."""
    existing = _REGISTRY.get(lab.id)
    if existing is not None and existing.check_fn.__module__ != lab.check_fn.__module__:
        raise ValueError(f"lab id {lab.id} is registered twice "
                         f"({existing.check_fn.__module__} and {lab.check_fn.__module__})")
    defined_in = getattr(sys.modules.get(lab.check_fn.__module__), "__file__", None)
    if defined_in and Path(defined_in).name == LAB_FILE:
        folder = Path(defined_in).resolve().parent
        if folder.name != lab.id.removeprefix("lab"):
            raise ValueError(f"{folder / LAB_FILE} registers {lab.id}, but a lab's folder is named after its "
                             f"id without 'lab': rename the folder to labs/{lab.id.removeprefix('lab')}/")
        lab._folder = folder
    _REGISTRY[lab.id] = lab
    return lab


def labs_root() -> Path:
    """labs/ of the checkout this package runs from (else of the course root): the labs are code
    of this version of the course, not state, so a test's throwaway course root does not move them."""
    here = Path(__file__).resolve().parent.parent / "labs"
    return here if here.is_dir() else settings_module.load().root / "labs"


def module_name(folder: Path) -> str:
    return "ckalab_lab_" + folder.name.split("-", 1)[0]     # ckalab_lab_01


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for path in sorted(labs_root().glob(f"[0-9]*/{LAB_FILE}")):
        name = module_name(path.parent)
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        try:
            spec.loader.exec_module(loaded)     # a broken lab.py raises: it must not hide
        except BaseException:
            del sys.modules[name]
            raise
    _loaded = True


def module(lab_id: str):
    """The lab.py module that defines `lab_id` (tests read its constants and helpers)."""
    return sys.modules[get(lab_id).check_fn.__module__]


def all_labs() -> list[Lab]:
    """Every registered lab, in id order (lab01, lab02, ...)."""
    _load()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get(lab_id: str) -> Lab:
    _load()
    try:
        return _REGISTRY[lab_id]
    except KeyError:
        raise CourseError(f"There is no lab called '{lab_id}'.",
                          "use one of: " + ", ".join(sorted(_REGISTRY)) + ".") from None


__all__ = ["Lab", "LabPanel", "WrongAttempt", "register", "get", "all_labs", "module", "labs_root", "unavailable",
           "guarded_check"]
