"""The Docker- and registry-level labs (lab01-lab06); they need Docker and the two registries.

Each lab keeps the learner's files in `.ckalab/work/labNN/` (see ckalab.labs) and its
own files in `workloads/labs/<id>/`. Checks read real state: they build the learner's
Dockerfile (and say so), run the image, and ask the registries' HTTP API. Names the
labs create: containers `lab0N-*`, host ports 1900x, images and repositories `lab0N/...`.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import requests
import yaml

from . import registry
from . import settings as settings_module
from .checks import CheckResult
from .labs import Lab, WrongAttempt, docker, register

URL_SOURCE = re.compile(r"^(https?://|git@)")
ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2|tar\.xz|txz)$")


# ---------------------------------------------------------------- helpers

def dockerfile_instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) for each instruction; continuations joined."""
    out, buf, start = [], "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if not buf:
            start = number
        if stripped.endswith("\\"):
            buf += stripped[:-1].rstrip() + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buf = ""
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return None


def inspect_image(image: str) -> dict | None:
    result = docker("image", "inspect", image, timeout=30)
    if not result.ok:
        return None
    return json.loads(result.output)[0]


def build(lab: Lab, context: Path, tag: str, *, extra: list[str] | None = None) -> tuple[bool, str]:
    """docker build; (ok, last line of the output worth showing)."""
    lab.say(f"Building {context.name if context.name != lab.number else 'your Dockerfile'} as {tag} ...")
    result = docker("build", "-t", tag, *(extra or []), str(context), timeout=600)
    lines = [l for l in result.output.strip().splitlines()
             if l.strip() and "legacy builder" not in l.lower() and "buildx" not in l.lower()
             and not l.startswith(" ")]
    return result.ok, (lines[-1][:200] if lines else "no output")


def run_detached(name: str, image: str, port: int, container_port: int, *args: str) -> tuple[bool, str]:
    docker("rm", "-f", name, timeout=30)
    result = docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:{container_port}",
                    image, *args, timeout=60)
    lines = result.output.strip().splitlines()
    errors = [l for l in lines if l.startswith(("docker:", "Error"))]
    return result.ok, ((errors or lines or [""])[0])[:240]


def wait_http(url: str, container: str | None = None, seconds: float = 5) -> requests.Response | None:
    """GET url until it answers, for at most `seconds`; gives up early if `container` stopped."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=2)
        except requests.RequestException:
            if container and not container_state(container).startswith("running"):
                return None
            time.sleep(0.25)
    return None


def container_state(name: str) -> str:
    """`running`, `exited with code N` (or another Docker state), or `gone`."""
    result = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name, timeout=20)
    if not result.ok:
        return "gone"
    status, _, code = result.output.strip().partition(" ")
    return f"exited with code {code}" if status == "exited" else status


def last_log_line(name: str) -> str:
    lines = [l for l in docker("logs", "--tail", "5", name, timeout=20).output.splitlines() if l.strip()]
    return lines[-1][:160] if lines else "(no output)"


def remove_containers(*names: str) -> None:
    docker("rm", "-f", *names, timeout=60)


def remove_images(*images: str) -> None:
    docker("image", "rm", "-f", *images, timeout=60)


def is_shell_form(command: list | None) -> bool:
    return bool(command) and len(command) >= 2 and Path(command[0]).name in ("sh", "bash", "dash") \
        and command[1] == "-c"


def _write_dockerfile(lab: Lab, text: str) -> None:
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    (lab.work_dir / "Dockerfile").write_text(text)


def _solution(lab: Lab, name: str = "Dockerfile") -> str:
    return (lab.workload_dir / "solution" / name).read_text()


# ================================================================ lab01

LAB01_NAMES = {"image": "lab01/ledger-api:check", "run": "lab01-ledger-api", "args": "lab01-ledger-args",
               "port": 19001, "args_port": 19002}


def _lab01_setup(lab: Lab) -> None:
    for name in ("app.py", "ledger.conf", "Dockerfile.broken"):
        lab.place(name)


def _lab01_check(lab: Lab, r: CheckResult) -> None:
    text = _read(lab.work_dir / "Dockerfile")
    if text is None:
        r.add("no ADD for local files", False, f"{lab.work_dir / 'Dockerfile'} is missing: run lab.reset()")
        return
    local_adds = [(n, args) for n, ins, args in dockerfile_instructions(text) if ins == "ADD"
                  and not all(URL_SOURCE.match(s) or ARCHIVE.search(s)
                              for s in args.split()[:-1] if not s.startswith("--"))]
    r.add("no ADD for local files", not local_adds,
          "local files are copied with COPY" if not local_adds else
          f"line {local_adds[0][0]}: `ADD {local_adds[0][1]}` copies local files: use COPY "
          "(ADD also unpacks archives and fetches URLs, which nobody reading it expects)")
    n = lab.names
    image, run, run_args, port, args_port = n["image"], n["run"], n["args"], n["port"], n["args_port"]
    ok, last = build(lab, lab.work_dir, image)
    if not r.add("builds", ok, f"built {image}" if ok else f"docker build failed: {last}"):
        return
    config = (inspect_image(image) or {}).get("Config") or {}
    entrypoint, cmd = config.get("Entrypoint"), config.get("Cmd")
    if is_shell_form(entrypoint):
        r.add("exec-form ENTRYPOINT/CMD", False,
              f"ENTRYPOINT is {json.dumps(entrypoint)}: the shell is PID 1, it gets SIGTERM and "
              "ignores it, and the CMD arguments are dropped; write ENTRYPOINT [\"python\", \"app.py\"]")
    elif is_shell_form(cmd):
        r.add("exec-form ENTRYPOINT/CMD", False,
              f"CMD is {json.dumps(cmd)}: a shell, not the app, is PID 1; use the JSON (exec) form")
    else:
        r.add("exec-form ENTRYPOINT/CMD", True,
              f"ENTRYPOINT {json.dumps(entrypoint)}, CMD {json.dumps(cmd)}: no shell in between")
    lab.say("Running the image twice: with its defaults, and with `--port 9090` ...")
    try:
        ok, err = run_detached(run, image, port, 8080)
        ok2, err2 = run_detached(run_args, image, args_port, 9090, "--port", "9090")
        response = wait_http(f"http://127.0.0.1:{port}/", run) if ok else None
        answered = response is not None and response.ok and "ledger-api" in response.text
        r.add("answers on port 8080", answered,
              f"`docker run -p {port}:8080` answers: " + response.text.strip() if answered else
              f"nothing answered on container port 8080 (container: {container_state(run)}; "
              f"last log line: {last_log_line(run)})" if ok else f"docker run failed: {err}")
        response = wait_http(f"http://127.0.0.1:{args_port}/", run_args) if ok2 else None
        answered = response is not None and response.ok and "ledger-api" in response.text
        r.add("run arguments reach the app", answered,
              "`docker run IMAGE --port 9090` starts the API on port 9090" if answered else
              "`docker run IMAGE --port 9090` did not start the API on 9090: run arguments replace CMD, "
              "so CMD must hold only the arguments and ENTRYPOINT the program "
              + (f"(container: {container_state(run_args)}; last log line: {last_log_line(run_args)})"
                 if ok2 else f"(docker run failed: {err2})"))
        if container_state(run).startswith("running"):
            lab.say("Stopping the container (docker stop) ...")
            started = time.monotonic()
            docker("stop", "-t", "4", run, timeout=30)
            took = time.monotonic() - started
            r.add("stops within 3 s", took < 3,
                  f"`docker stop` took {took:.1f} s" + ("" if took < 3 else
                  ": the process that got SIGTERM did not exit, so Docker waited and then killed it "
                  "(a shell as PID 1 ignores SIGTERM)"))
        else:
            r.add("stops within 3 s", False, "the container was not running, so it could not be stopped")
    finally:
        remove_containers(run, run_args)


def _lab01_solve(lab: Lab) -> None:
    _write_dockerfile(lab, _solution(lab))


def _lab01_teardown(lab: Lab) -> None:
    remove_containers(lab.names["run"], lab.names["args"])
    remove_images(lab.names["image"])


def _solution_variant(old_new: list[tuple[str, str]]):
    """A wrong attempt: the lab's solution Dockerfile with some lines changed back."""
    def apply(lab: Lab) -> None:
        text = _solution(lab)
        for old, new in old_new:
            assert old in text, old
            text = text.replace(old, new)
        _write_dockerfile(lab, text)
    return apply


