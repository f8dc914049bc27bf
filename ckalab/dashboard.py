"""The progress dashboard (notebooks/11-progress-dashboard.ipynb): quizzes, labs, hints, exam attempts.

    board = ck.dashboard.load()          # the progress file (CKALAB_PROGRESS, else .ckalab/progress.json)
    board                                # tables (HTML in a notebook, text elsewhere)
    board.plot()                         # matplotlib: quiz best scores, labs and hints, exam scores over time
    board.export()                       # build/progress/progress.json + quizzes.csv, labs.csv, exams.csv, exam_skills.csv

`load(path)` reads any progress file; `read_export(folder)` reads an export back, so the export
round-trips. The dashboard only reads: ckalab.progress writes the file.
"""

from __future__ import annotations

import csv
import html
import json
import time
from dataclasses import dataclass
from pathlib import Path

from . import progress
from . import settings as settings_module
from .errors import CourseError

EXPORT_DIR = Path("build") / "progress"
EXPORT_VERSION = 1

# Column order (and types) of each CSV export.
COLUMNS = {
    "quizzes": {"quiz": str, "best": int, "total": int, "last": int, "attempts": int, "percent": float},
    "labs": {"lab": str, "passed": bool, "checks": int, "hints_used": int, "passed_at": str},
    "exams": {"attempt": int, "date": str, "seed": int, "mode": str, "score": int, "total": int,
              "percent": float, "minutes": float, "elapsed": float, "overtime": bool},
    "exam_skills": {"attempt": int, "skill": str, "score": int, "total": int},
    "exam_tasks": {"attempt": int, "task": int, "title": str, "skill": str, "level": str, "score": int,
                   "total": int, "seconds": float, "skipped": bool},
}


def _date(timestamp) -> str:
    if timestamp in (None, ""):
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(timestamp)))


def _percent(score, total) -> float:
    return round(100.0 * score / total, 1) if total else 0.0


def tables(data: dict) -> dict[str, list[dict]]:
    """The progress data as flat rows, one list per CSV file (see COLUMNS)."""
    quizzes = []
    for quiz, entry in sorted((data.get("quizzes") or {}).items()):
        attempts = entry.get("attempts") or []
        total = int(entry.get("total") or (attempts[-1].get("total", 0) if attempts else 0))
        best = int(entry.get("best", max((a.get("score", 0) for a in attempts), default=0)))
        quizzes.append({"quiz": quiz, "best": best, "total": total,
                        "last": int(attempts[-1].get("score", 0)) if attempts else 0,
                        "attempts": len(attempts), "percent": _percent(best, total)})
    labs = [{"lab": lab, "passed": bool(entry.get("passed")), "checks": int(entry.get("checks", 0)),
             "hints_used": int(entry.get("hints_used", 0)), "passed_at": _date(entry.get("passed_at"))}
            for lab, entry in sorted((data.get("labs") or {}).items())]
    exams, skills, tasks = [], [], []
    for number, attempt in enumerate(sorted(data.get("exams") or [], key=lambda a: a.get("time", 0)), 1):
        score, total = int(attempt.get("score", 0)), int(attempt.get("total", 0))
        exams.append({"attempt": number, "date": _date(attempt.get("time")), "seed": int(attempt.get("seed", 0)),
                      "mode": attempt.get("mode", "exam"), "score": score, "total": total,
                      "percent": float(attempt.get("percent", _percent(score, total))),
                      "minutes": float(attempt.get("minutes", 0)), "elapsed": float(attempt.get("elapsed", 0)),
                      "overtime": bool(attempt.get("overtime", False))})
        for skill, points in (attempt.get("skills") or {}).items():
            skills.append({"attempt": number, "skill": skill, "score": int(points.get("score", 0)),
                           "total": int(points.get("total", 0))})
        for task in attempt.get("tasks") or []:
            tasks.append({"attempt": number, "task": int(task.get("number", 0)), "title": task.get("title", ""),
                          "skill": task.get("skill", ""), "level": task.get("level", ""),
                          "score": int(task.get("score", 0)), "total": int(task.get("total", 0)),
                          "seconds": float(task.get("seconds", 0)), "skipped": bool(task.get("skipped", False))})
    return {"quizzes": quizzes, "labs": labs, "exams": exams, "exam_skills": skills, "exam_tasks": tasks}


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        data = {}
    except ValueError:
        raise CourseError(f"The progress file {path} is not valid JSON.",
                          "point CKALAB_PROGRESS at a progress file written by the course, or move "
                          "the broken file away to start a new one.") from None
    for key, value in progress.EMPTY.items():
        data.setdefault(key, json.loads(json.dumps(value)))
    return data


