"""Results of a lab Check: named sub-checks, each passed or failed with a specific reason.

Checkers only read state (docker, the registry API, the Kubernetes API) and never
raise at the learner: a missing cluster or object becomes a failed sub-check
with a one-line reason.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

_CODE = re.compile(r"`([^`]+)`")
# ipywidgets' HTML widget sets line-height to the widget row height (28px); text that wraps needs its own.
READABLE = "line-height:1.5"


def inline_code(text: str) -> str:
    """Escape text for HTML and show `code` spans as <code>."""
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p)
                   for i, p in enumerate(_CODE.split(text)))


def plain(text: str) -> str:
    """Text for widget labels that cannot show HTML (RadioButtons options): `code` loses its backticks."""
    return _CODE.sub(r"\1", text)


# Status words on coloured labels: they read the same in every browser, with or without an
# emoji font (emoji render as empty boxes without one, and a pass then looks like a fail).
_BADGE_COLOURS = {"PASS": "#1a7f37", "OK": "#1a7f37", "FAIL": "#cf222e", "NO": "#cf222e",
                  "WARN": "#9a6700", "SKIPPED": "#57606a", "N/A": "#57606a"}


def badge(word: str) -> str:
    """A status word as a small coloured label (HTML)."""
    colour = _BADGE_COLOURS[word]
    return (f"<span style='display:inline-block;min-width:3.2em;padding:0 0.4em;border-radius:3px;"
            f"background:{colour};color:#fff;font:bold 0.8em/1.6 sans-serif;text-align:center'>{word}</span>")


@dataclass
class Notice:
    """One paragraph that says a cell was skipped and how to run it: plain text in a terminal,
    in a notebook wrapped HTML with a SKIPPED label, `code` shown as code and never cut."""
    text: str
    word: str = "SKIPPED"

    def __str__(self) -> str:
        return f"{self.word.capitalize()}: {self.text}"

    def _repr_html_(self) -> str:
        return (f"<div style='{READABLE};white-space:normal;overflow-wrap:break-word'>{badge(self.word)} "
                f"{inline_code(self.text)}</div>")


def show(obj) -> None:
    """Display obj as rich output in a notebook, print it elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
        if get_ipython() is not None:
            display(obj)
            return
    except ImportError:
        pass
    print(obj, flush=True)


@dataclass
class SubCheck:
    name: str
    passed: bool
    reason: str

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.reason}"


@dataclass
class CheckResult:
    lab: str
    subchecks: list[SubCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.subchecks) and all(s.passed for s in self.subchecks)

    def failed(self) -> list[SubCheck]:
        return [s for s in self.subchecks if not s.passed]

    def get(self, name: str) -> SubCheck:
        return next(s for s in self.subchecks if s.name == name)

    def add(self, name: str, passed: bool, reason: str) -> bool:
        self.subchecks.append(SubCheck(name, bool(passed), reason))
        return bool(passed)

    def __str__(self) -> str:
        head = f"{self.lab}: {'all checks passed' if self.passed else f'{len(self.failed())} check(s) still failing'}"
        return "\n".join([head, *(f"  {s}" for s in self.subchecks)])

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{badge('PASS' if s.passed else 'FAIL')}</td><td style='text-align:left'>{html.escape(s.name)}</td>"
            f"<td style='text-align:left'>{inline_code(s.reason)}</td></tr>" for s in self.subchecks)
        verdict = "All checks passed." if self.passed else f"{len(self.failed())} check(s) still failing."
        return (f"<div style='{READABLE}'><p><b>{html.escape(self.lab)}</b>: {verdict}</p>"
                f"<table>{rows}</table></div>")