register(Lab(
    id="lab01-fix-dockerfile",
    title="Fix the ledger-api Dockerfile",
    level="docker",
    checks=["no ADD for local files", "builds", "exec-form ENTRYPOINT/CMD", "answers on port 8080",
            "run arguments reach the app", "stops within 3 s"],
    first_failure="no ADD for local files",
    hints=[
        "Build and run it, then read PID 1's command line (python:3.13-slim has no `ps`): "
        "`docker exec <container> cat /proc/1/cmdline | tr '\\0' ' '`. What is PID 1? "
        "`docker image inspect -f '{{json .Config.Entrypoint}}' IMAGE` shows what Docker runs.",
        "A string after ENTRYPOINT/CMD is the shell form: Docker runs it as `/bin/sh -c \"...\"`, "
        "the shell ignores SIGTERM as PID 1, and a shell-form ENTRYPOINT ignores CMD. "
        "ADD should only be used for what COPY cannot do (URLs, unpacking archives).",
        "Use COPY for ledger.conf and app.py, `ENTRYPOINT [\"python\", \"app.py\"]` for the program and "
        "`CMD [\"--port\", \"8080\"]` for its default arguments, both in JSON form.",
    ],
    setup_fn=_lab01_setup, check_fn=_lab01_check, solve_fn=_lab01_solve, teardown_fn=_lab01_teardown,
    wrong_attempts=[
        WrongAttempt("ADD kept for local files", _solution_variant([
            ("COPY ledger.conf", "ADD ledger.conf"), ("COPY app.py", "ADD app.py")]),
            fails="no ADD for local files"),
        WrongAttempt("shell-form ENTRYPOINT kept", _solution_variant([
            ('ENTRYPOINT ["python", "app.py"]', "ENTRYPOINT python app.py")]),
            fails="exec-form ENTRYPOINT/CMD"),
        WrongAttempt("sh -c written in JSON form", _solution_variant([
            ('ENTRYPOINT ["python", "app.py"]\nCMD ["--port", "8080"]',
             'ENTRYPOINT ["sh", "-c", "python app.py --port 8080"]')]),
            fails="stops within 3 s"),
        WrongAttempt("CMD repeats the program", _solution_variant([
            ('CMD ["--port", "8080"]', 'CMD ["python", "app.py", "--port", "8080"]')]),
            fails="answers on port 8080"),
        WrongAttempt("everything in CMD, no ENTRYPOINT", _solution_variant([
            ('ENTRYPOINT ["python", "app.py"]\nCMD ["--port", "8080"]',
             'CMD ["python", "app.py", "--port", "8080"]')]),
            fails="run arguments reach the app"),
    ],
    check_note="Checking: this builds your Dockerfile, runs it twice and stops it (about 10 s) ...",
    names=LAB01_NAMES,
))


