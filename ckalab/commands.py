"""Parse docker, kubectl, kind and crictl command lines into a normal form, so that
equivalent spellings of the same command compare equal.

    >>> parse("kubectl set image deploy/web web=nginx:1.27 -n shop") == \\
    ...     parse("kubectl -n shop set image deployment web web=nginx:1.27")
    True

What is normalised, each by a table below:
  * the program: `k` is kubectl (the usual exam alias);
  * the verb: `docker build` = `docker image build` = `docker buildx build`, `docker push` =
    `docker image push`, `docker images` = `docker image ls`, ...;
  * kubectl resources: `deploy/web` = `deployment web` = `deployments/web` = `deployment.apps/web`;
  * flags: short = long (`-n`/`--namespace`), `--image=x` = `--image x`, any order;
  * kubectl's namespace: no `-n` means the question's current namespace (default: `default`).

Quiz banks describe near-misses as patterns in the same syntax (see `matches`), so a
wrong answer can get a specific explanation.

It is over 400 lines because it holds one concept, the normal form of a command line; most of
it is the tables of flags and verbs.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import shlex
from dataclasses import dataclass, field

# ---------------------------------------------------------------- tables

TOOL_ALIASES = {"k": "kubectl", "kubectl": "kubectl", "docker": "docker", "kind": "kind", "crictl": "crictl"}

# kubectl resource types: every spelling -> the plural resource name.
KUBECTL_RESOURCES = {
    "pods": ("po", "pod", "pods"),
    "deployments": ("deploy", "deployment", "deployments"),
    "replicasets": ("rs", "replicaset", "replicasets"),
    "daemonsets": ("ds", "daemonset", "daemonsets"),
    "statefulsets": ("sts", "statefulset", "statefulsets"),
    "jobs": ("job", "jobs"),
    "cronjobs": ("cj", "cronjob", "cronjobs"),
    "services": ("svc", "service", "services"),
    "serviceaccounts": ("sa", "serviceaccount", "serviceaccounts"),
    "secrets": ("secret", "secrets"),
    "configmaps": ("cm", "configmap", "configmaps"),
    "namespaces": ("ns", "namespace", "namespaces"),
    "nodes": ("no", "node", "nodes"),
    "events": ("ev", "event", "events"),
    "replicationcontrollers": ("rc", "replicationcontroller", "replicationcontrollers"),
}
RESOURCE = {alias: plural for plural, aliases in KUBECTL_RESOURCES.items() for alias in aliases}

# kubectl verbs whose next word is a sub-command (and `create secret TYPE` has two).
KUBECTL_SUBCOMMANDS = {"set", "rollout", "create", "config", "auth", "top", "certificate", "apply"}
KUBECTL_CREATE_ALIASES = {"deploy": "deployment", "sa": "serviceaccount", "ns": "namespace",
                          "cm": "configmap", "svc": "service"}
# Verbs whose bare first argument is a Pod name (`kubectl logs web-1` = `kubectl logs pod/web-1`).
KUBECTL_POD_VERBS = {"logs", "exec", "attach", "port-forward", "debug"}
# Verbs that take resources as arguments (the others take names or nothing).
KUBECTL_RESOURCE_VERBS = {"get", "describe", "delete", "edit", "rollout", "set", "annotate", "label",
                          "patch", "scale", "expose", "autoscale", "wait", "logs", "exec", "attach",
                          "port-forward", "debug"}

# Flags: (tool, verb or "*") -> {spelling: canonical long name}. Names in BOOLEAN take no value.
FLAG_ALIASES = {
    ("kubectl", "*"): {"-n": "namespace", "-o": "output", "-f": "filename", "-l": "selector",
                       "-A": "all-namespaces", "-c": "container", "-i": "stdin", "-t": "tty",
                       "-w": "watch", "-k": "kustomize", "-R": "recursive", "-r": "replicas"},
    ("kubectl", "logs"): {"-p": "previous"},
    ("kubectl", "patch"): {"-p": "patch"},
    ("docker", "*"): {"-q": "quiet", "-a": "all", "-f": "filter", "-D": "debug"},
    ("docker", "image build"): {"-t": "tag", "-f": "file", "-q": "quiet"},
    ("docker", "container run"): {"-d": "detach", "-p": "publish", "-e": "env", "-i": "interactive",
                                  "-t": "tty", "-u": "user", "-v": "volume", "-w": "workdir",
                                  "-P": "publish-all", "-l": "label"},
    ("docker", "container exec"): {"-i": "interactive", "-t": "tty", "-u": "user", "-e": "env",
                                   "-w": "workdir", "-d": "detach"},
    ("docker", "login"): {"-u": "username", "-p": "password"},
    ("docker", "image push"): {"-a": "all-tags", "-q": "quiet"},
    ("docker", "image pull"): {"-a": "all-tags", "-q": "quiet"},
    ("docker", "container logs"): {"-f": "follow", "-n": "tail", "-t": "timestamps"},
    ("docker", "image rm"): {"-f": "force"},
    ("docker", "container rm"): {"-f": "force", "-v": "volumes"},
    ("kind", "*"): {"-q": "quiet", "-v": "verbosity"},
    ("crictl", "*"): {"-a": "all", "-q": "quiet", "-o": "output", "-n": "namespace", "-v": "verbose"},
}
BOOLEAN = {
    "kubectl": {"all-namespaces", "stdin", "tty", "watch", "recursive", "previous", "overwrite", "all",
                "force", "record", "follow", "show-labels", "local", "wait", "rm"},
    "docker": {"quiet", "all", "detach", "interactive", "tty", "publish-all", "rm", "no-cache", "pull",
               "password-stdin", "all-tags", "digests", "no-trunc", "force", "follow", "timestamps",
               "volumes", "init", "privileged", "load", "push", "help", "debug", "tls", "tlsverify"},
    "kind": {"quiet", "help"},
    "crictl": {"all", "quiet", "verbose", "digests", "latest", "no-trunc"},
}
# Flags whose value is optional (a bare `--dry-run` is kubectl's deprecated "unchanged").
OPTIONAL_VALUE = {"kubectl": {"dry-run": "unchanged"}}
# Flags that may be given several times: their values are compared as a set.
REPEATABLE = {"tag", "build-arg", "publish", "env", "volume", "label", "filter", "add-host", "from-literal",
              "from-file", "filename"}


def _json_value(value):
    """`-p '{"a": 1}'` = `-p '{"a":1}'`: JSON values compare by content, not spacing."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"))
        except ValueError:
            return value
    return value


