"""Lab 02: Shrink the invoice-api image with a multi-stage build."""

from __future__ import annotations

import re

from ckalab.checks import CheckResult
from ckalab.docker_checks import (build, container_state, docker, dockerfile_instructions, inspect_image,
                                  last_log_line, read_or_none, reference_dockerfile, remove_containers,
                                  remove_images, run_detached, solution_variant, wait_http, write_dockerfile)
from ckalab.labs import Lab, WrongAttempt, register

# image: what the Check builds; fat: the starting image; run: the container the Check starts on port.
NAMES = {"image": "lab02/invoice-api:check", "fat": "lab02/invoice-api:fat", "run": "lab02-invoice-api",
           "port": 19003}
MARGIN_MB = 40  # measured: the venv with flask+gunicorn adds ~17 MB; the toolchain ~500 MB


def size_budget() -> int | None:
    """Bytes: the size of python:3.13-slim on this machine plus MARGIN_MB."""
    base = inspect_image("python:3.13-slim")
    return None if base is None else base["Size"] + MARGIN_MB * 1_000_000


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def _setup(lab: Lab) -> None:
    for name in ("app.py", "requirements.txt", "Dockerfile.broken"):
        lab.place(name)
    lab.say(f"Building the current image as {lab.names['fat']} (cached after the first time) ...")
    fat = lab.names["fat"]
    result = docker("build", "-q", "-t", fat, "-f", str(lab.files / "Dockerfile.broken"), str(lab.files), timeout=900)
    if result.ok:
        print(f"{fat}: {_mb(inspect_image(fat)['Size'])}; budget: {_mb(size_budget())}")
    else:
        print(result.output[-2000:])


def _check(lab: Lab, r: CheckResult) -> None:
    text = read_or_none(lab.work_dir / "Dockerfile")
    if text is None:
        r.add("builds", False, f"{lab.work_dir / 'Dockerfile'} is missing: run lab.reset()")
        return
    ok, last = build(lab, lab.work_dir, lab.names["image"])
    if not r.add("builds", ok, f"built {lab.names['image']}" if ok else f"docker build failed: {last}"):
        return
    stages = [args for _, ins, args in dockerfile_instructions(text) if ins == "FROM"]
    r.add("multi-stage build", len(stages) >= 2,
          f"{len(stages)} stages: " + " -> ".join(stages) if len(stages) >= 2 else
          "one FROM only: build in one stage, then start a clean stage and COPY --from=<stage> what runs")
    found = docker("run", "--rm", "--entrypoint", "sh", lab.names["image"], "-c",
                   "command -v gcc cc make || true", timeout=60)
    tools = [l for l in found.output.split() if l.startswith("/")]
    r.add("no compiler in the final image", found.returncode == 127 or not tools,
          "no gcc, cc or make in the image" if not tools else
          f"the final image still has {', '.join(tools)}: the toolchain must stay in the build stage")
    size, budget = (inspect_image(lab.names["image"]) or {}).get("Size", 0), size_budget() or 0
    r.add("under the size budget", 0 < size <= budget,
          f"{_mb(size)}, budget {_mb(budget)} (python:3.13-slim + {MARGIN_MB} MB)" +
          ("" if size <= budget else ": deleting files in a later RUN does not shrink the layers "
                                    "below it; only what the last stage copies is shipped"))
    lab.say("Running the image ...")
    run = lab.names["run"]
    try:
        ok, err = run_detached(run, lab.names["image"], lab.names["port"], 8080)
        response = wait_http(f"http://127.0.0.1:{lab.names['port']}/", run, seconds=10) if ok else None
        answered = response is not None and response.ok and "invoice-api" in response.text
        r.add("still answers", answered,
              "answers: " + response.text.strip() if answered else
              f"nothing answered on port 8080 (container: {container_state(run)}; last log line: "
              f"{last_log_line(run)})" if ok else f"docker run failed: {err}")
    finally:
        remove_containers(run)


def _solve(lab: Lab) -> None:
    write_dockerfile(lab, reference_dockerfile(lab))


def _teardown(lab: Lab) -> None:
    remove_containers(lab.names["run"])
    remove_images(lab.names["image"])


def _purge_later(lab: Lab) -> None:
    text = (lab.files / "Dockerfile.broken").read_text()
    write_dockerfile(lab, text.replace(
        "COPY app.py .\n",
        "COPY app.py .\nRUN apt-get purge -y --auto-remove build-essential\n"))


def _one_stage(lab: Lab) -> None:
    text = (lab.files / "Dockerfile.broken").read_text()
    write_dockerfile(lab, re.sub(r"# The compiler.*?\n(?=WORKDIR)", "", text, flags=re.S))


register(Lab(
    id="lab02-shrink-image",
    title="Shrink the invoice-api image with a multi-stage build",
    level="docker",
    checks=["builds", "multi-stage build", "no compiler in the final image", "under the size budget",
            "still answers"],
    first_failure="multi-stage build",
    hints=[
        "`docker history lab02/invoice-api:fat` shows which step adds the most. Deleting those files "
        "in a later RUN does not help: every layer below stays in the image.",
        "A multi-stage build has several FROM lines. Install the toolchain and the dependencies in the "
        "first stage (`FROM python:3.13-slim AS build`); the last stage starts clean from "
        "python:3.13-slim and copies only what runs.",
        "In the build stage, `python -m venv /opt/venv` and install requirements.txt with "
        "/opt/venv/bin/pip. In the final stage: `COPY --from=build /opt/venv /opt/venv`, "
        "`ENV PATH=/opt/venv/bin:$PATH`, then app.py and the same USER/CMD.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("toolchain purged in a later RUN", _purge_later, fails="under the size budget"),
        WrongAttempt("final stage built FROM the build stage", solution_variant([
            ("FROM python:3.13-slim\nCOPY --from=build /opt/venv /opt/venv", "FROM build")]),
            fails="no compiler in the final image"),
        WrongAttempt("venv not copied into the final stage", solution_variant([
            ("COPY --from=build /opt/venv /opt/venv\n", "")]),
            fails="still answers"),
        WrongAttempt("toolchain dropped, still one stage", _one_stage, fails="multi-stage build"),
    ],
    check_note="Checking: this builds your Dockerfile and runs the image (about 10 s with a warm cache) ...",
    names=NAMES,
))
