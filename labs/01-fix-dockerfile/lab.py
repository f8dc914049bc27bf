"""Lab 01: Fix the ledger-api Dockerfile."""

from __future__ import annotations

import json
import time

from ckalab.checks import CheckResult
from ckalab.docker_checks import (ARCHIVE, build, container_state, docker, dockerfile_instructions,
                                  inspect_image, is_shell_form, last_log_line, read_or_none,
                                  reference_dockerfile, remove_containers, remove_images, run_detached,
                                  solution_variant, URL_SOURCE, wait_http, write_dockerfile)
from ckalab.labs import Lab, WrongAttempt, register

NAMES = {"image": "lab01/ledger-api:check", "run": "lab01-ledger-api", "args": "lab01-ledger-args",
               "port": 19001, "args_port": 19002}


def _setup(lab: Lab) -> None:
    for name in ("app.py", "ledger.conf", "Dockerfile.broken"):
        lab.place(name)


def _check(lab: Lab, r: CheckResult) -> None:
    text = read_or_none(lab.work_dir / "Dockerfile")
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


def _solve(lab: Lab) -> None:
    write_dockerfile(lab, reference_dockerfile(lab))


def _teardown(lab: Lab) -> None:
    remove_containers(lab.names["run"], lab.names["args"])
    remove_images(lab.names["image"])


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
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("ADD kept for local files", solution_variant([
            ("COPY ledger.conf", "ADD ledger.conf"), ("COPY app.py", "ADD app.py")]),
            fails="no ADD for local files"),
        WrongAttempt("shell-form ENTRYPOINT kept", solution_variant([
            ('ENTRYPOINT ["python", "app.py"]', "ENTRYPOINT python app.py")]),
            fails="exec-form ENTRYPOINT/CMD"),
        WrongAttempt("sh -c written in JSON form", solution_variant([
            ('ENTRYPOINT ["python", "app.py"]\nCMD ["--port", "8080"]',
             'ENTRYPOINT ["sh", "-c", "python app.py --port 8080"]')]),
            fails="stops within 3 s"),
        WrongAttempt("CMD repeats the program", solution_variant([
            ('CMD ["--port", "8080"]', 'CMD ["python", "app.py", "--port", "8080"]')]),
            fails="answers on port 8080"),
        WrongAttempt("everything in CMD, no ENTRYPOINT", solution_variant([
            ('ENTRYPOINT ["python", "app.py"]\nCMD ["--port", "8080"]',
             'CMD ["python", "app.py", "--port", "8080"]')]),
            fails="run arguments reach the app"),
    ],
    check_note="Checking: this builds your Dockerfile, runs it twice and stops it (about 10 s) ...",
    names=NAMES,
))