VALUE_NORMALISERS = {"patch": _json_value, "overrides": _json_value}
# After this many arguments, the rest of a docker command line belongs to the container.
STOP_AFTER_ARGS = {("docker", "container run"): 1, ("docker", "container exec"): 1}

# docker: every spelling of a verb -> its canonical "management command" form.
DOCKER_VERBS = {
    "build": "image build", "buildx build": "image build", "builder build": "image build",
    "image build": "image build",
    "push": "image push", "image push": "image push",
    "pull": "image pull", "image pull": "image pull",
    "tag": "image tag", "image tag": "image tag",
    "images": "image ls", "image ls": "image ls", "image list": "image ls",
    "rmi": "image rm", "image rm": "image rm", "image remove": "image rm",
    "history": "image history", "image history": "image history",
    "save": "image save", "image save": "image save",
    "load": "image load", "image load": "image load",
    "image inspect": "image inspect", "inspect": "inspect",
    "run": "container run", "container run": "container run",
    "ps": "container ls", "container ls": "container ls", "container list": "container ls",
    "container ps": "container ls",
    "exec": "container exec", "container exec": "container exec",
    "rm": "container rm", "container rm": "container rm", "container remove": "container rm",
    "logs": "container logs", "container logs": "container logs",
    "stop": "container stop", "container stop": "container stop",
    "login": "login", "logout": "logout",
    "manifest inspect": "manifest inspect", "buildx imagetools inspect": "buildx imagetools inspect",
}
DOCKER_GROUPS = {"image", "container", "buildx", "builder", "manifest", "network", "volume", "system",
                 "context", "trust", "buildx imagetools"}
KIND_SUBCOMMANDS = {"load", "create", "delete", "get", "export"}


class CommandError(ValueError):
    """The line is not a command this module can read; `str()` is a friendly sentence."""


