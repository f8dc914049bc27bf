"""Learner-facing errors: one short paragraph that names the fix, never a traceback."""

from __future__ import annotations


class CourseError(Exception):
    """Something the learner can fix. `fix` is the command or step that fixes it."""

    def __init__(self, problem: str, fix: str):
        self.problem = problem.strip()
        self.fix = fix.strip()
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.problem} Fix: {self.fix}"

    def __str__(self) -> str:
        return self.message


def _show_course_error(shell, etype, value, tb, tb_offset=None):
    # The cell still counts as failed (papermill and nbval see an error),
    # but the learner reads one paragraph instead of a traceback.
    text = f"Error: {value.message}"
    shell._showtraceback(etype, value, [text])
    return [text]


def install_notebook_handler() -> bool:
    """Show CourseError in a notebook as one paragraph. Returns False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((CourseError,), _show_course_error)
    return True
