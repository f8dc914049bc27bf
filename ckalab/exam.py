"""The timed mock exam (notebooks/10-mock-exam.ipynb): tasks drawn from the labs, new names each attempt.

    exam = ck.exam.new(seed=None, minutes=20)   # draws the tasks; the seed makes an attempt repeatable
    exam.setup()                                # starting state of every task (Skipped line per level missing)
    exam.start()                                # the countdown and the "working on" selector (ipywidgets)
    exam.task(1)                                # shows task 1 and books the time from now on to it
    result = exam.finish()                      # stops the clock, scores every sub-check, saves the attempt
    exam.cleanup()                              # removes what the exam made (containers, images, namespaces)

The tasks, their names and their checks are in ckalab.exam_tasks: each is a lab under other names,
checked by that lab's own Check. This module is the attempt: the clock, the time booked per task,
the score (a tally of sub-checks), points per skill, and the saved record.

The clock runs in a daemon thread that only updates widgets, so it never blocks a cell
(JupyterLab) and never holds up a papermill run.
"""

from __future__ import annotations

import html
import secrets
import shutil
import threading
import time
from dataclasses import dataclass

from . import progress
from . import settings as settings_module
from .checks import CheckResult
from .errors import CourseError
from .exam_tasks import DOCKER_TASKS, SKILLS, TEMPLATES, Task, draw

SOLVE_SEED = 23              # SOLVE=True (CI): the same exam every run
SOLVE_MINUTES = 1            # ... with a short clock


def _cfg():
    return settings_module.load()


@dataclass
class TaskResult:
    number: int
    key: str
    title: str
    skill: str
    level: str
    result: CheckResult
    seconds: float
    solved: bool
    skipped: bool
    lab: str = ""
    # The sub-checks that already passed right after setup (a lab's guards, such as "deployment
    # exists"); None when the setup did not run here.
    baseline: frozenset | None = None

    @property
    def passed(self) -> set[str]:
        return {s.name for s in self.result.subchecks if s.passed}

    @property
    def untouched(self) -> bool:
        """Nothing that failed at the start passes now: the guards alone earn no points."""
        return self.baseline is not None and not (self.passed - self.baseline)

    @property
    def score(self) -> int:
        return 0 if self.untouched else len(self.passed)

    @property
    def practise(self) -> str:
        """The lab notebook that drills this task's skill (labs/NN-name/NN-name.ipynb for lab id labNN-name)."""
        folder = self.lab.removeprefix("lab")
        return f"labs/{folder}/{folder}.ipynb" if self.lab.startswith("lab") else ""

    @property
    def total(self) -> int:
        return len(self.result.subchecks)

    def record(self) -> dict:
        return {"number": self.number, "key": self.key, "title": self.title, "skill": self.skill,
                "level": self.level, "score": self.score, "total": self.total,
                "seconds": round(self.seconds, 1), "solved": self.solved, "skipped": self.skipped,
                "untouched": self.untouched,
                "subchecks": [{"name": s.name, "passed": s.passed, "reason": s.reason}
                              for s in self.result.subchecks]}


@dataclass(repr=False)
class ExamResult:
    seed: int
    minutes: float
    elapsed: float
    mode: str
    tasks: list[TaskResult]

    @property
    def score(self) -> int:
        return sum(t.score for t in self.tasks)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.tasks)

    @property
    def percent(self) -> float:
        return round(100 * self.score / self.total, 1) if self.total else 0.0

    @property
    def overtime(self) -> bool:
        return self.elapsed > self.minutes * 60

    def skills(self) -> dict[str, dict]:
        """Points per skill: {"Dockerfile": {"score": 4, "total": 6, "tasks": 1}, ...}, in SKILLS order."""
        out: dict[str, dict] = {}
        for skill in SKILLS:
            mine = [t for t in self.tasks if t.skill == skill]
            if mine:
                out[skill] = {"score": sum(t.score for t in mine), "total": sum(t.total for t in mine),
                              "tasks": len(mine), "seconds": round(sum(t.seconds for t in mine), 1)}
        return out

    def record(self) -> dict:
        return {"seed": self.seed, "mode": self.mode, "minutes": self.minutes,
                "elapsed": round(self.elapsed, 1), "overtime": self.overtime,
                "score": self.score, "total": self.total, "percent": self.percent,
                "skills": self.skills(), "tasks": [t.record() for t in self.tasks]}

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        lines = [f"Mock exam (seed {self.seed}): {self.score}/{self.total} points ({self.percent}%) in "
                 f"{_clock(self.elapsed)} of {_clock(self.minutes * 60)}" + (" - over time" if self.overtime else "")]
        for t in self.tasks:
            note = f" ({_note(t)})" if _note(t) else ""
            if t.score < t.total and t.practise:
                note += f" - practise: {t.practise}"
            lines.append(f"  Task {t.number} [{t.skill}] {t.title}: {t.score}/{t.total} in {_clock(t.seconds)}{note}")
        lines.append("By skill: " + ", ".join(f"{k} {v['score']}/{v['total']}" for k, v in self.skills().items()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{t.number}</td><td>{html.escape(t.title)}</td><td>{html.escape(t.skill)}</td>"
            f"<td>{t.score} / {t.total}</td><td>{_clock(t.seconds)}</td>"
            f"<td>{_note(t)}</td></tr>" for t in self.tasks)
        skills = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['score']} / {v['total']}</td>"
                         f"<td>{_bar(v['score'], v['total'])}</td></tr>" for k, v in self.skills().items())
        details = "".join(f"<details><summary>Task {t.number}: sub-checks</summary>{t.result._repr_html_()}</details>"
                          for t in self.tasks)
        over = " <b style='color:#b00'>(over time)</b>" if self.overtime else ""
        tables = (f"<table><tr><th>#</th><th>task</th><th>skill</th><th>points</th><th>time</th><th></th></tr>"
                  f"{rows}</table><h4>By skill</h4><table>{skills}</table>")
        # JupyterLab right-aligns table cells; text columns read better left-aligned.
        tables = tables.replace("<td>", "<td style='text-align:left'>").replace("<th>", "<th style='text-align:left'>")
        return (f"<h3>Score: {self.score} / {self.total} ({self.percent}%)</h3>"
                f"<p>Seed {self.seed}; time used {_clock(self.elapsed)} of {_clock(self.minutes * 60)}{over}.</p>"
                f"{tables}{details}")