@dataclass(frozen=True)
class Command:
    tool: str
    verb: str                                   # "set image", "image build", "rollout undo"
    args: tuple[str, ...] = ()                  # positional arguments, normalised
    flags: dict = field(default_factory=dict)   # canonical name -> value (tuple for repeatable flags)
    tail: tuple[str, ...] = ()                  # everything after `--`, verbatim

    def __str__(self) -> str:
        parts = [self.tool, *self.verb.split(), *self.args]
        for name in sorted(self.flags):
            value = self.flags[name]
            for v in (value if isinstance(value, tuple) else (value,)):
                parts.append(f"--{name}" if v is True else f"--{name}={v}")
        if self.tail:
            parts += ["--", *self.tail]
        return shlex.join(parts)

    def __eq__(self, other) -> bool:
        return isinstance(other, Command) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def key(self) -> tuple:
        args = tuple(sorted(self.args)) if self.tool == "kubectl" else self.args
        return (self.tool, self.verb, args, tuple(sorted(self.flags.items())), self.tail)


# ---------------------------------------------------------------- parsing

def _split(line: str) -> list[str]:
    text = (line or "").strip()
    if text.startswith("$ "):
        text = text[2:]
    if not text:
        raise CommandError("Type a command first.")
    try:
        words = shlex.split(text, comments=False)
    except ValueError as exc:
        raise CommandError(f"That line could not be read ({exc}): check your quotes.") from None
    for bad in ("|", "||", "&&", ";", ">", ">>", "<"):
        if bad in words:
            raise CommandError(f"Type one command, without `{bad}`: the question asks for a single command.")
    return words


def _flag_table(tool: str, verb: str) -> dict:
    table = dict(FLAG_ALIASES.get((tool, "*"), {}))
    table.update(FLAG_ALIASES.get((tool, verb.split()[0]), {}))
    table.update(FLAG_ALIASES.get((tool, verb), {}))
    return table


def _verb_kubectl(words: list[str]) -> tuple[str, int]:
    """The kubectl verb (with sub-commands) from the positional words; returns (verb, words used)."""
    verb = [words[0]]
    if words[0] in KUBECTL_SUBCOMMANDS and len(words) > 1 and words[0] != "apply":
        sub = words[1]
        if words[0] == "create":
            sub = KUBECTL_CREATE_ALIASES.get(sub, sub)
        verb.append(sub)
        if verb == ["create", "secret"] and len(words) > 2:
            verb.append(words[2])
    return " ".join(verb), len(verb)


def _verb_docker(words: list[str]) -> tuple[str, int]:
    used = 1
    if words[0] in DOCKER_GROUPS and len(words) > 1:
        used = 2
        if f"{words[0]} {words[1]}" in DOCKER_GROUPS and len(words) > 2:
            used = 3
    spelled = " ".join(words[:used])
    return DOCKER_VERBS.get(spelled, spelled), used


def _verb_generic(tool: str, words: list[str]) -> tuple[str, int]:
    if tool == "kind" and words[0] in KIND_SUBCOMMANDS and len(words) > 1:
        return f"{words[0]} {words[1]}", 2
    return words[0], 1


def _resource(word: str) -> str | None:
    """The plural resource for a type spelling (`deploy`, `deployment.apps`), else None."""
    if word in RESOURCE:
        return RESOURCE[word]
    head = word.split(".", 1)[0]
    if "." in word and head in RESOURCE:
        return RESOURCE[head]
    return None


def _kubectl_args(verb: str, args: list[str]) -> list[str]:
    first = verb.split()[0]
    if first not in KUBECTL_RESOURCE_VERBS:
        return args
    out, kind = [], None
    for word in args:
        if "=" in word or (word.endswith("-") and first in ("label", "annotate")):
            out.append(word)                               # container=image, key=value, key-
        elif "/" in word:
            type_, _, name = word.partition("/")
            out.append(f"{_resource(type_) or type_}/{name}")
        elif kind is None and "," in word and all(_resource(w) for w in word.split(",")):
            kind = ",".join(sorted({_resource(w) for w in word.split(",")}))
            out.append(kind)
        elif kind is None and _resource(word) and not (first in KUBECTL_POD_VERBS and out):
            kind = _resource(word)
            out.append(kind)
        elif kind is not None:
            if out and out[-1] == kind:
                out.pop()                                  # `deployment web` -> `deployments/web`
            out.append(f"{kind}/{word}")
        elif first in KUBECTL_POD_VERBS and not out:
            out.append(f"pods/{word}")
        else:
            out.append(word)
    return out