# ================================================================ lab02

LAB02_IMAGE, LAB02_FAT = "lab02/invoice-api:check", "lab02/invoice-api:fat"
LAB02_RUN, LAB02_PORT = "lab02-invoice-api", 19003
LAB02_MARGIN_MB = 40  # measured: the venv with flask+gunicorn adds ~17 MB; the toolchain ~500 MB


def lab02_budget() -> int | None:
    """Bytes: the size of python:3.13-slim on this machine plus LAB02_MARGIN_MB."""
    base = inspect_image("python:3.13-slim")
    return None if base is None else base["Size"] + LAB02_MARGIN_MB * 1_000_000


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def _lab02_setup(lab: Lab) -> None:
    for name in ("app.py", "requirements.txt", "Dockerfile.broken"):
        lab.place(name)
    lab.say("Building the current image as lab02/invoice-api:fat (cached after the first time) ...")
    result = docker("build", "-q", "-t", LAB02_FAT, "-f", str(lab.workload_dir / "Dockerfile.broken"),
                    str(lab.workload_dir), timeout=900)
    if result.ok:
        print(f"{LAB02_FAT}: {_mb(inspect_image(LAB02_FAT)['Size'])}; budget: {_mb(lab02_budget())}")
    else:
        print(result.output[-2000:])


def _lab02_check(lab: Lab, r: CheckResult) -> None:
    text = _read(lab.work_dir / "Dockerfile")
    if text is None:
        r.add("builds", False, f"{lab.work_dir / 'Dockerfile'} is missing: run lab.reset()")
        return
    ok, last = build(lab, lab.work_dir, LAB02_IMAGE)
    if not r.add("builds", ok, f"built {LAB02_IMAGE}" if ok else f"docker build failed: {last}"):
        return
    stages = [args for _, ins, args in dockerfile_instructions(text) if ins == "FROM"]
    r.add("multi-stage build", len(stages) >= 2,
          f"{len(stages)} stages: " + " -> ".join(stages) if len(stages) >= 2 else
          "one FROM only: build in one stage, then start a clean stage and COPY --from=<stage> what runs")
    found = docker("run", "--rm", "--entrypoint", "sh", LAB02_IMAGE, "-c",
                   "command -v gcc cc make || true", timeout=60)
    tools = [l for l in found.output.split() if l.startswith("/")]
    r.add("no compiler in the final image", found.returncode == 127 or not tools,
          "no gcc, cc or make in the image" if not tools else
          f"the final image still has {', '.join(tools)}: the toolchain must stay in the build stage")
    size, budget = (inspect_image(LAB02_IMAGE) or {}).get("Size", 0), lab02_budget() or 0
    r.add("under the size budget", 0 < size <= budget,
          f"{_mb(size)}, budget {_mb(budget)} (python:3.13-slim + {LAB02_MARGIN_MB} MB)" +
          ("" if size <= budget else ": deleting files in a later RUN does not shrink the layers "
                                    "below it; only what the last stage copies is shipped"))
    lab.say("Running the image ...")
    try:
        ok, err = run_detached(LAB02_RUN, LAB02_IMAGE, LAB02_PORT, 8080)
        response = wait_http(f"http://127.0.0.1:{LAB02_PORT}/", LAB02_RUN, seconds=10) if ok else None
        answered = response is not None and response.ok and "invoice-api" in response.text
        r.add("still answers", answered,
              "answers: " + response.text.strip() if answered else
              f"nothing answered on port 8080 (container: {container_state(LAB02_RUN)}; last log line: "
              f"{last_log_line(LAB02_RUN)})" if ok else f"docker run failed: {err}")
    finally:
        remove_containers(LAB02_RUN)


def _lab02_solve(lab: Lab) -> None:
    _write_dockerfile(lab, _solution(lab))


def _lab02_teardown(lab: Lab) -> None:
    remove_containers(LAB02_RUN)
    remove_images(LAB02_IMAGE)


def _lab02_purge_later(lab: Lab) -> None:
    text = (lab.workload_dir / "Dockerfile.broken").read_text()
    _write_dockerfile(lab, text.replace(
        "COPY app.py .\n",
        "COPY app.py .\nRUN apt-get purge -y --auto-remove build-essential\n"))


def _lab02_one_stage(lab: Lab) -> None:
    text = (lab.workload_dir / "Dockerfile.broken").read_text()
    _write_dockerfile(lab, re.sub(r"# The compiler.*?\n(?=WORKDIR)", "", text, flags=re.S))


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
    setup_fn=_lab02_setup, check_fn=_lab02_check, solve_fn=_lab02_solve, teardown_fn=_lab02_teardown,
    wrong_attempts=[
        WrongAttempt("toolchain purged in a later RUN", _lab02_purge_later, fails="under the size budget"),
        WrongAttempt("final stage built FROM the build stage", _solution_variant([
            ("FROM python:3.13-slim\nCOPY --from=build /opt/venv /opt/venv", "FROM build")]),
            fails="no compiler in the final image"),
        WrongAttempt("venv not copied into the final stage", _solution_variant([
            ("COPY --from=build /opt/venv /opt/venv\n", "")]),
            fails="still answers"),
        WrongAttempt("toolchain dropped, still one stage", _lab02_one_stage, fails="multi-stage build"),
    ],
    check_note="Checking: this builds your Dockerfile and runs the image (about 10 s with a warm cache) ...",
))


# ================================================================ lab03

