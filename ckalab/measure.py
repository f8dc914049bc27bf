"""Measure images the way notebook 04 and `make bench` report them, from the same functions.

* `build(...)` times one `docker build` (the CLI a learner uses; legacy builder or BuildKit).
* `rebuild_after_edit(...)` copies a workload into a temp dir, builds it, appends one line to
  a source file in THAT COPY (never the committed file), and times the rebuild.
* `layers(image)` / `image_size(image)` read `docker history` / `docker image inspect`.
* `context_size(path)` is the size of the build context the Docker CLI would send, with or
  without the folder's .dockerignore.
* `compare(variants)` does all of that for several Dockerfiles in one run; its result can be
  shown as a table, plotted, and saved for `python -m ckalab.bench`.

It is over 400 lines because it holds one concept, measuring a build: the docker calls, the
results and the comparison the lesson and `make bench` share.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import settings as settings_module
from . import shell
from .errors import CourseError

RESULTS_NAME = "04-build-cache-and-size.json"


# ---------------------------------------------------------------- results

@dataclass
class Build:
    """One timed `docker build`."""
    image: str
    seconds: float
    cached_steps: int
    output: str = field(repr=False, default="")


@dataclass
class Layer:
    """One line of `docker history`: the instruction and the bytes its layer adds."""
    created_by: str
    size: int

    @property
    def instruction(self) -> str:
        text = " ".join(self.created_by.split())
        for prefix in ("/bin/sh -c #(nop) ", "/bin/sh -c "):
            if text.startswith(prefix):
                text = text[len(prefix):].strip()
                return text if text.split(" ", 1)[0].isupper() else f"RUN {text}"
        return text or "(base image layer)"


@dataclass
class Variant:
    """A Dockerfile to measure. `dockerignore=False` builds it from a context without one."""
    name: str
    dockerfile: str
    image: str
    dockerignore: bool = True
    edit_file: str = "app.py"


@dataclass
class Measurement:
    name: str
    image: str
    dockerfile: str
    build_seconds: float
    build_cached_steps: int
    rebuild_seconds: float
    rebuild_cached_steps: int
    size: int
    layers: list[Layer]
    context_bytes: int


@dataclass
class Comparison:
    """Everything `compare()` measured in one run."""
    measurements: list[Measurement]
    edit: str
    clutter: str
    created: float

    def get(self, name: str) -> Measurement:
        return next(m for m in self.measurements if m.name == name)

    def rows(self) -> list[dict]:
        return [{"variant": m.name, "image": m.image, "size": human(m.size),
                 "layers": sum(1 for layer in m.layers if layer.size > 0),
                 "build s": round(m.build_seconds, 1),
                 "rebuild after edit s": round(m.rebuild_seconds, 1),
                 "steps from cache on rebuild": m.rebuild_cached_steps,
                 "build context": human(m.context_bytes)} for m in self.measurements]

    def table(self) -> str:
        return format_table(self.rows())

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        rows = self.rows()
        head = "".join(f"<th>{k}</th>" for k in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in r.values()) + "</tr>" for r in rows)
        return f"<table><tr>{head}</tr>{body}</table>"

    def to_json(self) -> dict:
        return {"created": self.created, "edit": self.edit, "clutter": self.clutter,
                "measurements": [asdict(m) for m in self.measurements]}

    @classmethod
    def from_json(cls, data: dict) -> "Comparison":
        ms = []
        for m in data["measurements"]:
            m = dict(m)
            m["layers"] = [Layer(**layer) for layer in m["layers"]]
            ms.append(Measurement(**m))
        return cls(ms, data["edit"], data["clutter"], data["created"])

    def save(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path else results_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1))
        return path

    def plot(self):
        """Top row: the layers of each image (bytes, log scale). Bottom row: total size and
        rebuild time after a one-line edit, side by side for every variant."""
        import matplotlib.pyplot as plt
        n = len(self.measurements)
        fig = plt.figure(figsize=(4.2 * max(n, 2), 7.5))
        grid = fig.add_gridspec(2, max(n, 2), height_ratios=[1.3, 1])
        for i, m in enumerate(self.measurements):
            ax = fig.add_subplot(grid[0, i])
            shown = [layer for layer in reversed(m.layers) if layer.size > 0]   # oldest at the top
            labels = [short(layer.instruction, 34) for layer in shown]
            bars = ax.barh(range(len(shown)), [layer.size for layer in shown], color="#4c72b0")
            ax.bar_label(bars, labels=[human(layer.size) for layer in shown], fontsize=7, padding=2)
            ax.set_yticks(range(len(shown)), labels, fontsize=7)
            ax.invert_yaxis()
            ax.set_xscale("log")
            ax.set_xlim(10, 1e10)
            ax.set_title(f"{m.name}: {human(m.size)} in {len(shown)} layers", fontsize=9)
            ax.set_xlabel("bytes (log scale)", fontsize=8)
        names = [m.name for m in self.measurements]
        bottom = grid[1, :].subgridspec(1, 2)
        size_ax = fig.add_subplot(bottom[0, 0])
        bars = size_ax.bar(names, [m.size / 1e6 for m in self.measurements], color="#8172b2")
        size_ax.bar_label(bars, labels=[human(m.size) for m in self.measurements], fontsize=8)
        size_ax.set_ylabel("MB")
        size_ax.set_title("Image size", fontsize=9)
        time_ax = fig.add_subplot(bottom[0, 1])
        times = [m.rebuild_seconds for m in self.measurements]
        bars = time_ax.bar(names, times, color=["#d62728" if t == max(times) else "#55a868" for t in times])
        time_ax.bar_label(bars, labels=[f"{t:.1f} s" for t in times], fontsize=8)
        time_ax.set_ylabel("seconds")
        time_ax.set_title("Rebuild after a one-line edit", fontsize=9)
        fig.tight_layout()
        return fig


# The images notebook 04 compares, and `make bench` reports: the brief's Dockerfile (whose
# project has no .dockerignore), the improved one on the full python:3.13 base, the improved one
# (python:3.13-slim), and the FROM scratch image.
SIZE_SOURCE = "workloads/size"
SIZE_VARIANTS = [
    Variant("brief", "Dockerfile.brief", "nb04-brief:1", dockerignore=False),
    Variant("full", "Dockerfile.full", "nb04-full:1"),
    Variant("improved", "Dockerfile.improved", "nb04-improved:1"),
    Variant("scratch", "Dockerfile.scratch", "nb04-scratch:1", edit_file="server.c"),
]


def results_path() -> Path:
    return settings_module.load().root / "build" / "measure" / RESULTS_NAME


def load(path: str | Path | None = None) -> Comparison | None:
    """The last saved comparison, or None if there is none."""
    path = Path(path) if path else results_path()
    if not path.exists():
        return None
    return Comparison.from_json(json.loads(path.read_text()))


# ---------------------------------------------------------------- formatting

def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def format_table(rows: list[dict]) -> str:
    if not rows:
        return "(nothing measured)"
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    line = lambda values: "  ".join(str(v).ljust(widths[k]) for k, v in zip(keys, values))
    return "\n".join([line(keys), line("-" * widths[k] for k in keys), *(line(r.values()) for r in rows)])


# ---------------------------------------------------------------- docker

def _docker(args: list[str], timeout: float = 900) -> shell.Result:
    return shell.run(["docker", *args], env=shell.course_env(), timeout=timeout)


def build(context: str | Path, image: str, dockerfile: str | Path | None = None, *,
          no_cache: bool = False, timeout: float = 900) -> Build:
    """Run `docker build` and time it. Raises CourseError with the build's last lines if it fails."""
    context = Path(context)
    args = ["build", "-t", image]
    if dockerfile:
        args += ["-f", str(dockerfile)]
    if no_cache:
        args.append("--no-cache")
    args.append(str(context))
    started = time.perf_counter()
    result = _docker(args, timeout=timeout)
    seconds = time.perf_counter() - started
    if not result.ok:
        tail = "\n".join(result.output.strip().splitlines()[-8:])
        raise CourseError(f"`docker build -t {image}` failed (status {result.returncode}):\n{tail}\n",
                          "read the lines above; `make doctor` checks Docker and the base images.")
    return Build(image, seconds, count_cached_steps(result.output), result.output)