def _note(t: TaskResult) -> str:
    if t.skipped:
        return "skipped"
    return "unchanged from the start: no points" if t.untouched and t.passed else ""


def _bar(score: int, total: int) -> str:
    width = int(120 * score / total) if total else 0
    return (f"<div style='width:120px;background:#eee'><div style='width:{width}px;height:10px;"
            f"background:#2a7'></div></div>")


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class Exam:
    """One attempt: the drawn tasks, the clock, the time booked per task, and the score."""

    def __init__(self, seed: int, minutes: float, *, mode: str = "exam", docker_tasks: int = DOCKER_TASKS):
        self.seed, self.minutes, self.mode = seed, minutes, mode
        self.tasks = draw(seed, docker_tasks=docker_tasks)
        self.started: float | None = None
        self.ended: float | None = None
        self.current: int | None = None
        self._since = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.widget = None
        self.result: ExamResult | None = None

    # ------------------------------------------------------------ clock

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def remaining(self) -> float:
        return self.minutes * 60 - self.elapsed()

    def switch(self, number: int | None) -> None:
        """Book the time since the last switch to the current task; then work on `number`."""
        with self._lock:
            now = time.monotonic()
            if self.current is not None and self.started is not None:
                self.tasks[self.current - 1].seconds += now - self._since
            self.current, self._since = number, now
        if self.widget is not None and number is not None and self.widget.selector.value != number:
            self.widget.selector.value = number

    def start(self, *, thread: bool = True) -> "Countdown | None":
        """Start the clock (once) and return the countdown widget (also under papermill)."""
        if self.started is None:
            self.started = time.monotonic()
            self._since = self.started
        try:
            self.widget = self.widget or Countdown(self)
        except ImportError:  # no ipywidgets: the clock still runs, finish() still scores
            return None
        if thread and (self._thread is None or not self._thread.is_alive()):
            self._stop.clear()
            self._thread = threading.Thread(target=self._tick, name="ckalab-exam-clock", daemon=True)
            self._thread.start()
        return self.widget

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.widget.refresh()
            except Exception:  # noqa: BLE001 - a closed frontend must not kill the clock thread loudly
                pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        if self.started is not None and self.ended is None:
            self.switch(None)
            self.ended = time.monotonic()
        if self.widget is not None:
            self.widget.refresh()

    # ------------------------------------------------------------ tasks

    def _get(self, number: int) -> Task:
        if not 1 <= number <= len(self.tasks):
            raise CourseError(f"This exam has tasks 1 to {len(self.tasks)}, not {number}.",
                              f"use exam.task(1) ... exam.task({len(self.tasks)}).")
        return self.tasks[number - 1]

    def task(self, number: int) -> Task:
        """Show task `number` and book the time from now on to it (starts the clock if needed)."""
        task = self._get(number)
        if self.started is None:
            self.start(thread=False)
        self.switch(number)
        return task

    def setup(self) -> None:
        """The starting state of every task; a Skipped line for each level this machine lacks."""
        from .cells import requires
        # Cluster tasks first: the slow ones (rollouts), while the learner reads task 1. Their
        # pushes use the setups' own login (registry.setup_push), so the registry-login task (lab04)
        # stays logged out whatever the order.
        for task in sorted(self.tasks, key=lambda t: t.level != "cluster"):
            if requires(task.level, f"setting up exam task {task.number} ({task.title})"):
                task.setup()
                task.baseline = frozenset(s.name for s in task.check().subchecks if s.passed)
        print(f"The exam is ready: {len(self.tasks)} tasks, {sum(len(t.checks) for t in self.tasks)} points, "
              f"{_clock(self.minutes * 60)} minutes.")

    def solve(self, number: int) -> bool:
        """Apply task `number`'s reference solution (CI, SOLVE=True); False if its level is missing."""
        from .cells import requires
        task = self._get(number)
        if not requires(task.level, f"the reference solution of exam task {number}"):
            return False
        self.task(number)
        task.solve()
        task.solved = True
        return True

    def solve_available(self) -> list[int]:
        """Reference solutions for every task this machine can run; the numbers solved."""
        return [t.number for t in self.tasks if self.solve(t.number)]

    # ------------------------------------------------------------ scoring

    def finish(self, *, record: bool = True) -> ExamResult:
        """Stop the clock, run every task's Check, save the attempt (progress.record_exam)."""
        from .labs import unavailable
        self.stop()
        problems: dict[str, str | None] = {}
        results = []
        for task in self.tasks:
            if task.level not in problems:
                problems[task.level] = unavailable(task.level)
            problem = problems[task.level]
            short = None
            if problem:
                short = "needs a kind cluster (`make cluster`)" if task.level == "cluster" else \
                    "needs Docker (`make doctor`)"
            results.append(TaskResult(task.number, task.key, task.title, task.skill, task.level,
                                      task.check(short), task.seconds, task.solved, bool(problem),
                                      task.template.lab, task.baseline))
        self.result = ExamResult(self.seed, self.minutes, self.elapsed(), self.mode, results)
        if record:
            saved = self.result.record()
            saved["names"] = {str(t.number): t.names for t in self.tasks}
            progress.record_exam(saved)
        return self.result

    def cleanup(self) -> None:
        """Remove what the exam made: containers, local images, work files, its namespaces."""
        self.stop()
        for task in self.tasks:
            task.teardown()
        shutil.rmtree(_cfg().state_dir / "work" / "exam", ignore_errors=True)
        print("Exam cleaned up. Pushed tags stay in the local registries (they do not allow deletes).")

    def __repr__(self) -> str:
        return self._repr_markdown_().replace("**", "").replace("`", "")

    def _repr_markdown_(self) -> str:
        return (f"**Mock exam**, seed `{self.seed}` ({self.mode}): {len(self.tasks)} tasks, "
                f"{sum(len(t.checks) for t in self.tasks)} points, {self.minutes:g} minutes.")