LAB03_BEFORE, LAB03_AFTER = "lab03/catalog-indexer:check-before", "lab03/catalog-indexer:check-after"
DEPENDENCY_STEP = re.compile(r"\bpip3?\s+install\b|\bpython3?\s+-m\s+pip\s+install\b")


def image_config(image: str) -> dict | None:
    """The image's config JSON (history with empty_layer flags, rootfs.diff_ids), from `docker save`.

    Works for the classic image store (`<id>.json`) and the containerd store (OCI layout):
    manifest.json names the config file in both."""
    import subprocess
    from . import shell
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


def _lab03_setup(lab: Lab) -> None:
    for name in ("indexer.py", "catalog.yaml", "requirements.txt", ".dockerignore", "Dockerfile.broken"):
        lab.place(name)


def _lab03_check(lab: Lab, r: CheckResult) -> None:
    if not (lab.work_dir / "Dockerfile").exists() or not (lab.work_dir / "indexer.py").exists():
        r.add("builds", False, f"{lab.work_dir} lacks the Dockerfile or indexer.py: run lab.reset()")
        return
    with tempfile.TemporaryDirectory(prefix="lab03-check-") as tmp:
        copy = Path(tmp) / "lab03"
        shutil.copytree(lab.work_dir, copy)
        ok, last = build(lab, copy, LAB03_BEFORE)
        if not r.add("builds", ok, f"built your Dockerfile as {LAB03_BEFORE}" if ok else
                     f"docker build failed: {last}"):
            return
        # A code edit nobody made before: a new BUILD value, in a copy of your files.
        nonce = secrets.token_hex(4)
        source = (copy / "indexer.py").read_text()
        edited = re.sub(r'^BUILD = .*$', f'BUILD = "{nonce}"', source, count=1, flags=re.M)
        if edited == source:
            edited = source + f'\nBUILD = "{nonce}"\n'
        (copy / "indexer.py").write_text(edited)
        lab.say(f"Changed one line of indexer.py (in a copy) and rebuilding as {LAB03_AFTER} ...")
        ok, last = build(lab, copy, LAB03_AFTER)
    if not ok:
        r.add("code edit shows in the image", False, f"the rebuild after a code edit failed: {last}")
        return
    ran = docker("run", "--rm", LAB03_AFTER, timeout=60)
    r.add("code edit shows in the image", nonce in ran.output,
          f"the rebuilt image runs the edited code: {ran.output.strip()[:120]}" if nonce in ran.output else
          "the rebuilt image does not run the edited indexer.py "
          f"(it printed: {(ran.output.strip().splitlines() or ['nothing'])[-1][:120]})")
    lab.say("Comparing the layers of both builds ...")
    before = (inspect_image(LAB03_BEFORE) or {}).get("RootFS", {}).get("Layers") or []
    config = image_config(LAB03_AFTER)
    if config is None:
        r.add("dependency layer reused after a code edit", False, f"could not read the config of {LAB03_AFTER}")
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


def _lab03_solve(lab: Lab) -> None:
    _write_dockerfile(lab, _solution(lab))


def _lab03_teardown(lab: Lab) -> None:
    remove_images(LAB03_BEFORE, LAB03_AFTER)


def _lab03_code_ignored(lab: Lab) -> None:
    _lab03_solve(lab)
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
    setup_fn=_lab03_setup, check_fn=_lab03_check, solve_fn=_lab03_solve, teardown_fn=_lab03_teardown,
    wrong_attempts=[
        WrongAttempt("requirements copied first, but the code too", _solution_variant([
            ("COPY requirements.txt .\n", "COPY requirements.txt .\nCOPY . .\n")]),
            fails="dependency layer reused after a code edit"),
        WrongAttempt("packages typed into the RUN line", _solution_variant([
            ("COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt",
             "RUN pip install --no-cache-dir PyYAML Jinja2")]),
            fails="dependencies come from requirements.txt"),
        WrongAttempt("the code is left out of the image", _lab03_code_ignored,
                     fails="code edit shows in the image"),
    ],
    check_note="Checking: this builds your Dockerfile, edits a copy of the code and builds again "
               "(about 15 s with a warm cache) ...",
))


# ================================================================ registry helpers

def pushed_config(api: registry.RegistryAPI, repository: str, tag: str) -> dict | None:
    """The image config a registry serves for repository:tag (first platform of an index); None if absent."""
    try:
        manifest = api.manifest(repository, tag)
        body = manifest.body
        if manifest.is_index:
            entries = [m for m in body.get("manifests", [])
                       if (m.get("platform") or {}).get("os") not in (None, "unknown")]
            body = api.manifest(repository, entries[0]["digest"]).body
        return api.blob_json(repository, body["config"]["digest"])
    except registry.CourseError as exc:
        if "404" in exc.problem:
            return None
        raise


def _home_docker_config() -> Path:
    return Path.home() / ".docker" / "config.json"


def _fingerprint(path: Path) -> str:
    try:
        return path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return ""


def _has_auth_for(config_text: str, host: str) -> bool:
    try:
        data = json.loads(config_text or "{}")
    except ValueError:
        return False
    return host in (data.get("auths") or {}) or host in (data.get("credHelpers") or {})


# ================================================================ lab04

LAB04_NAMES = {"local": "lab04/ledger-api:2.3.1", "repo": "lab04/payments-ledger", "tag": "2.3.1"}
LAB04_LABEL = "io.ckalab.lab04.build"


def _lab04_target(lab: Lab, cfg=None) -> str:
    cfg = cfg or settings_module.load()
    return f"{cfg.private_registry}/{lab.names['repo']}:{lab.names['tag']}"


