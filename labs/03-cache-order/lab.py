"""Lab 03: Order the catalog-indexer Dockerfile for the build cache."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tarfile
import tempfile
from pathlib import Path

from ckalab.checks import CheckResult
from ckalab.docker_checks import (build, docker, inspect_image, reference_dockerfile, remove_images,
                                  solution_variant, write_dockerfile)
from ckalab.labs import Lab, WrongAttempt, register

# The two builds the Check makes: of the learner's Dockerfile, and again after one code edit.
NAMES = {"before": "lab03/catalog-indexer:check-before", "after": "lab03/catalog-indexer:check-after"}
DEPENDENCY_STEP = re.compile(r"\bpip3?\s+install\b|\bpython3?\s+-m\s+pip\s+install\b")


def image_config(image: str) -> dict | None:
    """The image's config JSON (history with empty_layer flags, rootfs.diff_ids), from `docker save`.

    Works for the classic image store (`<id>.json`) and the containerd store (OCI layout):
    manifest.json names the config file in both."""
    import subprocess
    from ckalab import shell
    proc = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=shell.course_env())
    small: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                if member.isfile() and member.size < 4_000_000 and not member.name.endswith("layer.tar"):
                    data = tar.extractfile(member)
                    small[member.name] = data.read() if data else b""
    except tarfile.TarError:
        return None
    finally:
        proc.stdout.close()
        proc.wait()
    try:
        manifest = json.loads(small["manifest.json"])
        return json.loads(small[manifest[0]["Config"]])
    except (KeyError, ValueError, IndexError):
        return None


def layer_steps(config: dict) -> list[tuple[str, str]]:
    """(diff ID, the instruction that made it) for each layer, oldest first."""
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    steps, i = [], 0
    for entry in config.get("history") or []:
        if entry.get("empty_layer"):
            continue
        if i < len(diff_ids):
            steps.append((diff_ids[i], entry.get("created_by", "")))
        i += 1
    return steps


def _clean_step(created_by: str) -> str:
    text = re.sub(r"^/bin/sh -c (#\(nop\)\s*)?", "", created_by).replace(" # buildkit", "").strip()
    text = re.sub(r"\b(file|dir|multi):[0-9a-f]{64}", "<files>", text)
    return text if len(text) < 90 else text[:87] + "..."


def _setup(lab: Lab) -> None:
    for name in ("indexer.py", "catalog.yaml", "requirements.txt", ".dockerignore", "Dockerfile.broken"):
        lab.place(name)


def _check(lab: Lab, r: CheckResult) -> None:
    before_image, after_image = lab.names["before"], lab.names["after"]
    if not (lab.work_dir / "Dockerfile").exists() or not (lab.work_dir / "indexer.py").exists():
        r.add("builds", False, f"{lab.work_dir} lacks the Dockerfile or indexer.py: run lab.reset()")
        return
    with tempfile.TemporaryDirectory(prefix="lab03-check-") as tmp:
        copy = Path(tmp) / "lab03"
        shutil.copytree(lab.work_dir, copy)
        ok, last = build(lab, copy, before_image)
        if not r.add("builds", ok, f"built your Dockerfile as {before_image}" if ok else
                     f"docker build failed: {last}"):
            return
        # A code edit nobody made before: a new BUILD value, in a copy of your files.
        nonce = secrets.token_hex(4)
        source = (copy / "indexer.py").read_text()
        edited = re.sub(r'^BUILD = .*$', f'BUILD = "{nonce}"', source, count=1, flags=re.M)
        if edited == source:
            edited = source + f'\nBUILD = "{nonce}"\n'
        (copy / "indexer.py").write_text(edited)
        lab.say(f"Changed one line of indexer.py (in a copy) and rebuilding as {after_image} ...")
        ok, last = build(lab, copy, after_image)
    if not ok:
        r.add("code edit shows in the image", False, f"the rebuild after a code edit failed: {last}")
        return
    ran = docker("run", "--rm", after_image, timeout=60)
    r.add("code edit shows in the image", nonce in ran.output,
          f"the rebuilt image runs the edited code: {ran.output.strip()[:120]}" if nonce in ran.output else
          "the rebuilt image does not run the edited indexer.py "
          f"(it printed: {(ran.output.strip().splitlines() or ['nothing'])[-1][:120]})")
    lab.say("Comparing the layers of both builds ...")
    before = (inspect_image(before_image) or {}).get("RootFS", {}).get("Layers") or []
    config = image_config(after_image)
    if config is None:
        r.add("dependency layer reused after a code edit", False, f"could not read the config of {after_image}")
        return
    steps = layer_steps(config)
    deps = [i for i, (_, step) in enumerate(steps) if DEPENDENCY_STEP.search(step)]
    if not deps:
        r.add("dependency layer reused after a code edit", False,
              "no layer of the image installs dependencies with pip install")
        return
    index = deps[-1]
    rebuilt = [_clean_step(step) for i, (diff, step) in enumerate(steps)
               if i >= len(before) or before[i] != diff]
    reused = index < len(before) and before[index] == steps[index][0]
    r.add("dependency layer reused after a code edit", reused,
          f"layer {index + 1} ({_clean_step(steps[index][1])}) has the same diff ID "
          f"{steps[index][0][:19]} in both builds; rebuilt: {', '.join(rebuilt) or 'nothing'}" if reused else
          f"layer {index + 1} ({_clean_step(steps[index][1])}) was rebuilt after a code edit; "
          f"rebuilt layers: {', '.join(rebuilt)}. Copy only requirements.txt before installing; "
          "copy the code after")
    step = _clean_step(steps[index][1])
    pinned = "requirements" in steps[index][1]
    r.add("dependencies come from requirements.txt", pinned,
          f"`{step}`" if pinned else
          f"`{step}` does not install requirements.txt, so the pinned versions are not used")


def _solve(lab: Lab) -> None:
    write_dockerfile(lab, reference_dockerfile(lab))


def _teardown(lab: Lab) -> None:
    remove_images(lab.names["before"], lab.names["after"])


def _code_ignored(lab: Lab) -> None:
    _solve(lab)
    (lab.work_dir / ".dockerignore").write_text("Dockerfile\n*.py\n")


register(Lab(
    id="lab03-cache-order",
    title="Order the catalog-indexer Dockerfile for the build cache",
    level="docker",
    checks=["builds", "code edit shows in the image", "dependency layer reused after a code edit",
            "dependencies come from requirements.txt"],
    first_failure="dependency layer reused after a code edit",
    hints=[
        "Build twice with a one-line change to indexer.py in between and read the build output: "
        "from which step on is nothing taken from the cache any more?",
        "A COPY step's cache key includes the content of every file it copies. `COPY . .` changes with "
        "every code edit, so every step after it runs again, including pip install.",
        "Copy only requirements.txt, run pip install, and copy the rest of the code after it: "
        "`COPY requirements.txt .` / `RUN pip install --no-cache-dir -r requirements.txt` / `COPY . .`.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("requirements copied first, but the code too", solution_variant([
            ("COPY requirements.txt .\n", "COPY requirements.txt .\nCOPY . .\n")]),
            fails="dependency layer reused after a code edit"),
        WrongAttempt("packages typed into the RUN line", solution_variant([
            ("COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt",
             "RUN pip install --no-cache-dir PyYAML Jinja2")]),
            fails="dependencies come from requirements.txt"),
        WrongAttempt("the code is left out of the image", _code_ignored,
                     fails="code edit shows in the image"),
    ],
    check_note="Checking: this builds your Dockerfile, edits a copy of the code and builds again "
               "(about 15 s with a warm cache) ...",
    names=NAMES,
))