def count_cached_steps(output: str) -> int:
    """Steps the builder took from its cache: `Using cache` (legacy builder) or `CACHED` (BuildKit)."""
    return sum(1 for line in output.splitlines()
               if "Using cache" in line or line.rstrip().endswith("CACHED") or " CACHED " in line)


def stage_images(output: str) -> list[str]:
    """IDs of the intermediate stage images a legacy-builder multi-stage build printed.

    The legacy builder keeps each earlier stage as an untagged image (its last ` ---> ID`
    before the next `Step n/m : FROM`). BuildKit keeps stages in its cache, not as images,
    so its output yields nothing here.
    """
    found, last = [], None
    for line in output.splitlines():
        step = line.strip()
        if step.startswith("---> ") and len(step.split()) == 2 and all(c in "0123456789abcdef" for c in step.split()[1]):
            last = step.split()[1]
        elif step.startswith("Step ") and " : FROM " in step and last:
            found.append(last)
    return found


def image_size(image: str) -> int:
    """Bytes of the image, uncompressed (what `docker image ls` shows as SIZE)."""
    result = _docker(["image", "inspect", "--format", "{{.Size}}", image], timeout=60)
    if not result.ok:
        raise CourseError(f"There is no image {image} to measure.", f"build it first (`docker build -t {image} ...`).")
    return int(result.output.strip())


