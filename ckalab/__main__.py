"""Command line: `python -m ckalab doctor|registries|registries-reset|cluster|cluster-delete|report`."""

from __future__ import annotations

import argparse
import json
import sys

from . import cells, cluster, doctor, registry, settings
from .errors import CourseError


def _report() -> int:
    cfg = settings.load()
    rows = []
    for path in sorted(cfg.reports_dir.glob("*.jsonl")):
        counts = cells.read_report(path.stem)
        rows.append((path.stem, counts))
    print(f"{'notebook':40} {'docker run/skip':>16} {'cluster run/skip':>17}")
    for name, counts in rows:
        d = counts.get("docker", {"executed": 0, "skipped": 0})
        c = counts.get("cluster", {"executed": 0, "skipped": 0})
        print(f"{name:40} {d['executed']:>10}/{d['skipped']:<5} {c['executed']:>11}/{c['skipped']:<5}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ckalab", description=__doc__)
    parser.add_argument("command", choices=["doctor", "registries", "registries-delete", "registries-reset",
                                            "cluster", "cluster-delete", "report", "credentials"])
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
            for name in ("credentials.json", "htpasswd"):
                (cfg.auth_dir / name).unlink(missing_ok=True)
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
        elif args.command == "report":
            return _report()
    except CourseError as exc:
        print(f"ckalab: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
