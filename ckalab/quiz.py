"""Quizzes: question banks in quizzes/<notebook-stem>.yaml, graded by pure functions,
shown with ipywidgets.

    ck.quiz.show("02-image-anatomy")      # the widget (last line of a cell)
    ck.quiz.markdown("02-image-anatomy")  # the same questions as Markdown, without answers
    ck.quiz.summary()                     # a table of quiz results from the progress file

Three kinds of question: `single` (RadioButtons), `multiple` (Checkboxes) and `command`
(a Text box). The banks and `grade(question, answer)`, which does all the judging, are in
ckalab.quiz_banks; the widget only collects answers and shows Feedback.

A quiz's score counts the first checked answer to each question; answering again is
practice. When every question has been answered once, the score is saved with
ckalab.progress.record_quiz.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from pathlib import Path

from . import progress
from .checks import READABLE, plain
from .errors import CourseError
from .quiz_banks import Feedback, grade, load, option_label, read_bank, stems


# ---------------------------------------------------------------- Markdown (no kernel needed)

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def _inline(text: str) -> str:
    """Inline Markdown (`code`, **bold**) to HTML, everything else escaped."""
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            out.append(_BOLD.sub(r"<b>\1</b>", html.escape(part)))
    return "".join(out)


def feedback_html(feedback: Feedback) -> str:
    color = {"correct": "#1a7f37", "incorrect": "#b35900", "invalid": "#555"}[feedback.status]
    items = "".join(f"<li>{_inline(d)}</li>" for d in feedback.details)
    src = (f'<div style="font-size:smaller">Source: <a href="{html.escape(feedback.source)}" target="_blank">'
           f"{html.escape(feedback.source)}</a></div>") if feedback.source and feedback.status != "invalid" else ""
    return (f'<div style="{READABLE}"><div style="color:{color}"><b>{_inline(feedback.message)}</b></div>'
            + (f"<ul>{items}</ul>" if items else "") + src + "</div>")


KIND_HINT = {"single": "choose one", "multiple": "choose all that apply", "command": "type the command"}


def markdown(stem: str) -> str:
    """The quiz as Markdown, questions and options without answers (GitHub shows this)."""
    bank = load(stem)
    lines = [f"## Quiz: {bank['title']}", "",
             f"{len(bank['questions'])} questions. Run the next cell to answer them here "
             "(it needs a running kernel); your score is saved in `.ckalab/progress.json`."]
    for n, q in enumerate(bank["questions"], 1):
        lines += ["", f"**{n}.** {q['prompt'].strip()} *({KIND_HINT[q['type']]})*"]
        if q["type"] in ("single", "multiple"):
            lines.append("")
            lines += [f"- {option_label(q, i)}" for i in range(len(q["options"]))]
    return "\n".join(lines)


def show_cell_source(stem: str) -> str:
    return f'ck.quiz.show("{stem}")'


def notebook_cells(stem: str) -> list:
    """The two cells a notebook carries for its quiz: Markdown (questions) and code (widget)."""
    import nbformat

    md = nbformat.v4.new_markdown_cell(markdown(stem), metadata={"tags": ["quiz"]})
    code = nbformat.v4.new_code_cell(show_cell_source(stem), metadata={"tags": ["quiz"]})
    return [md, code]


def check_notebook(path: str | Path) -> list[str]:
    """Problems with a notebook's quiz cells: the Markdown above each `ck.quiz.show(...)` cell
    must equal markdown(stem) (run the lead's insertion again after editing a bank)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        m = re.fullmatch(r'\s*ck\.quiz\.show\("([^"]+)"\)\s*', cell.source) if cell.cell_type == "code" else None
        if not m:
            continue
        stem = m.group(1)
        above = nb.cells[i - 1] if i else None
        if above is None or above.cell_type != "markdown":
            found.append(f"cell {i}: ck.quiz.show(\"{stem}\") has no Markdown cell above it")
        elif above.source != markdown(stem):
            found.append(f"cell {i - 1}: the quiz Markdown differs from ck.quiz.markdown(\"{stem}\")")
    return found


