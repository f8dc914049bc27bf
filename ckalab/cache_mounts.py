"""What a BuildKit cache mount saves, measured: the same change rebuilt with and without one.

Lesson 04 rebuilds workloads/buildkit/apt after one change to packages.txt, once with a plain
`RUN apt-get ...` and once with apt's lists and archives on cache mounts, and reads what apt
says it downloaded. The change is one comment line appended to packages.txt in a copy of the
workload in a temp dir (`measure.edit_one_line`), so the RUN step really runs again on every run
of the lesson, without `--no-cache` (which would also empty the cache mounts).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import measure

WORKLOAD = "workloads/buildkit/apt"
DOCKERFILES = ("Dockerfile.plain", "Dockerfile.cache-mount")

# BuildKit's plain progress prefixes each line a step prints with "#<step> <seconds> ".
_STEP_PREFIX = re.compile(r"^#\d+ [\d.]+ ")


@dataclass
class Rebuild:
    """One rebuild after the change: its time and what apt said about downloading."""
    dockerfile: str
    seconds: float
    fetched_bytes: int      # the sum of apt's "Fetched ..." lines (lists and packages)
    need_to_get: str        # apt's "Need to get X[/Y] of archives." (X/Y: only X was not cached)


def apt_lines(output: str) -> list[str]:
    """The lines apt printed inside the build, without BuildKit's step prefix."""
    return [_STEP_PREFIX.sub("", line) for line in output.splitlines() if _STEP_PREFIX.match(line)]


def fetched_bytes(lines: list[str]) -> int:
    """'Fetched 16.3 MB in 2s (7903 kB/s)' and the like, added up."""
    total = 0
    for line in lines:
        match = re.match(r"Fetched ([\d.,]+) (B|kB|MB|GB) in ", line)
        if match:
            total += measure.parse_size(match[1].replace(",", "") + match[2])
    return total


def need_to_get(lines: list[str]) -> str:
    found = [line.strip() for line in lines if line.startswith("Need to get ")]
    return found[-1] if found else "(apt printed no 'Need to get' line)"


def rebuild(dockerfile: str, image: str) -> Rebuild:
    """Build a copy of the workload, change packages.txt twice, and measure the second rebuild.

    The first change fills the cache mounts with today's package lists and packages, even when
    the first build came from the layer cache or the mirror has moved on since the mounts were
    filled; so the measured rebuild shows what a cache mount saves on a change, nothing else."""
    work = Path(tempfile.mkdtemp(prefix="ckalab-cache-mount-"))
    warm = measure.edited_tag(image)
    try:
        measure.copy_workload(WORKLOAD, work)
        for tag in (warm, warm):
            measure.build(work, tag, work / dockerfile)
            measure.remove_images(tag)
            measure.edit_one_line(work / "packages.txt")
        measured = measure.build(work, image, work / dockerfile)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = apt_lines(measured.output)
    return Rebuild(dockerfile, measured.seconds, fetched_bytes(lines), need_to_get(lines))


def compare(image_prefix: str = "nb04-apt") -> list[Rebuild]:
    """Both Dockerfiles, measured; the rebuilt images stay as nb04-apt-plain:1 and
    nb04-apt-cache-mount:1 for the lesson to look into."""
    return [rebuild(dockerfile, f"{image_prefix}-{dockerfile.split('.', 1)[1]}:1") for dockerfile in DOCKERFILES]


def table(results: list[Rebuild]) -> str:
    return measure.format_table([
        {"Dockerfile": r.dockerfile, "rebuild": f"{r.seconds:.1f} s",
         "apt downloaded": measure.human(r.fetched_bytes), "apt said": r.need_to_get}
        for r in results])
