"""A fingerprint of the learner's own state, to prove that the test suite leaves it alone.

`make test` runs against a state directory of its own (CKALAB_STATE_DIR). This module records,
before and after, what belongs to the learner: every file of the checkout's `.ckalab/`
(progress, reports, lab work, kubeconfig, Docker config), the shared registry credentials, the
emulators registered in the kernel's binfmt_misc (lesson 13 may add one, and must remove it), and
the digests of any images named on the command line (CI pushes one to each registry first).

    python -m ckalab learner-state save build/learner-state.json [IMAGE ...]
    python -m ckalab learner-state compare build/learner-state.json
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import settings as settings_module
from .errors import CourseError


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def learner_files(cfg: settings_module.Settings) -> dict[str, str]:
    """sha256 of every file of the checkout's own .ckalab/ and of the shared credentials."""
    own = cfg.root / ".ckalab"
    files = {str(p): _sha256(p) for p in sorted(own.rglob("*")) if p.is_file()} if own.is_dir() else {}
    creds = cfg.auth_dir / "credentials.json"
    files[str(creds)] = _sha256(creds) if creds.exists() else "absent"
    return files


BINFMT = Path("/proc/sys/fs/binfmt_misc")


def emulators(folder: Path = BINFMT) -> dict[str, str]:
    """binfmt_misc's handlers and whether each is enabled; nothing where it is not mounted here
    (an engine in a VM, as on Docker Desktop, keeps its own)."""
    if not (folder / "status").exists():
        return {}
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.name in ("register", "status"):
            continue
        try:
            found[entry.name] = entry.read_text().splitlines()[0]
        except (OSError, IndexError):
            found[entry.name] = "unreadable"
    return found


def image_digest(reference: str, cfg: settings_module.Settings) -> str:
    """The manifest digest a course registry serves for `host:port/repo:tag`."""
    from .registry import api
    host, _, rest = reference.partition("/")
    repository, _, tag = rest.rpartition(":")
    which = {cfg.open_registry: "open", cfg.private_registry: "private"}.get(host)
    if which is None or not repository:
        raise CourseError(f"{reference} is not an image in one of the course's registries.",
                          f"name it as {cfg.open_registry}/REPO:TAG or {cfg.private_registry}/REPO:TAG.")
    try:
        return api(which, cfg).manifest(repository, tag).digest
    except CourseError as exc:
        return "absent" if "404" in exc.message else f"unreadable: {exc.message}"
    except Exception as exc:  # requests' connection errors: the registry is not running
        return f"unreadable: {type(exc).__name__}"


def snapshot(images: list[str] | None = None, cfg: settings_module.Settings | None = None) -> dict:
    cfg = cfg or settings_module.load()
    return {"files": learner_files(cfg), "emulators": emulators(),
            "images": {ref: image_digest(ref, cfg) for ref in images or []}}


def differences(before: dict, after: dict) -> list[str]:
    """One line per file or image that is not byte-identical to what it was."""
    lines = []
    for kind in ("files", "emulators", "images"):
        old, new = before.get(kind, {}), after.get(kind, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                state = ("created" if key not in old or old[key] == "absent" else
                         "removed" if key not in new or new[key] == "absent" else "changed")
                lines.append(f"{kind[:-1]} {key}: {state}")   # "file", "emulator", "image"
    return lines


def save(path: Path, images: list[str]) -> dict:
    data = snapshot(images)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return data


def compare(path: Path) -> list[str]:
    if not path.exists():
        raise CourseError(f"There is no saved learner state at {path}.",
                          f"run `python -m ckalab learner-state save {path}` before the run you check.")
    before = json.loads(path.read_text())
    return differences(before, snapshot(list(before.get("images", {}))))