def layers(image: str) -> list[Layer]:
    """`docker history IMAGE`, newest first: the instruction behind each layer and its size."""
    result = _docker(["history", "--no-trunc", "--human=false", "--format", "{{json .}}", image], timeout=60)
    if not result.ok:
        raise CourseError(f"There is no image {image} to measure.", f"build it first (`docker build -t {image} ...`).")
    return parse_history(result.output)


def parse_history(output: str) -> list[Layer]:
    found = []
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        size = row.get("Size", 0)
        found.append(Layer(row.get("CreatedBy", ""), int(size) if str(size).isdigit() else parse_size(str(size))))
    return found


def parse_size(text: str) -> int:
    """'4.76MB' -> 4760000 (docker prints decimal units)."""
    units = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * units[unit])
    return int(float(text or 0))


def dockerignore_patterns(path: str | Path) -> list[str]:
    """The patterns in PATH/.dockerignore (comments and blank lines dropped), or []."""
    file = Path(path) / ".dockerignore"
    if not file.exists():
        return []
    return [line.strip() for line in file.read_text().splitlines() if line.strip() and not line.strip().startswith("#")]


def context_size(path: str | Path, *, dockerignore: bool = True, dockerfile: str | None = None) -> int:
    """Bytes of the build context: the tar of PATH that the legacy builder receives whole.

    Built with the Docker SDK's own context code, which applies .dockerignore the way the
    CLI does; the legacy builder prints this number as "Sending build context". BuildKit
    transfers only the files the Dockerfile uses, and on a rebuild only those that changed.
    """
    from docker.utils import build as docker_build
    exclude = dockerignore_patterns(path) if dockerignore else []
    buffer = docker_build.tar(str(path), exclude=exclude, dockerfile=dockerfile)
    buffer.seek(0, io.SEEK_END)
    size = buffer.tell()
    buffer.close()
    return size


def remove_images(*images: str) -> None:
    """Remove images this module made (and the untagged layers only they used)."""
    if images:
        _docker(["image", "rm", "--force", *images], timeout=120)


# ---------------------------------------------------------------- copies and edits

def copy_workload(source: str | Path, target: str | Path, *, dockerignore: bool = True) -> Path:
    """Copy a workload folder (course-relative or absolute) to TARGET, with or without its .dockerignore."""
    source, target = course_path(source), Path(target)
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    if not dockerignore:
        (target / ".dockerignore").unlink(missing_ok=True)
    return target


