"""Results of a lab Check: named sub-checks, each passed or failed with a specific reason.

Checkers only read state (docker, the registry API, the Kubernetes API) and never
raise at the learner: a missing cluster or object becomes a failed sub-check
with a one-line reason.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field


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
            f"<tr><td>{'&#9989;' if s.passed else '&#10060;'}</td><td>{html.escape(s.name)}</td>"
            f"<td>{html.escape(s.reason)}</td></tr>" for s in self.subchecks)
        verdict = "All checks passed." if self.passed else f"{len(self.failed())} check(s) still failing."
        return f"<p><b>{html.escape(self.lab)}</b>: {verdict}</p><table>{rows}</table>"
