"""ckalab: the helper package behind the Container Images for Kubernetes course.

Notebooks call only this package:

    import ckalab as ck
    env = ck.start("01-first-image")                      # doctor + course config + run report
    ck.sh("docker build -t hello:1.0 workloads/hello")    # runs, or says why it skipped

Importing it has no side effects; `start()` is what sets things up. Submodules
(ck.registry, ck.cluster, ck.quiz, ...) are loaded on first use.
"""

from __future__ import annotations

import importlib

from .cells import requires, sh, start
from .errors import CourseError
from .settings import load as load_settings


def show(path: str) -> None:
    """Print a course file (Dockerfile, manifest, source) with its path, as a cell output."""
    full = load_settings().root / path
    print(f"# {path}\n{full.read_text().rstrip()}")


def __getattr__(name: str):
    # Lazy submodules: `ck.registry` works without importing every module up front.
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise AttributeError(f"module 'ckalab' has no attribute '{name}'") from None
        raise


__all__ = ["requires", "sh", "start", "show", "CourseError", "load_settings"]