def _find_verb(tool: str, rest: list[str]) -> tuple[str, int]:
    """Pass 1: the verb, from the first positional words. Flags before or between them are
    skipped with a guessed arity (global flags: `kubectl -n shop get`, `docker --config d push`)."""
    table, booleans = _flag_table(tool, "*"), BOOLEAN[tool]
    positional, i = [], 0
    while i < len(rest) and len(positional) < 3 and rest[i] != "--":
        w = rest[i]
        if w.startswith("-") and len(w) > 1:
            name = w[2:] if w.startswith("--") else table.get(w[:2], w[1:])
            takes_value = "=" not in w and name not in booleans and (w.startswith("--") or len(w) == 2)
            i += 2 if takes_value else 1
            continue
        positional.append(w)
        i += 1
    if not positional:
        example = {"kubectl": "get", "docker": "build", "kind": "load", "crictl": "images"}[tool]
        raise CommandError(f"`{tool}` needs a sub-command (for example `{tool} {example} ...`).")
    if tool == "kubectl":
        return _verb_kubectl(positional)
    if tool == "docker":
        return _verb_docker(positional)
    return _verb_generic(tool, positional)


def parse(line: str, *, namespace: str = "default") -> Command:
    """A command line as a normalised Command. Raises CommandError with a friendly sentence.

    `namespace` is the current namespace of the learner's context: a kubectl command
    without `-n` is taken to mean it (so `-n default` and no `-n` are the same).
    """
    words = _split(line)
    tool = TOOL_ALIASES.get(words[0].rsplit("/", 1)[-1])
    if tool is None:
        raise CommandError(f"`{words[0]}` is not a command this quiz checks: answer with a docker, "
                           f"kubectl, kind or crictl command.")
    rest = words[1:]
    verb, verb_words = _find_verb(tool, rest)
    # Pass 2: with the verb known, read every flag with the right arity.
    table, booleans = _flag_table(tool, verb), BOOLEAN[tool]
    optional = OPTIONAL_VALUE.get(tool, {})
    stop_after = STOP_AFTER_ARGS.get((tool, verb))
    flags: dict = {}
    args: list[str] = []
    tail: tuple[str, ...] = ()

    def put(name: str, value) -> None:
        value = VALUE_NORMALISERS.get(name, lambda v: v)(value)
        if name in REPEATABLE:
            flags[name] = tuple(sorted(set(flags.get(name, ())) | {value}, key=str))
        else:
            flags[name] = value

    i = 0
    while i < len(rest):
        w = rest[i]
        if w == "--":
            tail = tuple(rest[i + 1:])
            break
        if stop_after is not None and len(args) >= stop_after:
            tail = tuple(rest[i:])                      # docker run IMAGE CMD...: the rest is the command
            break
        if w.startswith("--") and len(w) > 2:
            name, eq, value = w[2:].partition("=")
            if eq:
                put(name, _bool_value(value) if name in booleans else value)
            elif name in booleans:
                put(name, True)
            elif name in optional and (i + 1 >= len(rest) or rest[i + 1].startswith("-")):
                put(name, optional[name])
            elif i + 1 < len(rest):
                put(name, rest[i + 1])
                i += 1
            else:
                raise CommandError(f"`--{name}` needs a value (for example `--{name}=...`).")
        elif w.startswith("-") and len(w) > 1 and not _is_number(w):
            letters = w[1:]
            first = table.get("-" + letters[0], letters[0])
            if first in booleans and all(table.get("-" + c, c) in booleans for c in letters):
                for c in letters:                       # -it, -qa
                    put(table.get("-" + c, c), True)
            elif len(letters) > 1:                      # -nshop, -n=shop, -ojson
                put(first, letters[1:].lstrip("="))
            elif i + 1 < len(rest):
                put(first, rest[i + 1])
                i += 1
            else:
                raise CommandError(f"`{w}` needs a value.")
        elif verb_words:
            verb_words -= 1                             # a word of the verb itself
        else:
            args.append(w)
        i += 1
    if tool == "kubectl":
        args = _kubectl_args(verb, args)
        if "all-namespaces" not in flags:
            flags.setdefault("namespace", namespace)
    return Command(tool, verb, tuple(args), flags, tail)


def _bool_value(value: str):
    return {"true": True, "false": False}.get(value.lower(), value)


def _is_number(word: str) -> bool:
    try:
        float(word)
        return True
    except ValueError:
        return False


def try_parse(line: str, *, namespace: str = "default") -> tuple[Command | None, str | None]:
    """(Command, None) or (None, friendly message): never raises for bad input."""
    try:
        return parse(line, namespace=namespace), None
    except CommandError as exc:
        return None, str(exc)


# ---------------------------------------------------------------- comparing

