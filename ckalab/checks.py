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
            f"<tr><td>{'&#9989;' if s.passed else '&#10060;'}</td><td style='text-align:left'>{html.escape(s.name)}</td>"
            f"<td style='text-align:left'>{inline_code(s.reason)}</td></tr>" for s in self.subchecks)
        verdict = "All checks passed." if self.passed else f"{len(self.failed())} check(s) still failing."
        return (f"<div style='{READABLE}'><p><b>{html.escape(self.lab)}</b>: {verdict}</p>"
                f"<table>{rows}</table></div>")
