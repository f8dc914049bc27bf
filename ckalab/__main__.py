"""Command line: `python -m ckalab doctor|registries|registries-reset|cluster|cluster-delete|builder-delete|report|
learner-state`."""

from __future__ import annotations

import argparse
import json
import sys

from . import cells, cluster, doctor, multiplatform, registry, settings
from .errors import CourseError


def _report() -> int:
    """The run reports there are: a `make test` run's papermill and nbval passes (build/reports),
    and the learner's own notebook runs (.ckalab/reports, or CKALAB_REPORTS)."""
    cfg = settings.load()
    sections = [(cfg.root / "build" / "reports" / "papermill", "make test, papermill pass"),
                (cfg.root / "build" / "reports" / "nbval", "make test, nbval pass"),
                (cfg.reports_dir, "your own notebook runs")]
    shown = 0
    for folder, title in sections:
        if folder.is_dir() and any(folder.glob("*.jsonl")):
            print(f"== {title}: live cells executed/skipped ({folder})")
            print("\n".join(cells.report_lines(folder)) + "\n")
            shown += 1
    cycles = cfg.root / "build" / "reports" / "cycles"
    if cycles.is_dir() and any(cycles.glob("*.jsonl")):
        print(f"== make test, cycles phase: each lab's full cycle ({cycles})\n"
              "setup, the Check failing first, every known-wrong attempt failing, the solution, the Check passing,\n"
              "teardown. make test runs a lab's notebook without its solution cell (SOLVE = False): it runs here.")
        print("\n".join(cells.cycle_report_lines(cycles)) + "\n")
        shown += 1
    if not shown:
        print("No run reports yet: run a notebook, or `make test`.")
    return 0


def _learner_state(argv: list[str]) -> int:
    from pathlib import Path
    from . import learner_state
    if len(argv) < 2 or argv[0] not in ("save", "compare"):
        raise CourseError("learner-state needs an action and a file.",
                          "run `python -m ckalab learner-state save FILE [IMAGE ...]`, "
                          "later `python -m ckalab learner-state compare FILE`.")
    path = Path(argv[1])
    if argv[0] == "save":
        data = learner_state.save(path, argv[2:])
        print(f"Learner state saved to {path}: {len(data['files'])} files, {len(data['images'])} images.")
        return 0
    changed = learner_state.compare(path)
    if changed:
        print("The learner's own state changed:\n  " + "\n  ".join(changed), file=sys.stderr)
        return 1
    print(f"Learner state unchanged since {path} was saved.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ckalab", description=__doc__)
    parser.add_argument("command", choices=["doctor", "registries", "registries-delete", "registries-reset",
                                            "cluster", "cluster-delete", "builder-delete", "report", "credentials",
                                            "learner-state"])
    parser.add_argument("args", nargs="*", help="learner-state: save|compare FILE [IMAGE ...]")
    parser.add_argument("--json", action="store_true", help="doctor: print the checks as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "doctor":
            env = doctor.diagnose()
            if args.json:
                print(json.dumps({"level": env.level, "checks": [c.__dict__ for c in env.checks]}, indent=2))
            else:
                print(env)
            return 0
        if args.command == "registries":
            registry.up()
            cfg = settings.load()
            print(f"Registries up: open {cfg.open_registry}, private {cfg.private_registry} "
                  f"(login: `python -m ckalab credentials`).")
        elif args.command == "registries-delete":
            print("Removed:", ", ".join(registry.down()) or "nothing")
        elif args.command == "registries-reset":
            registry.down()
            cfg = settings.load()
            for folder in (cfg.auth_dir, cfg.legacy_auth_dir):
                for name in ("credentials.json", "htpasswd"):
                    (folder / name).unlink(missing_ok=True)
            registry.up()
            print("Registries recreated with new lab credentials.")
        elif args.command == "credentials":
            creds = registry.credentials()
            print(f"private registry {settings.load().private_registry}: "
                  f"username {creds.username}  password {creds.password}  (lab-only)")
        elif args.command == "cluster":
            cluster.create()
        elif args.command == "cluster-delete":
            cluster.delete()
        elif args.command == "builder-delete":
            name, container = multiplatform.builder(), multiplatform.builder_container()
            if multiplatform.remove_builder():
                print(f"Removed the builder {name}; its build cache stays in the volume {container}_state.")
            else:
                print(f"No builder {name} to remove.")
        elif args.command == "report":
            return _report()
        elif args.command == "learner-state":
            return _learner_state(args.args)
    except CourseError as exc:
        print(f"ckalab: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