def equivalent(a: str, b: str, *, namespace: str = "default", ignore_flags=()) -> bool:
    """True when two command lines mean the same command."""
    ca, cb = parse(a, namespace=namespace), parse(b, namespace=namespace)
    return _without(ca, ignore_flags) == _without(cb, ignore_flags)


def _without(cmd: Command, names) -> Command:
    if not names:
        return cmd
    return Command(cmd.tool, cmd.verb, cmd.args, {k: v for k, v in cmd.flags.items() if k not in names},
                   cmd.tail)


def _glob(pattern, value) -> bool:
    if pattern is True or value is True or isinstance(pattern, tuple) or isinstance(value, tuple):
        if isinstance(pattern, tuple) and isinstance(value, tuple):
            return len(pattern) == len(value) and all(_glob(p, v) for p, v in zip(pattern, value))
        return pattern == value or pattern == "*"
    return fnmatch.fnmatchcase(str(value), str(pattern))


def matches(answer: Command, spec: dict, *, namespace: str = "default") -> bool:
    """Does an answer fit a near-miss pattern from a quiz bank?

    spec keys:
      command:   a command line (required). The answer must have its tool and verb. If the
                 pattern has arguments, they must match the answer's one to one (shell globs:
                 `*=nginx:1.27`; for kubectl in any order). Every flag of the pattern must be in
                 the answer with a matching value (`--image='*'` = any value). kubectl patterns
                 are normalised like answers, so a pattern WITHOUT `-n` only matches answers in
                 the current namespace (that is how "forgot the namespace" is written); write
                 `-n '*'` for any namespace.
      without:   flag names the answer must NOT have (`[docker-server]`);
      exact_args: true to require the same number of arguments even when the pattern has
                 none (`kubectl rollout undo` with no resource);
      verb_only: true to compare only tool and verb (`kubectl edit ...` whatever follows).
    A pattern's words after `--` (or after the image of `docker run`) must match the answer's.
    """
    pattern = parse(spec["command"], namespace=namespace)
    if (pattern.tool, pattern.verb) != (answer.tool, answer.verb):
        return False
    if any(name in answer.flags for name in spec.get("without", ())):
        return False
    if spec.get("verb_only"):
        return True
    for name, value in pattern.flags.items():
        if name not in answer.flags or not _glob(value, answer.flags[name]):
            return False
    if pattern.tail and (len(pattern.tail) != len(answer.tail)
                         or not all(_glob(p, a) for p, a in zip(pattern.tail, answer.tail))):
        return False
    if not pattern.args and not spec.get("exact_args"):
        return True
    if len(pattern.args) != len(answer.args):
        return False
    if answer.tool == "kubectl":
        return any(all(_glob(p, a) for p, a in zip(pattern.args, perm))
                   for perm in itertools.permutations(answer.args))
    return all(_glob(p, a) for p, a in zip(pattern.args, answer.args))


def describe_difference(answer: Command, expected: Command) -> str:
    """A short generic hint when no bank near-miss matched: what differs, not the answer."""
    if answer.tool != expected.tool:
        return f"This task is done with `{expected.tool}`, not `{answer.tool}`."
    if answer.verb != expected.verb:
        return (f"`{answer.tool} {answer.verb}` is a different command from the one this task needs "
                f"(`{expected.tool} {expected.verb.split()[0]} ...`).")
    if answer.flags.get("namespace") != expected.flags.get("namespace") and expected.tool == "kubectl":
        return (f"Right command, wrong namespace: you used `{answer.flags.get('namespace')}`, the task "
                f"is about `{expected.flags.get('namespace')}`.")
    same_args = (sorted(answer.args) == sorted(expected.args) if answer.tool == "kubectl"
                 else answer.args == expected.args)
    if not same_args or answer.tail != expected.tail:
        return "Right command, but its arguments (names, images or their order) are not the ones the task asks for."
    missing = sorted(set(expected.flags) - set(answer.flags))
    extra = sorted(set(answer.flags) - set(expected.flags))
    wrong = sorted(k for k in set(expected.flags) & set(answer.flags) if expected.flags[k] != answer.flags[k])
    bits = []
    if missing:
        bits.append("missing " + ", ".join(f"`--{m}`" for m in missing))
    if wrong:
        bits.append("a different value for " + ", ".join(f"`--{w}`" for w in wrong))
    if extra:
        bits.append("extra " + ", ".join(f"`--{e}`" for e in extra))
    return "Right command, but its flags differ: " + "; ".join(bits) + "."
