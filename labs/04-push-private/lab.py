"""Lab 04: Push the ledger-api release to the private registry."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from ckalab import registry
from ckalab import settings as settings_module
from ckalab.checks import CheckResult
from ckalab.docker_checks import docker, inspect_image, pushed_config, remove_images
from ckalab.labs import Lab, WrongAttempt, register

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


NAMES = {"local": "lab04/ledger-api:2.3.1", "repo": "lab04/payments-ledger", "tag": "2.3.1"}
LABEL = "io.ckalab.lab04.build"


def _target(lab: Lab, cfg=None) -> str:
    cfg = cfg or settings_module.load()
    return f"{cfg.private_registry}/{lab.names['repo']}:{lab.names['tag']}"


def _state(lab: Lab) -> dict:
    try:
        return json.loads((lab.work_dir / "setup.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _setup(lab: Lab) -> None:
    cfg = settings_module.load()
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    local = inspect_image(lab.names["local"])
    if local is None or not ((local.get("Config") or {}).get("Labels") or {}).get(LABEL):
        build_id = secrets.token_hex(8)
        result = docker("build", "-q", "-t", lab.names["local"], "--label", f"{LABEL}={build_id}",
                        str(lab.files), timeout=300)
        if not result.ok:
            raise registry.CourseError(f"Could not build {lab.names['local']}: {result.output.strip()[-300:]}",
                                       "run `make doctor`, then lab.reset().")
    state = _state(lab)
    if not state:
        # The learner logs in as part of the task, so the lab starts logged out.
        was_logged_in = _has_auth_for(_fingerprint(cfg.docker_config_dir / "config.json"), cfg.private_registry)
        docker("logout", cfg.private_registry, timeout=30)
        state = {"home_config": _fingerprint(_home_docker_config()), "was_logged_in": was_logged_in}
        (lab.work_dir / "setup.json").write_text(json.dumps(state))
    print(f"Local image {lab.names['local']} is ready; the course's Docker config is logged out of "
          f"{cfg.private_registry}.")


def _check(lab: Lab, r: CheckResult) -> None:
    cfg = settings_module.load()
    local = inspect_image(lab.names["local"])
    build_id = ((local or {}).get("Config") or {}).get("Labels", {}) or {}
    build_id = build_id.get(LABEL)
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
    state = _state(lab)
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
              f"{_target(lab, cfg)} is not in the private registry" +
              (f" (that repository has tags: {', '.join(tags)})" if tags else ""))
    else:
        same = (pushed.get("config") or {}).get("Labels", {}).get(LABEL) == build_id
        r.add("pushed to the private registry", same,
              f"{_target(lab, cfg)} is the lab's image (same build)" if same else
              f"{_target(lab, cfg)} exists but is not the image {lab.names['local']}: "
              "tag that image and push it")
    open_api = registry.api("open", cfg)
    leaked = []
    try:
        open_tags = open_api.tags(lab.names["repo"])
    except registry.CourseError:
        open_tags = []
    for tag in open_tags:
        config = pushed_config(open_api, lab.names["repo"], tag) or {}
        if (config.get("config") or {}).get("Labels", {}).get(LABEL) == build_id:
            leaked.append(f"{cfg.open_registry}/{lab.names['repo']}:{tag}")
    r.add("not in the open registry", not leaked,
          f"the image is not in the open registry {cfg.open_registry}" if not leaked else
          f"it was also pushed to the open registry: {', '.join(leaked)}, where anyone can pull it "
          "without a login; a registry keeps what was pushed, so start over with lab.reset() "
          "(it builds a new image) and push only to the private registry")


def _solve(lab: Lab) -> None:
    cfg = settings_module.load()
    registry.login(cfg)
    docker("tag", lab.names["local"], _target(lab, cfg))
    result = docker("push", _target(lab, cfg), timeout=300)
    if not result.ok:
        raise registry.CourseError(f"docker push failed: {result.output.strip()[-300:]}", "run `make doctor`.")


def _teardown(lab: Lab) -> None:
    cfg = settings_module.load()
    if _state(lab).get("was_logged_in"):
        registry.login(cfg)  # leave the course's login as the lab found it
    repo, tag = lab.names["repo"], lab.names["tag"]
    remove_images(lab.names["local"], _target(lab, cfg), f"{cfg.open_registry}/{repo}:{tag}",
                  f"{cfg.private_registry}/{repo}:latest")


def _push_open(lab: Lab) -> None:
    cfg = settings_module.load()
    target = f"{cfg.open_registry}/{lab.names['repo']}:{lab.names['tag']}"
    docker("tag", lab.names["local"], target)
    docker("push", target, timeout=300)


def _push_latest(lab: Lab) -> None:
    cfg = settings_module.load()
    registry.login(cfg)
    target = f"{cfg.private_registry}/{lab.names['repo']}:latest"
    docker("tag", lab.names["local"], target)
    docker("push", target, timeout=300)


def _login_home(lab: Lab) -> None:
    """Log in and push from a terminal that uses ~/.docker (no DOCKER_CONFIG), as learners do by mistake."""
    from ckalab import shell
    cfg = settings_module.load()
    env = shell.course_env(cfg)
    env.pop("DOCKER_CONFIG")
    creds = registry.credentials(cfg)
    shell.run(["docker", "login", cfg.private_registry, "-u", creds.username, "--password-stdin"],
              input=creds.password, env=env, timeout=60)
    docker("tag", lab.names["local"], _target(lab, cfg))
    shell.run(["docker", "push", _target(lab, cfg)], env=env, timeout=300)


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
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("pushed to the open registry", _push_open, fails="not in the open registry"),
        WrongAttempt("pushed as latest", _push_latest, fails="pushed to the private registry"),
        WrongAttempt("logged in with ~/.docker", _login_home, fails="~/.docker/config.json not used"),
    ],
    names=NAMES,
))
