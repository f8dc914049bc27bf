#!/usr/bin/env bash
# CI only: act as a learner before `make test`, so that the learner-state check of `make test`
# has something to protect: quiz progress, an edited lab file, a registry login, and an image of
# the learner's own in each registry. Prints the CKALAB_LEARNER_IMAGES line for `eval`.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
open=localhost:5001/learner/my-app:1.0
private=localhost:5002/learner/my-app:1.0
"$py" - >&2 <<'PY'
from ckalab import progress, registry, settings
cfg = settings.load()
progress.record_quiz("01-first-image", 5, 7, {"1": ["A"]})
work = cfg.state_dir / "work" / "lab01"
work.mkdir(parents=True, exist_ok=True)
(work / "Dockerfile").write_text("FROM python:3.13-slim\n# the learner's unfinished edit\n")
registry.login(cfg)
PY
export DOCKER_CONFIG="$PWD/.ckalab/docker"
# A build of the learner's own (a label makes it unlike any image the course pushes).
printf 'FROM debian:trixie-slim\nLABEL org.example.owner=learner\n' | docker build -q -t "$open" - >&2
docker tag "$open" "$private"
docker push -q "$open" >&2
docker push -q "$private" >&2
echo "export CKALAB_LEARNER_IMAGES='$open $private'"
