"""ckalab.commands: equivalent spellings compare equal, different commands do not, bad input
gets a sentence (never a traceback), and every near-miss in the banks gets its own explanation."""

from __future__ import annotations

import pytest

from ckalab import commands, quiz_banks
from ckalab.commands import CommandError, equivalent, matches, parse, try_parse

SAME = [
    # kubectl resources: type/name, type name, aliases, plural, group suffix
    ("kubectl set image deploy/web web=nginx:1.27", "kubectl set image deployment web web=nginx:1.27"),
    ("kubectl set image deployments/web web=nginx:1.27", "kubectl set image deployment.apps/web web=nginx:1.27"),
    ("kubectl get po", "kubectl get pods"),
    ("kubectl get sa", "kubectl get serviceaccounts"),
    ("kubectl get secret regcred", "kubectl get secrets/regcred"),
    ("kubectl get pods web db", "kubectl get pod/db pod/web"),
    ("kubectl logs web-1", "kubectl logs pod/web-1"),
    # flags: short/long, = or space, order, global flags before the verb, k alias
    ("kubectl -n shop get pods -o yaml", "kubectl get pods --output=yaml --namespace shop"),
    ("kubectl get pods -nshop", "kubectl get pods -n=shop"),
    ("kubectl apply -f a.yaml", "kubectl apply --filename=a.yaml"),
    ("kubectl get pods -n default", "kubectl get pods"),
    ("k get deploy", "kubectl get deployments"),
    ("kubectl create deployment web --image=nginx:1.27", "kubectl create deploy web --image nginx:1.27"),
    ("kubectl exec -it web -- sh", "kubectl exec web --stdin --tty -- sh"),
    ("kubectl logs web -p", "kubectl logs web --previous"),
    ("kubectl patch sa default -p '{\"a\": [1]}'", "kubectl patch serviceaccount default --patch='{\"a\":[1]}'"),
    # docker: management commands, tags, flags
    ("docker build -t x .", "docker build --tag x ."),
    ("docker build -t x .", "docker image build --tag=x ."),
    ("docker build -t x .", "docker buildx build -t x ."),
    ("docker build -t a -t b .", "docker build --tag b --tag a ."),
    ("docker push r/x:1", "docker image push r/x:1"),
    ("docker tag a:1 r/a:1", "docker image tag a:1 r/a:1"),
    ("docker images", "docker image ls"),
    ("docker rmi x:1", "docker image rm x:1"),
    ("docker run -it --rm img sh", "docker container run --rm -i -t img sh"),
    ("$ docker ps -a", "docker container ls --all"),
]

DIFFERENT = [
    ("docker tag a:1 r/a:1", "docker tag r/a:1 a:1"),                     # argument order matters
    ("kubectl set image deploy/web web=x:1", "kubectl set image deploy/web app=x:1"),
    ("kubectl get pods -n shop", "kubectl get pods"),
    ("kubectl get pods", "kubectl get pods -A"),
    ("docker build -t x .", "docker build -t y ."),
    ("docker run img sh", "docker run img bash"),
    ("docker run img -v", "docker run -v img"),                           # after the image: the command
    ("kubectl create secret docker-registry r", "kubectl create secret generic r"),
    ("kubectl rollout undo deploy/web", "kubectl rollout history deploy/web"),
]


@pytest.mark.parametrize("a,b", SAME)
def test_equivalent_spellings(a, b):
    assert equivalent(a, b), f"{parse(a)}  !=  {parse(b)}"


@pytest.mark.parametrize("a,b", DIFFERENT)
def test_different_commands_differ(a, b):
    assert not equivalent(a, b)


def test_current_namespace_is_a_parameter():
    assert equivalent("kubectl get pods", "kubectl get pods -n shop", namespace="shop")
    assert parse("kubectl get pods").flags["namespace"] == "default"
    assert "namespace" not in parse("kubectl get pods -A").flags


@pytest.mark.parametrize("line,words", [
    ("", "Type a command first"),
    ("   ", "Type a command first"),
    ("kubectl get 'pods", "check your quotes"),
    ("ls -l", "not a command this quiz checks"),
    ("kubectl", "needs a sub-command"),
    ("kubectl get pods | grep web", "single command"),
    ("kubectl get pods && kubectl get svc", "single command"),
    ("kubectl get pods -n", "needs a value"),
    ("docker build --tag", "needs a value"),
])
def test_bad_input_gets_a_sentence(line, words):
    with pytest.raises(CommandError, match=words):
        parse(line)
    cmd, message = try_parse(line)
    assert cmd is None and words in message