# ---------------------------------------------------------------- widgets

class QuestionView:
    """The widgets for one question: prompt, input, Check button, feedback."""

    def __init__(self, quiz: "QuizWidget", number: int, question: dict):
        import ipywidgets as w

        self.quiz, self.question, self.number = quiz, question, number
        self.first: Feedback | None = None      # the answer that counts for the score
        self.last: Feedback | None = None
        self.prompt = w.HTML(f"<p><b>{number}.</b> {_inline(question['prompt'].strip())} "
                             f"<i>({KIND_HINT[question['type']]})</i></p>")
        kind = question["type"]
        if kind == "single":
            self.input = w.RadioButtons(options=[(plain(option_label(question, i)), i) for i in range(len(question["options"]))],
                                        value=None, layout=w.Layout(width="auto"))
        elif kind == "multiple":
            self.boxes = [w.Checkbox(value=False, description=_inline(option_label(question, i)), description_allow_html=True,
                                     indent=False,
                                     layout=w.Layout(width="auto"))
                          for i in range(len(question["options"]))]
            self.input = w.VBox(self.boxes)
        else:
            self.input = w.Text(placeholder=question.get("placeholder", f"{question['answers'][0].split()[0]} ..."),
                                layout=w.Layout(width="90%"), continuous_update=False)
        self.button = w.Button(description="Check", button_style="primary", icon="check")
        self.feedback = w.HTML("")
        self.button.on_click(self._check)
        self.box = w.VBox([self.prompt, self.input, self.button, self.feedback],
                          layout=w.Layout(margin="0 0 1em 0"))
        self.box.add_class("ckalab-question")   # a handle for the browser tests

    def answer(self):
        kind = self.question["type"]
        if kind == "single":
            return self.input.value
        if kind == "multiple":
            return [i for i, b in enumerate(self.boxes) if b.value]
        return self.input.value

    def _check(self, _button=None) -> None:
        try:
            fb = grade(self.question, self.answer())
        except Exception as exc:  # noqa: BLE001 - a learner never sees a traceback from a quiz
            fb = Feedback("invalid", f"That answer could not be checked ({type(exc).__name__}); "
                                     "try writing it differently.")
        self.last = fb
        note = ""
        if fb.status != "invalid":
            if self.first is None:
                self.first = fb
                self.quiz._answered(self)
            else:
                note = ('<div style="font-size:smaller;color:#555">Practice: the score counts your first '
                        "answer to each question.</div>")
        self.feedback.value = feedback_html(fb) + note