def edit_one_line(file: str | Path, token: str | None = None) -> str:
    """Append one line to FILE (a copy, never a committed file) and return it.

    The line is unique per call, so the builder cannot have it in its cache already.
    """
    file = Path(file)
    root = settings_module.load().root.resolve()
    if file.resolve().is_relative_to(root):
        raise CourseError(f"edit_one_line refuses to edit {file}: it is inside the course folder.",
                          "edit a copy made with copy_workload() in a temp dir.")
    marker = "//" if file.suffix in (".c", ".h", ".go", ".js") else "#"
    line = f"{marker} one-line edit {token or uuid.uuid4().hex[:12]}"
    with file.open("a") as fh:
        fh.write(("" if file.read_text().endswith("\n") else "\n") + line + "\n")
    return line


def make_clutter(target: str | Path) -> str:
    """Put a local virtualenv in TARGET/.venv, as a developer's project folder usually has.

    It is what a .dockerignore keeps out of the build context. Returns a description.
    """
    venv = Path(target) / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    return f"a local virtualenv (.venv, {human(size)}) in the project folder"


def course_path(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else settings_module.load().root / path


def rebuild_after_edit(source: str | Path, dockerfile: str, image: str, *, edit_file: str = "app.py",
                       dockerignore: bool = True, workdir: str | Path | None = None,
                       keep_edited_image: bool = False) -> tuple[Build, Build, str]:
    """Build a copy of SOURCE as IMAGE, append one line to EDIT_FILE in the copy, build again.

    Returns (first build, rebuild after the edit, the line added). The edited image is
    tagged IMAGE-edit... and removed afterwards unless keep_edited_image is set.
    """
    own_dir = workdir is None
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ckalab-measure-"))
    try:
        if own_dir or not (work / dockerfile).exists():
            copy_workload(source, work, dockerignore=dockerignore)
        first = build(work, image, work / dockerfile)
        line = edit_one_line(work / edit_file)
        edited = edited_tag(image)
        second = None
        try:
            second = build(work, edited, work / dockerfile)
        finally:
            if not keep_edited_image:
                remove_images(edited)
                # The edited build's earlier stages (legacy builder only) would stay as untagged images.
                for stage in stage_images(second.output if second else ""):
                    _docker(["image", "rm", stage], timeout=120)
        return first, second, line
    finally:
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)


def edited_tag(image: str) -> str:
    name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    return f"{name}:{tag}-edit"


def compare(variants: list[Variant], source: str | Path, *, clutter: bool = True) -> Comparison:
    """Measure every variant in one run, from copies of SOURCE in a temp dir.

    For each: build time, rebuild time after the same kind of one-line edit, image size,
    layers, and the size of its build context (with clutter that a .dockerignore excludes).
    """
    remove_images(*(edited_tag(v.image) for v in variants))   # left over by an interrupted run
    base = Path(tempfile.mkdtemp(prefix="ckalab-compare-"))
    try:
        project = copy_workload(source, base / "project")
        what = make_clutter(project) if clutter else "none"
        results = []
        for v in variants:
            work = base / v.name
            shutil.copytree(project, work, symlinks=True)
            if not v.dockerignore:
                (work / ".dockerignore").unlink(missing_ok=True)
            ctx = context_size(work, dockerignore=v.dockerignore)
            first, second, _ = rebuild_after_edit(source, v.dockerfile, v.image, edit_file=v.edit_file,
                                                  workdir=work)
            results.append(Measurement(v.name, v.image, v.dockerfile, first.seconds, first.cached_steps,
                                       second.seconds, second.cached_steps, image_size(v.image),
                                       layers(v.image), ctx))
        edits = ", ".join(sorted({v.edit_file for v in variants}))
        return Comparison(results, edit=f"appended one comment line to {edits}", clutter=what,
                          created=time.time())
    finally:
        shutil.rmtree(base, ignore_errors=True)


__all__ = ["Build", "Layer", "Variant", "Measurement", "Comparison", "build", "rebuild_after_edit",
           "layers", "image_size", "context_size", "compare", "load",
           "human", "format_table", "results_path", "edit_one_line", "copy_workload"]