def test_matches_globs_flags_and_arguments():
    answer = parse("kubectl set image deploy/web app=nginx:1.27 -n shop")
    assert matches(answer, {"command": "kubectl set image deployment/web '*=nginx:1.27' -n shop"})
    assert not matches(answer, {"command": "kubectl set image deployment/web 'web=*' -n shop"})
    # a pattern without -n means "in the current namespace"
    assert not matches(answer, {"command": "kubectl set image deployment/web '*=*'"})
    assert matches(answer, {"command": "kubectl set image deployment/web '*=*' -n '*'"})
    assert not matches(answer, {"command": "kubectl set image deployment/web '*=*' -n '*'", "without": ["namespace"]})
    assert matches(answer, {"command": "kubectl edit deployment/x", "verb_only": False}) is False
    assert matches(parse("kubectl edit deploy web"), {"command": "kubectl edit x", "verb_only": True})


def test_matches_exact_args_and_tail():
    bare = parse("kubectl rollout undo")
    with_resource = parse("kubectl rollout undo deploy/web")
    spec = {"command": "kubectl rollout undo -n '*'", "exact_args": True}
    assert matches(bare, spec) and not matches(with_resource, spec)
    assert matches(with_resource, {"command": "kubectl rollout undo -n '*'"})
    run_sh = parse("docker run --rm -it web:1.0 /bin/sh")
    assert matches(run_sh, {"command": "docker run web:1.0 /bin/sh"})
    assert not matches(run_sh, {"command": "docker run web:1.0 /bin/bash"})


def test_describe_difference_names_what_differs():
    exp = parse("kubectl get pods -n shop")
    assert "namespace" in commands.describe_difference(parse("kubectl get pods"), exp)
    assert "different command" in commands.describe_difference(parse("kubectl describe pods -n shop"), exp)
    assert "flags differ" in commands.describe_difference(parse("kubectl get pods -n shop -o yaml"), exp)
    assert "kubectl" in commands.describe_difference(parse("docker ps"), exp)


# ---------------------------------------------------------------- against the banks

COMMAND_QUESTIONS = [(stem, q) for stem in quiz_banks.stems() for q in quiz_banks.read_bank(stem)["questions"]
                     if q["type"] == "command"]
NEAR_MISSES = [(stem, q, nm) for stem, q in COMMAND_QUESTIONS for nm in q.get("near_misses", [])]


@pytest.mark.parametrize("stem,q", COMMAND_QUESTIONS, ids=[f"{s}:{q['id']}" for s, q in COMMAND_QUESTIONS])
def test_bank_answers_and_equivalents_pass(stem, q):
    for line in q["answers"] + q.get("accept", []):
        assert quiz_banks.grade(q, line).correct, line


@pytest.mark.parametrize("stem,q,nm", NEAR_MISSES, ids=[f"{s}:{q['id']}:{nm['example']}" for s, q, nm in NEAR_MISSES])
def test_bank_near_miss_gets_its_explanation(stem, q, nm):
    fb = quiz_banks.grade(q, nm["example"])
    assert fb.status == "incorrect"
    assert fb.near_miss == nm["explanation"]
    assert nm["explanation"] in fb.details and q["answers"][0] in fb.text


def _question(stem, qid):
    return next(q for q in quiz_banks.read_bank(stem)["questions"] if q["id"] == qid)


@pytest.mark.parametrize("stem,qid,line,words", [
    ("06-deploy-and-update", "set-image", "kubectl set image deploy/web web=localhost:5001/web:2.0", "container"),
    ("09-exam-practice", "set-image-namespace", "kubectl set image deploy/api server=localhost:5001/api:1.4", "namespace"),
    ("07-private-registries-in-kubernetes", "create-pull-secret",
     "kubectl create secret docker-registry regcred -n shop --docker-username=student --docker-password=s3cret",
     "--docker-server"),
    ("06-deploy-and-update", "rollout-undo", "kubectl rollout undo", "needs the resource"),
    ("05-tags-digests-registries", "tag-for-registry", "docker tag localhost:5001/web:1.0 web:1.0", "reversed"),
    ("06-deploy-and-update", "set-image", "kubectl edit deploy/web", "non-interactive"),
    ("06-deploy-and-update", "set-image", "kubectl set image deployment web app=localhost:5001/web:2.0 --record",
     "deprecated"),
])
def test_required_near_misses(stem, qid, line, words):
    fb = quiz_banks.grade(_question(stem, qid), line)
    assert fb.status == "incorrect" and fb.near_miss and words in fb.near_miss


def test_unmatched_wrong_answer_gets_generic_hint():
    fb = quiz_banks.grade(_question("06-deploy-and-update", "set-image"),
                    "kubectl set image deployment/web app=localhost:5001/web:3.0")
    assert fb.status == "incorrect" and fb.near_miss is None
    assert "arguments" in fb.details[0]