def _lab04_state(lab: Lab) -> dict:
    try:
        return json.loads((lab.work_dir / "setup.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _lab04_setup(lab: Lab) -> None:
    cfg = settings_module.load()
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    local = inspect_image(lab.names["local"])
    if local is None or not ((local.get("Config") or {}).get("Labels") or {}).get(LAB04_LABEL):
        build_id = secrets.token_hex(8)
        result = docker("build", "-q", "-t", lab.names["local"], "--label", f"{LAB04_LABEL}={build_id}",
                        str(lab.workload_dir), timeout=300)
        if not result.ok:
            raise registry.CourseError(f"Could not build {lab.names['local']}: {result.output.strip()[-300:]}",
                                       "run `make doctor`, then lab.reset().")
    state = _lab04_state(lab)
    if not state:
        # The learner logs in as part of the task, so the lab starts logged out.
        was_logged_in = _has_auth_for(_fingerprint(cfg.docker_config_dir / "config.json"), cfg.private_registry)
        docker("logout", cfg.private_registry, timeout=30)
        state = {"home_config": _fingerprint(_home_docker_config()), "was_logged_in": was_logged_in}
        (lab.work_dir / "setup.json").write_text(json.dumps(state))
    print(f"Local image {lab.names['local']} is ready; the course's Docker config is logged out of "
          f"{cfg.private_registry}.")


def _lab04_check(lab: Lab, r: CheckResult) -> None:
    cfg = settings_module.load()
    local = inspect_image(lab.names["local"])
    build_id = ((local or {}).get("Config") or {}).get("Labels", {}) or {}
    build_id = build_id.get(LAB04_LABEL)
    if not build_id:
        r.add("logged in with the course's Docker config", False,
              f"the lab's image {lab.names['local']} is missing: run lab.reset()")
        return
    course_config = _fingerprint(cfg.docker_config_dir / "config.json")
    logged_in = _has_auth_for(course_config, cfg.private_registry)
    r.add("logged in with the course's Docker config", logged_in,
          f"{cfg.docker_config_dir / 'config.json'} has a login for {cfg.private_registry}" if logged_in else
          f"the course's Docker config ({cfg.docker_config_dir}) has no login for {cfg.private_registry}: "
          f"`docker login {cfg.private_registry}` in a cell or a terminal where DOCKER_CONFIG is set "
          "(`source .ckalab/env.sh`)")
    state = _lab04_state(lab)
    home_now = _fingerprint(_home_docker_config())
    home_used = home_now != state.get("home_config", home_now) and _has_auth_for(home_now, cfg.private_registry)
    r.add("~/.docker/config.json not used", not home_used,
          "your own ~/.docker/config.json did not get a login for the lab registry" if not home_used else
          f"~/.docker/config.json got a login for {cfg.private_registry} during this lab: that terminal "
          "did not use the course's config; `docker --config ~/.docker logout "
          f"{cfg.private_registry}`, then `source .ckalab/env.sh` and log in again")
    private = registry.api("private", cfg)
    pushed = pushed_config(private, lab.names["repo"], lab.names["tag"])
    if pushed is None:
        tags = []
        try:
            tags = private.tags(lab.names["repo"])
        except registry.CourseError:
            pass
        r.add("pushed to the private registry", False,
              f"{_lab04_target(lab, cfg)} is not in the private registry" +
              (f" (that repository has tags: {', '.join(tags)})" if tags else ""))
    else:
        same = (pushed.get("config") or {}).get("Labels", {}).get(LAB04_LABEL) == build_id
        r.add("pushed to the private registry", same,
              f"{_lab04_target(lab, cfg)} is the lab's image (same build)" if same else
              f"{_lab04_target(lab, cfg)} exists but is not the image {lab.names['local']}: "
              "tag that image and push it")
    open_api = registry.api("open", cfg)
    leaked = []
    try:
        open_tags = open_api.tags(lab.names["repo"])
    except registry.CourseError:
        open_tags = []
    for tag in open_tags:
        config = pushed_config(open_api, lab.names["repo"], tag) or {}
        if (config.get("config") or {}).get("Labels", {}).get(LAB04_LABEL) == build_id:
            leaked.append(f"{cfg.open_registry}/{lab.names['repo']}:{tag}")
    r.add("not in the open registry", not leaked,
          f"the image is not in the open registry {cfg.open_registry}" if not leaked else
          f"it was also pushed to the open registry: {', '.join(leaked)}, where anyone can pull it "
          "without a login; a registry keeps what was pushed, so start over with lab.reset() "
          "(it builds a new image) and push only to the private registry")


def _lab04_solve(lab: Lab) -> None:
    cfg = settings_module.load()
    registry.login(cfg)
    docker("tag", lab.names["local"], _lab04_target(lab, cfg))
    result = docker("push", _lab04_target(lab, cfg), timeout=300)
    if not result.ok:
        raise registry.CourseError(f"docker push failed: {result.output.strip()[-300:]}", "run `make doctor`.")


def _lab04_teardown(lab: Lab) -> None:
    cfg = settings_module.load()
    if _lab04_state(lab).get("was_logged_in"):
        registry.login(cfg)  # leave the course's login as the lab found it
    repo, tag = lab.names["repo"], lab.names["tag"]
    remove_images(lab.names["local"], _lab04_target(lab, cfg), f"{cfg.open_registry}/{repo}:{tag}",
                  f"{cfg.private_registry}/{repo}:latest")


def _lab04_push_open(lab: Lab) -> None:
    cfg = settings_module.load()
    target = f"{cfg.open_registry}/{lab.names['repo']}:{lab.names['tag']}"
    docker("tag", lab.names["local"], target)
    docker("push", target, timeout=300)


def _lab04_push_latest(lab: Lab) -> None:
    cfg = settings_module.load()
    registry.login(cfg)
    target = f"{cfg.private_registry}/{lab.names['repo']}:latest"
    docker("tag", lab.names["local"], target)
    docker("push", target, timeout=300)


def _lab04_login_home(lab: Lab) -> None:
    """Log in and push from a terminal that uses ~/.docker (no DOCKER_CONFIG), as learners do by mistake."""
    from . import shell
    cfg = settings_module.load()
    env = shell.course_env(cfg)
    env.pop("DOCKER_CONFIG")
    creds = registry.credentials(cfg)
    shell.run(["docker", "login", cfg.private_registry, "-u", creds.username, "--password-stdin"],
              input=creds.password, env=env, timeout=60)
    docker("tag", lab.names["local"], _lab04_target(lab, cfg))
    shell.run(["docker", "push", _lab04_target(lab, cfg)], env=env, timeout=300)


register(Lab(
    id="lab04-push-private",
    title="Push the ledger-api release to the private registry",
    level="docker",
    checks=["logged in with the course's Docker config", "~/.docker/config.json not used",
            "pushed to the private registry", "not in the open registry"],
    first_failure="logged in with the course's Docker config",
    hints=[
        "An image goes to the registry named in its reference. `docker image ls lab04/ledger-api` "
        "shows the local name; it has no registry part, so it would go to Docker Hub.",
        "`docker tag` adds the full name (localhost:5002/lab04/payments-ledger:2.3.1) to the same image. "
        "localhost:5002 asks for a login: `docker login localhost:5002` with the lab credentials "
        "(`python -m ckalab credentials`), from a cell or a terminal that ran `source .ckalab/env.sh`.",
        "docker login localhost:5002 -u student --password-stdin (paste the password), then "
        "`docker tag lab04/ledger-api:2.3.1 localhost:5002/lab04/payments-ledger:2.3.1` and "
        "`docker push localhost:5002/lab04/payments-ledger:2.3.1`.",
    ],
    setup_fn=_lab04_setup, check_fn=_lab04_check, solve_fn=_lab04_solve, teardown_fn=_lab04_teardown,
    wrong_attempts=[
        WrongAttempt("pushed to the open registry", _lab04_push_open, fails="not in the open registry"),
        WrongAttempt("pushed as latest", _lab04_push_latest, fails="pushed to the private registry"),
        WrongAttempt("logged in with ~/.docker", _lab04_login_home, fails="~/.docker/config.json not used"),
    ],
    names=LAB04_NAMES,
))


# ================================================================ lab05

LAB05_NAME, LAB05_NAMESPACE = "ledger-pull", "payments"


def _lab05_file(lab: Lab) -> Path:
    return lab.work_dir / "secret.yaml"


def _lab05_setup(lab: Lab) -> None:
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    print(f"Write the Secret manifest to {_lab05_file(lab).relative_to(settings_module.load().root)}.")


def _server_host(key: str) -> str:
    return re.sub(r"^[a-z]+://", "", key).split("/", 1)[0]


def _lab05_check(lab: Lab, r: CheckResult) -> None:
    from . import pullsecrets, validate
    cfg = settings_module.load()
    path = _lab05_file(lab)
    rel = path.relative_to(cfg.root)
    if not path.exists():
        r.add("valid Secret manifest", False, f"{rel} does not exist yet")
        return
    findings = validate.manifests(path)
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except yaml.YAMLError:
        docs = []
    secret = docs[0] if len(docs) == 1 and isinstance(docs[0], dict) else None
    if findings or secret is None or secret.get("kind") != "Secret":
        r.add("valid Secret manifest", False,
              "; ".join(map(str, findings[:2])) if findings else f"{rel} must hold exactly one Secret")
        return
    r.add("valid Secret manifest", True, f"{rel} is a valid v1 Secret (Kubernetes {validate.KUBERNETES_VERSION})")
    meta = secret.get("metadata") or {}
    right = meta.get("name") == LAB05_NAME and meta.get("namespace") == LAB05_NAMESPACE
    r.add("name and namespace", right,
          f"{LAB05_NAMESPACE}/{LAB05_NAME}" if right else
          f"it is {meta.get('namespace', '(no namespace)')}/{meta.get('name')}, not {LAB05_NAMESPACE}/{LAB05_NAME}: "
          "a Pod can only use a pull Secret from its own namespace")
    kind = secret.get("type") or "Opaque"
    r.add(f"type {pullsecrets.SECRET_TYPE}", kind == pullsecrets.SECRET_TYPE,
          f"type {kind}" if kind == pullsecrets.SECRET_TYPE else
          f"type is {kind}: the kubelet only reads pull credentials from type {pullsecrets.SECRET_TYPE}")
    try:
        config = pullsecrets.decode({**secret, "type": pullsecrets.SECRET_TYPE})
    except registry.CourseError as exc:
        r.add(f"key {pullsecrets.DATA_KEY}", False, exc.problem)
        return
    r.add(f"key {pullsecrets.DATA_KEY}", True, f"{pullsecrets.DATA_KEY} holds a Docker config with 'auths'")
    wanted = cfg.private_registry_in_cluster
    keys = [k for k in config["auths"] if _server_host(k) == wanted]
    r.add(f"server {wanted}", bool(keys),
          f"credentials for {keys[0]}" if keys else
          f"credentials are for {', '.join(config['auths']) or 'no registry'}; the nodes pull this image as "
          f"{wanted}/... and the kubelet picks credentials by that host, so the server must be {wanted}")
    server = keys[0] if keys else (next(iter(config["auths"]), None))
    if server is None:
        r.add("credentials log in to the registry", False, "there are no credentials in it")
        return
    try:
        ok = pullsecrets.authenticates({**secret, "type": pullsecrets.SECRET_TYPE},
                                       f"http://{cfg.private_registry}", server=server)
    except registry.CourseError as exc:
        r.add("credentials log in to the registry", False, exc.problem)
        return
    r.add("credentials log in to the registry", ok,
          f"GET http://{cfg.private_registry}/v2/ with them answers 200" if ok else
          f"the registry answers 401 Unauthorized to these credentials: use the lab's username and password")


def _lab05_kubectl(lab: Lab, name: str, namespace: str, server: str, password: str | None = None) -> None:
    from . import pullsecrets, shell
    creds = registry.credentials()
    password = creds.password if password is None else password
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    if shell.which("kubectl"):
        result = shell.run(["kubectl", "create", "secret", "docker-registry", name, "-n", namespace,
                            f"--docker-server={server}", f"--docker-username={creds.username}",
                            f"--docker-password={password}", "--dry-run=client", "-o", "yaml"], timeout=30)
        if result.ok:
            _lab05_file(lab).write_text(result.output)
            return
    _lab05_file(lab).write_text(yaml.safe_dump(pullsecrets.secret_manifest(
        name, server, creds.username, password, namespace=namespace), sort_keys=False))


def _lab05_solve(lab: Lab) -> None:
    _lab05_kubectl(lab, LAB05_NAME, LAB05_NAMESPACE, settings_module.load().private_registry_in_cluster)


def _lab05_teardown(lab: Lab) -> None:
    pass


def _lab05_opaque(lab: Lab) -> None:
    from . import pullsecrets
    creds = registry.credentials()
    config = pullsecrets.dockerconfigjson(settings_module.load().private_registry_in_cluster,
                                          creds.username, creds.password)
    manifest = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": LAB05_NAME, "namespace": LAB05_NAMESPACE},
                "data": {"config.json": base64.b64encode(json.dumps(config).encode()).decode()}}
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    _lab05_file(lab).write_text(yaml.safe_dump(manifest, sort_keys=False))


def _lab05_wrong_key(lab: Lab) -> None:
    _lab05_solve(lab)
    text = _lab05_file(lab).read_text().replace("  .dockerconfigjson:", "  config.json:")
    _lab05_file(lab).write_text(text)


register(Lab(
    id="lab05-pull-secret-manifest",
    title="Write the pull Secret for the private registry",
    level="docker",
    checks=["valid Secret manifest", "name and namespace", "type kubernetes.io/dockerconfigjson",
            "key .dockerconfigjson", "server private-registry:5000", "credentials log in to the registry"],
    first_failure="valid Secret manifest",
    hints=[
        "kubectl can write the manifest without a cluster: `kubectl create ... --dry-run=client -o yaml`. "
        "Which `kubectl create secret` subcommand makes a Secret of type kubernetes.io/dockerconfigjson?",
        "`kubectl create secret docker-registry NAME -n NAMESPACE --docker-server=... --docker-username=... "
        "--docker-password=...`. The server is the registry host as the NODES pull it (the host written "
        "in the Pod's image), not the localhost:5002 your machine uses.",
        "kubectl create secret docker-registry ledger-pull -n payments --docker-server=private-registry:5000 "
        "--docker-username=student --docker-password=<the lab password> --dry-run=client -o yaml "
        "> .ckalab/work/lab05/secret.yaml",
    ],
    setup_fn=_lab05_setup, check_fn=_lab05_check, solve_fn=_lab05_solve, teardown_fn=_lab05_teardown,
    wrong_attempts=[
        WrongAttempt("server localhost:5002", lambda lab: _lab05_kubectl(
            lab, LAB05_NAME, LAB05_NAMESPACE, settings_module.load().private_registry),
            fails="server private-registry:5000"),
        WrongAttempt("wrong password", lambda lab: _lab05_kubectl(
            lab, LAB05_NAME, LAB05_NAMESPACE, settings_module.load().private_registry_in_cluster,
            password="not-the-password"), fails="credentials log in to the registry"),
        WrongAttempt("Opaque Secret holding a config.json", _lab05_opaque,
                     fails="type kubernetes.io/dockerconfigjson"),
        WrongAttempt("key named config.json", _lab05_wrong_key, fails="key .dockerconfigjson"),
        WrongAttempt("default namespace", lambda lab: _lab05_kubectl(
            lab, LAB05_NAME, "default", settings_module.load().private_registry_in_cluster),
            fails="name and namespace"),
    ],
))


# ================================================================ lab06

LAB06_REPO = "lab06/ledger-api"
LAB06_TAGS = ("1.3", "1.4")


def _lab06_image(tag: str) -> str:
    return f"{settings_module.load().open_registry}/{LAB06_REPO}:{tag}"


def _lab06_file(lab: Lab) -> Path:
    return lab.work_dir / "deployment.yaml"


def _lab06_setup(lab: Lab) -> None:
    lab.place("deployment.yaml")
    api = registry.api("open")
    for tag in LAB06_TAGS:
        image = _lab06_image(tag)
        if inspect_image(image) is not None and pushed_config(api, LAB06_REPO, tag) is not None:
            continue
        with tempfile.TemporaryDirectory(prefix="lab06-") as tmp:
            shutil.copy(lab.workload_dir / "Dockerfile", tmp)
            Path(tmp, "release.txt").write_text(f"ledger-api {tag} build {secrets.token_hex(6)}\n")
            result = docker("build", "-q", "-t", image, tmp, timeout=300)
        push = docker("push", image, timeout=300) if result.ok else result
        if not push.ok:
            raise registry.CourseError(f"Could not build and push {image}: {push.output.strip()[-300:]}",
                                       "run `make doctor`, then lab.reset().")
    print(f"{_lab06_image('1.3')} and {_lab06_image('1.4')} are in the open registry.")


def _lab06_check(lab: Lab, r: CheckResult) -> None:
    from . import references, validate
    cfg = settings_module.load()
    path = _lab06_file(lab)
    rel = path.relative_to(cfg.root)
    findings = validate.manifests(path)
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d] if path.exists() else []
    except yaml.YAMLError:
        docs = []
    deployment = next((d for d in docs if isinstance(d, dict) and d.get("kind") == "Deployment"), None)
    if findings or deployment is None:
        r.add("valid Deployment manifest", False,
              "; ".join(map(str, findings[:2])) if findings else f"{rel} holds no Deployment")
        return
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    image = (containers[0] if containers else {}).get("image", "")
    r.add("valid Deployment manifest", True, f"{rel}: Deployment {deployment['metadata'].get('name')}, image {image}")
    try:
        ref = references.parse(image)
    except registry.CourseError as exc:
        r.add("pinned by digest", False, exc.problem)
        return
    r.add("pinned by digest", bool(ref.digest),
          f"the image is pinned to {ref.digest}" if ref.digest else
          f"`{image}` names a tag only: a tag can be moved to other content; add @sha256:<digest>")
    repository = f"{cfg.open_registry}/{LAB06_REPO}"
    right_repo = ref.name == repository
    r.add("same repository", right_repo,
          repository if right_repo else f"the image is {ref.name}, not {repository}")
    if not ref.digest:
        return
    served = registry.api("open", cfg).manifest(LAB06_REPO, "1.4").digest
    r.add("digest the registry serves for 1.4", ref.digest == served,
          f"matches the Docker-Content-Digest of {repository}:1.4" if ref.digest == served else
          f"{ref.digest[:19]}... is not {served[:19]}..., the digest the registry reports for 1.4 "
          "(an image ID or another tag's digest does not match: ask the registry)")