@dataclass(repr=False)
class Dashboard:
    source: Path
    data: dict

    @property
    def rows(self) -> dict[str, list[dict]]:
        return tables(self.data)

    def totals(self) -> dict:
        rows = self.rows
        return {"quizzes_taken": sum(1 for q in rows["quizzes"] if q["attempts"]),
                "quiz_points": sum(q["best"] for q in rows["quizzes"]),
                "quiz_total": sum(q["total"] for q in rows["quizzes"] if q["attempts"]),
                "labs_passed": sum(1 for l in rows["labs"] if l["passed"]),
                "labs_tried": len(rows["labs"]),
                "hints_used": sum(l["hints_used"] for l in rows["labs"]),
                "exam_attempts": len(rows["exams"]),
                "best_exam_percent": max((e["percent"] for e in rows["exams"]), default=0.0)}

    # ------------------------------------------------------------ text and HTML

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        t, rows = self.totals(), self.rows
        lines = [f"Progress from {self.source}",
                 f"Quizzes: {t['quizzes_taken']} taken, best scores {t['quiz_points']}/{t['quiz_total']}",
                 *(f"  {q['quiz']:32} {q['best']}/{q['total']} ({q['attempts']} attempt(s))" for q in rows["quizzes"]),
                 f"Labs: {t['labs_passed']} of {t['labs_tried']} passed, {t['hints_used']} hint(s) used",
                 *(f"  {l['lab']:32} {'passed' if l['passed'] else 'not yet'}, {l['checks']} check(s), "
                   f"{l['hints_used']} hint(s)" for l in rows["labs"]),
                 f"Exam attempts: {t['exam_attempts']}",
                 *(f"  #{e['attempt']} {e['date']} seed {e['seed']}: {e['score']}/{e['total']} ({e['percent']}%)"
                   for e in rows["exams"])]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        t, rows = self.totals(), self.rows

        def table(head, body):
            cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in body)
            return ("<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + f"</tr>{cells}</table>"
                    if body else "<p><i>nothing yet</i></p>")

        return (f"<p>Progress file: <code>{html.escape(str(self.source))}</code></p>"
                f"<h4>Quizzes: {t['quizzes_taken']} taken, best scores {t['quiz_points']} / {t['quiz_total']}</h4>"
                + table(["quiz", "best", "last", "attempts"],
                        [(q["quiz"], f"{q['best']} / {q['total']}", f"{q['last']} / {q['total']}", q["attempts"])
                         for q in rows["quizzes"]])
                + f"<h4>Labs: {t['labs_passed']} of {t['labs_tried']} passed, {t['hints_used']} hints used</h4>"
                + table(["lab", "passed", "checks", "hints used", "passed at"],
                        [(l["lab"], "yes" if l["passed"] else "not yet", l["checks"], l["hints_used"], l["passed_at"])
                         for l in rows["labs"]])
                + f"<h4>Mock exam: {t['exam_attempts']} attempt(s)</h4>"
                + table(["#", "date", "seed", "points", "%", "time used"],
                        [(e["attempt"], e["date"], e["seed"], f"{e['score']} / {e['total']}", e["percent"],
                          f"{e['elapsed'] / 60:.1f} of {e['minutes']:g} min") for e in rows["exams"]]))

    # ------------------------------------------------------------ plot

    def plot(self):
        """Three panels: quiz best %, labs (passed, hints used), exam % per attempt. Returns the Figure."""
        import matplotlib.pyplot as plt

        rows = self.rows
        fig, (ax_q, ax_l, ax_e) = plt.subplots(1, 3, figsize=(13, 3.8))
        quizzes = rows["quizzes"]
        ax_q.barh([q["quiz"] for q in quizzes], [q["percent"] for q in quizzes], color="#2a7")
        ax_q.set_xlim(0, 100)
        ax_q.set_xlabel("best score (%)")
        ax_q.set_title("Quizzes")
        labs = rows["labs"]
        ax_l.bar([l["lab"].split("-")[0] for l in labs], [1 if l["passed"] else 0 for l in labs],
                 color=["#2a7" if l["passed"] else "#ccc" for l in labs], label="passed")
        ax_l.plot([l["lab"].split("-")[0] for l in labs], [l["hints_used"] for l in labs], "o",
                  color="#d80", label="hints used")
        ax_l.set_ylim(0, 3.5)
        ax_l.set_title("Labs (bar: passed; dots: hints)")
        ax_l.tick_params(axis="x", rotation=60)
        if labs:
            ax_l.legend(loc="upper right", fontsize="small")
        exams = rows["exams"]
        ax_e.plot([e["attempt"] for e in exams], [e["percent"] for e in exams], "o-", color="#36c")
        for e in exams:
            ax_e.annotate(e["date"][5:10], (e["attempt"], e["percent"]), textcoords="offset points",
                          xytext=(0, 6), ha="center", fontsize="x-small")
        ax_e.set_ylim(0, 105)
        ax_e.set_xlabel("attempt")
        ax_e.set_ylabel("score (%)")
        ax_e.set_title("Mock exam over time")
        if exams:
            ax_e.set_xticks([e["attempt"] for e in exams])
        for ax, empty in ((ax_q, not quizzes), (ax_l, not labs), (ax_e, not exams)):
            if empty:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.text(0.5, 0.5, "nothing yet", transform=ax.transAxes, ha="center", color="#888")
        fig.tight_layout()
        return fig

    # ------------------------------------------------------------ export

    def export(self, folder: str | Path | None = None) -> list[Path]:
        """progress.json (everything, plus the summary) and one CSV per table. Returns the paths."""
        out = Path(folder) if folder else settings_module.load().root / EXPORT_DIR
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "progress.json"]
        paths[0].write_text(json.dumps({"export_version": EXPORT_VERSION, "source": str(self.source),
                                        "totals": self.totals(), "progress": self.data},
                                       indent=1, sort_keys=True) + "\n")
        for name, rows in self.rows.items():
            path = out / f"{name}.csv"
            with path.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(COLUMNS[name]))
                writer.writeheader()
                writer.writerows(rows)
            paths.append(path)
        return paths


def _cast(kind, value: str):
    if kind is bool:
        return value == "True"
    return kind(value) if value != "" or kind is str else kind()


def read_export(folder: str | Path) -> dict:
    """An export read back: {"progress": ..., "totals": ..., "<table>": rows with their types}."""
    folder = Path(folder)
    data = json.loads((folder / "progress.json").read_text())
    out = {"progress": data["progress"], "totals": data["totals"]}
    for name, columns in COLUMNS.items():
        with (folder / f"{name}.csv").open(newline="") as fh:
            out[name] = [{k: _cast(columns[k], row[k]) for k in columns} for row in csv.DictReader(fh)]
    return out


def load(path: str | Path | None = None) -> Dashboard:
    """A Dashboard of the progress file at `path` (default: CKALAB_PROGRESS, else .ckalab/progress.json)."""
    source = Path(path) if path else progress.path()
    return Dashboard(source, _read(source))


__all__ = ["Dashboard", "load", "tables", "read_export", "COLUMNS"]
