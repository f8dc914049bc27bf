"""A static book of the last full run: every lesson and lab as HTML, with the outputs the
cluster-level `make test` run produced, for readers without a kernel (Binder, GitHub).

    python -m ckalab.book          # build/executed -> build/book (`make book`)

The papermill pass of `make test` writes build/executed/provenance.json (commit, machine, level);
each page says where its outputs come from. Solutions are left out, as in the student build.
"""

from __future__ import annotations

import html
import json
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from . import builds
from . import settings as settings_module
from .errors import CourseError

PROVENANCE = "provenance.json"


def provenance(root: Path, level: str) -> dict:
    """Which commit, machine and level a run's outputs come from."""
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else "unknown"
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True)
    return {"commit": git("rev-parse", "HEAD"), "changed_files": bool(git("status", "--porcelain")),
            "machine": f"{platform.system()} {platform.release()} {platform.machine()}",
            "python": platform.python_version(), "level": level,
            "docker": docker.stdout.strip() if docker.returncode == 0 else "none",
            "kubernetes": settings_module.KUBERNETES_VERSION,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def write_provenance(executed: Path, root: Path, level: str) -> Path:
    executed.mkdir(parents=True, exist_ok=True)
    path = executed / PROVENANCE
    path.write_text(json.dumps(provenance(root, level), indent=1) + "\n")
    return path


def _banner(info: dict, up: str) -> str:
    commit = info["commit"][:12] + (" (with uncommitted changes)" if info.get("changed_files") else "")
    return ("<div style='margin:0 0 1em 0;padding:0.6em 1em;background:#f6f8fa;border:1px solid #d0d7de;"
            "font:0.9em/1.5 sans-serif'>"
            f"Outputs from a real run: commit <code>{html.escape(commit)}</code>, {html.escape(info['date'])}, "
            f"on {html.escape(info['machine'])} (Docker {html.escape(info['docker'])}, Kubernetes "
            f"{html.escape(info['kubernetes'])}, level <b>{html.escape(info['level'])}</b>). "
            f"Solutions are left out. <a href='{up}index.html'>All pages</a></div>")


def _to_html(nb) -> str:
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    # Links between notebooks point at their pages.
    return re.sub(r'href="([^"]+?)\.ipynb(#[^"]*)?"', lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', body)


def render(executed: Path, out: Path, root: Path) -> list[Path]:
    """Write one page per executed notebook (course order) and an index; returns the pages."""
    info_path = executed / PROVENANCE
    if not info_path.exists():
        raise CourseError(f"{executed} holds no executed run ({PROVENANCE} is missing).",
                          "run `make test` (CKALAB_REQUIRE=cluster for a full run), then `make book`.")
    info = json.loads(info_path.read_text())
    if out.exists():
        shutil.rmtree(out)
    pages, entries = [], []
    for source in builds.sources(root):
        place = source.relative_to(root)
        run = executed / place
        if not run.exists():
            continue
        nb = builds.without_solutions(nbformat.read(run, as_version=4))
        page = (out / place).with_suffix(".html")
        page.parent.mkdir(parents=True, exist_ok=True)
        text = _to_html(nb)
        up = "../" * (len(place.parts) - 1)      # a lab page is one folder deeper than a lesson's
        text = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + _banner(info, up), text, count=1)
        page.write_text(text)
        pages.append(page)
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells
                      if c.cell_type == "markdown" and c.source.startswith("# ")), source.stem)
        entries.append(f"<li><a href='{place.with_suffix('.html').as_posix()}'>{html.escape(title)}</a></li>")
    (out / "index.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Container Images for Kubernetes</title></head>"
        "<body style='font:1em/1.5 sans-serif;max-width:50em;margin:2em auto'>"
        "<h1>Container Images for Kubernetes</h1>" + _banner(info, "")
        + "<ul>" + "".join(entries) + "</ul></body></html>\n")
    return pages


def main(argv: list[str] | None = None) -> int:
    root = settings_module.load().root
    try:
        pages = render(root / "build" / "executed", root / "build" / "book", root)
    except CourseError as exc:
        print(f"ckalab.book: {exc.message}", file=sys.stderr)
        return 2
    print(f"book: {len(pages)} pages in build/book/ (open build/book/index.html)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