def _lab06_pin(lab: Lab, digest: str, repository: str | None = None, keep_tag: bool = True) -> None:
    lab.place("deployment.yaml")
    repository = repository or f"{settings_module.load().open_registry}/{LAB06_REPO}"
    reference = f"{repository}:1.4@{digest}" if keep_tag else f"{repository}@{digest}"
    text = _lab06_file(lab).read_text()
    _lab06_file(lab).write_text(re.sub(r"image: .*", f"image: {reference}", text, count=1))


def _lab06_config_digest() -> str:
    """The digest of 1.4's image config: what `docker image ls` shows as IMAGE ID with the classic store."""
    api = registry.api("open")
    manifest = api.manifest(LAB06_REPO, "1.4")
    body = manifest.body
    if manifest.is_index:
        body = api.manifest(LAB06_REPO, body["manifests"][0]["digest"]).body
    return body["config"]["digest"]


def _lab06_solve(lab: Lab) -> None:
    _lab06_pin(lab, registry.api("open").manifest(LAB06_REPO, "1.4").digest, keep_tag=False)


def _lab06_teardown(lab: Lab) -> None:
    remove_images(*(_lab06_image(tag) for tag in LAB06_TAGS))


register(Lab(
    id="lab06-pin-digest",
    title="Pin ledger-api to the digest the registry serves",
    level="docker",
    checks=["valid Deployment manifest", "pinned by digest", "same repository",
            "digest the registry serves for 1.4"],
    first_failure="pinned by digest",
    hints=[
        "A digest is the sha256 of the manifest the registry serves. Ask the registry for "
        "localhost:5001/lab06/ledger-api:1.4, not the local image ID.",
        "`docker buildx imagetools inspect localhost:5001/lab06/ledger-api:1.4` prints it as Digest:, and "
        "the registry API sends it in the Docker-Content-Digest header of "
        "GET /v2/lab06/ledger-api/manifests/1.4 (`ck.registry.api('open').manifest(...)`).",
        "Set the image to localhost:5001/lab06/ledger-api@sha256:<that digest> in "
        ".ckalab/work/lab06/deployment.yaml (keeping :1.4 before the @ is allowed; the digest decides).",
    ],
    setup_fn=_lab06_setup, check_fn=_lab06_check, solve_fn=_lab06_solve, teardown_fn=_lab06_teardown,
    wrong_attempts=[
        WrongAttempt("config digest (the classic image ID) instead of the manifest digest", lambda lab: _lab06_pin(
            lab, _lab06_config_digest()), fails="digest the registry serves for 1.4"),
        WrongAttempt("digest of 1.3", lambda lab: _lab06_pin(
            lab, registry.api("open").manifest(LAB06_REPO, "1.3").digest),
            fails="digest the registry serves for 1.4"),
        WrongAttempt("tag only", lambda lab: lab.place("deployment.yaml", overwrite=True),
                     fails="pinned by digest"),
        WrongAttempt("digest on another repository", lambda lab: _lab06_pin(
            lab, registry.api("open").manifest(LAB06_REPO, "1.4").digest,
            repository=f"{settings_module.load().open_registry}/lab06/ledger"), fails="same repository"),
    ],
))