class QuizWidget:
    """A whole quiz: one QuestionView per question, a running score, saving when done."""

    def __init__(self, stem: str, bank: dict | None = None):
        import ipywidgets as w

        self.stem = stem
        self.bank = bank or load(stem)
        self.questions = [QuestionView(self, n, q) for n, q in enumerate(self.bank["questions"], 1)]
        self.score_label = w.HTML()
        self.saved_label = w.HTML()
        self.restart_button = w.Button(description="Start over", icon="refresh")
        self.restart_button.on_click(self.restart)
        self.saved: dict | None = None
        self.started = time.time()   # names this attempt in the progress file
        self.widget = w.VBox([w.HTML(f"<h3>Quiz: {html.escape(self.bank['title'])}</h3>"),
                              *[q.box for q in self.questions],
                              self.score_label, self.saved_label, self.restart_button])
        self._update_score()

    @property
    def total(self) -> int:
        return len(self.questions)

    @property
    def score(self) -> int:
        return sum(1 for q in self.questions if q.first and q.first.correct)

    @property
    def answered(self) -> int:
        return sum(1 for q in self.questions if q.first)

    def _update_score(self) -> None:
        self.score_label.value = (f"<b>Score: {self.score} / {self.total}</b> "
                                  f"(answered {self.answered} of {self.total})")

    def _answered(self, _view: QuestionView) -> None:
        self._update_score()
        self.save()          # after every answer: a quiz left half-done keeps what was answered

    def answers(self) -> dict:
        out = {}
        for q in self.questions:
            if q.first is not None:
                out[q.question["id"]] = {"correct": q.first.correct}
        return out

    def save(self) -> None:
        try:
            self.saved = progress.record_quiz(self.stem, self.score, self.total, self.answers(),
                                              started=self.started)
            so_far = "" if self.answered == self.total else f" after {self.answered} of {self.total} answers"
            self.saved_label.value = (f"Saved: {self.score} / {self.total}{so_far} "
                                      f"(best so far {self.saved['best']}) in the progress file.")
        except (OSError, ValueError) as exc:
            self.saved_label.value = (f"Your score ({self.score} / {self.total}) could not be saved: {html.escape(str(exc))}. "
                                      "Check that the course folder is writable.")

    def restart(self, _button=None) -> None:
        self.started = time.time()
        for q in self.questions:
            q.first = q.last = None
            q.feedback.value = ""
            if q.question["type"] == "single":
                q.input.value = None
            elif q.question["type"] == "multiple":
                for b in q.boxes:
                    b.value = False
            else:
                q.input.value = ""
        self.saved_label.value = ""
        self._update_score()

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        # Where widgets do not render (GitHub, nbconvert), one line instead of the widget tree.
        bundle["text/plain"] = (f"Quiz: {self.bank['title']} ({self.total} questions; run the notebook "
                                "in JupyterLab to answer them)")
        return bundle


def show(stem: str) -> QuizWidget:
    """The quiz for a notebook, as a widget: put `ck.quiz.show("NN-topic")` last in a cell."""
    return QuizWidget(stem)


# ---------------------------------------------------------------- progress view

@dataclass
class Summary:
    rows: list[dict]

    def __str__(self) -> str:
        head = f"{'quiz':38} {'best':>6} {'last':>6} {'attempts':>8}"
        lines = [head]
        for r in self.rows:
            best = f"{r['best']}/{r['total']}" if r["attempts"] else "-"
            last = f"{r['last']}/{r['total']}" if r["attempts"] else "-"
            lines.append(f"{r['quiz']:38} {best:>6} {last:>6} {r['attempts']:>8}")
        done = [r for r in self.rows if r["attempts"]]
        lines.append(f"{len(done)} of {len(self.rows)} quizzes taken; best scores add up to "
                     f"{sum(r['best'] for r in done)} / {sum(r['total'] for r in done)}.")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{html.escape(r['quiz'])}</td>"
            f"<td>{(str(r['best']) + ' / ' + str(r['total'])) if r['attempts'] else '-'}</td>"
            f"<td>{(str(r['last']) + ' / ' + str(r['total'])) if r['attempts'] else '-'}</td>"
            f"<td>{r['attempts']}</td></tr>" for r in self.rows)
        foot = html.escape(str(self).splitlines()[-1])
        return (f"<table><tr><th>quiz</th><th>best</th><th>last</th><th>attempts</th></tr>{body}</table>"
                f"<p>{foot}</p>")


def summary() -> Summary:
    """Quiz results across notebooks from the progress file, one row per bank."""
    data = progress.load()["quizzes"]
    names = sorted(set(stems()) | set(data))
    rows = []
    for name in names:
        entry = data.get(name, {})
        attempts = entry.get("attempts", [])
        total = entry.get("total")
        if total is None:
            try:
                total = len(read_bank(name)["questions"])
            except CourseError:
                total = 0
        rows.append({"quiz": name, "attempts": len(attempts), "total": total,
                     "best": entry.get("best", 0), "last": attempts[-1]["score"] if attempts else 0})
    return Summary(rows)