class Countdown:
    """The visible clock: time left, a progress bar, and the task you are working on."""

    def __init__(self, exam: Exam):
        import ipywidgets as w
        self.exam = exam
        self.clock = w.HTML()
        self.bar = w.FloatProgress(min=0, max=1, value=1, layout=w.Layout(width="320px"))
        self.selector = w.ToggleButtons(options=[(f"Task {t.number}", t.number) for t in exam.tasks],
                                        value=exam.current, description="Working on:",
                                        style={"button_width": "70px"})
        self.selector.observe(self._picked, names="value")
        self.widget = w.VBox([w.HBox([self.clock, self.bar]), self.selector])
        self.refresh()

    def _picked(self, change) -> None:
        if change["new"] is not None and change["new"] != self.exam.current:
            self.exam.switch(change["new"])

    def refresh(self) -> None:
        left = self.exam.remaining()
        total = self.exam.minutes * 60
        if self.exam.ended is not None:
            text, colour = f"Finished after {_clock(self.exam.elapsed())}", "#555"
            self.selector.disabled = True
        elif left <= 0:
            text, colour = f"Time is up ({_clock(-left)} over): run the Score cell", "#b00"
        else:
            text, colour = f"{_clock(left)} left", "#b00" if left < 300 else "#000"
        self.clock.value = f"<span style='font-size:1.4em;font-weight:bold;color:{colour}'>{html.escape(text)}</span>"
        self.bar.value = max(0.0, min(1.0, left / total)) if total else 0.0

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def new(seed: int | None = None, minutes: float = 20, *, solve: bool = False) -> Exam:
    """A new attempt. seed None: a random one (printed, so the attempt can be repeated).
    solve=True (CI): the fixed SOLVE_SEED unless a seed is given, and a SOLVE_MINUTES clock."""
    if solve:
        seed = SOLVE_SEED if seed is None else seed
        minutes = min(minutes, SOLVE_MINUTES)
    elif seed is None:
        seed = secrets.randbelow(900_000) + 100_000
    if minutes <= 0:
        raise CourseError(f"DURATION_MINUTES is {minutes}.", "give the exam a positive number of minutes.")
    exam = Exam(int(seed), minutes, mode="solve" if solve else "exam")
    print(f"Seed {exam.seed}: run again with SEED = {exam.seed} to get the same tasks and names.")
    return exam


__all__ = ["SKILLS", "TEMPLATES", "Exam", "ExamResult", "TaskResult", "Task", "Countdown", "draw", "new"]
