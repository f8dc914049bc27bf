"""Parse an image reference the way Docker does: registry, repository, tag, digest.

    >>> parse("python:3.13-slim")
    Reference(registry='docker.io', repository='library/python', tag='3.13-slim', digest=None)

The rules follow the grammar of github.com/distribution/reference (the library the
Docker CLI, containerd and the kubelet use) and its `ParseNormalizedNamed`:

* reference  := name [":" tag] ["@" digest]
* name       := [domain "/"] path; the first component is a registry host only if it
  is `localhost`, contains a `.` or a `:` (a port), or has an uppercase letter.
  Otherwise the registry is `docker.io`.
* On docker.io, a one-component path gets the `library/` prefix (official images).
* path components are lowercase letters and digits, joined by `.`, `_`, `__` or dashes.
* tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; `latest` only when there is no
  tag *and* no digest.
* digest     := algorithm ":" hex; sha256 needs exactly 64 lowercase hex digits.
  With both a tag and a digest, the digest decides what is pulled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import CourseError

DEFAULT_REGISTRY = "docker.io"
LEGACY_REGISTRY = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
MAX_PATH_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?\Z")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z", re.ASCII)
_DIGEST = re.compile(r"([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):([0-9a-fA-F]{32,})\Z")
_IMAGE_ID = re.compile(r"[a-f0-9]{64}\Z")
# go-digest: the algorithms it knows and the exact length of their lowercase hex.
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

FIX = ("write it as [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], with a lowercase "
       "repository, e.g. localhost:5001/nb02/app:1.0.")


class InvalidReference(CourseError):
    """The string is not a valid image reference (Docker would say 'invalid reference format')."""

    def __init__(self, reference: str, why: str):
        super().__init__(f"'{reference}' is not a valid image reference: {why}.", FIX)
        self.reference = reference
        self.why = why


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """Registry and repository, e.g. docker.io/library/python."""
        return f"{self.registry}/{self.repository}"

    @property
    def pulls(self) -> str:
        """What a client asks the registry for: the digest if there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def api_path(self) -> str:
        """The registry API path of the manifest this reference resolves to."""
        return f"/v2/{self.repository}/manifests/{self.pulls}"

    @property
    def familiar(self) -> str:
        """The short form Docker prints (no docker.io/, no library/)."""
        repo = self.repository
        if self.registry == DEFAULT_REGISTRY:
            short = repo[len(OFFICIAL_PREFIX):] if repo.startswith(OFFICIAL_PREFIX) else repo
            repo = short if "/" not in short else repo
            text = repo
        else:
            text = self.name
        return _suffix(text, self.tag, self.digest)

    def __str__(self) -> str:
        return _suffix(self.name, self.tag, self.digest)


def _suffix(name: str, tag: str | None, digest: str | None) -> str:
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _split_registry(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if not slash:
        return DEFAULT_REGISTRY, OFFICIAL_PREFIX + name
    if first == "localhost" or any(c in first for c in ".:") or first.lower() != first:
        registry, path = first, rest
    else:
        registry, path = DEFAULT_REGISTRY, name
    if registry == LEGACY_REGISTRY:
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return registry, path


def _check_digest(reference: str, digest: str) -> None:
    match = _DIGEST.match(digest)
    if not match:
        raise InvalidReference(reference, f"'{digest}' is not a digest (ALGORITHM:HEX, e.g. sha256:<64 hex digits>)")
    algorithm, encoded = match.groups()
    if algorithm not in _DIGEST_LENGTHS:
        raise InvalidReference(reference, f"unsupported digest algorithm '{algorithm}'")
    length = _DIGEST_LENGTHS[algorithm]
    if len(encoded) != length or encoded.lower() != encoded:
        raise InvalidReference(reference, f"a {algorithm} digest is exactly {length} lowercase hex digits")


def parse(reference: str) -> Reference:
    """Split an image reference into registry, repository, tag and digest, with Docker's defaults."""
    if not isinstance(reference, str) or not reference:
        raise InvalidReference(str(reference), "it is empty")
    if _IMAGE_ID.match(reference):
        raise InvalidReference(reference, "a 64-hex-digit string is an image ID, not a repository name")
    remainder, at, digest = reference.partition("@")
    if at:
        _check_digest(reference, digest)
    else:
        digest = None
    # A tag is a ':' after the last '/': in localhost:5001/app the ':' belongs to the host.
    name, tag = remainder, None
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        name, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidReference(reference, f"'{tag}' is not a valid tag (letters, digits, _ . -; "
                                              "at most 128; not starting with . or -)")
    if not name:
        raise InvalidReference(reference, "it has no repository name")
    registry, path = _split_registry(name)
    if not _DOMAIN.match(registry):
        raise InvalidReference(reference, f"'{registry}' is not a valid registry host[:port]")
    if path.lower() != path and _PATH.match(path.lower()):
        raise InvalidReference(reference, f"repository name '{path}' must be lowercase")
    if not _PATH.match(path):
        raise InvalidReference(reference, f"'{path}' is not a valid repository name (lowercase letters, "
                                          "digits, separated by . _ __ or -, components joined by /)")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidReference(reference, f"the repository name is longer than {MAX_PATH_LENGTH} characters")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry=registry, repository=path, tag=tag, digest=digest)


def _short(text: str) -> str:
    """Shorten long hex digests for display: sha256:0123456789ab..."""
    return re.sub(r"(:[0-9a-fA-F]{12})[0-9a-fA-F]{20,}", r"\1...", text)


def table(references: list[str]) -> str:
    """A fixed-width table of how each reference resolves (or why it is invalid), for a notebook cell."""
    header = ("reference", "registry", "repository", "tag", "digest")
    rows, invalid = [header], {}
    for text in references:
        try:
            ref = parse(text)
        except InvalidReference as exc:
            invalid[len(rows)] = exc.why
            rows.append((_short(text), "", "", "", ""))
            continue
        digest = _short(ref.digest) if ref.digest else "-"
        rows.append((_short(text), ref.registry, ref.repository, ref.tag or "-", digest))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for i, row in enumerate(rows):
        if i in invalid:
            lines.append(f"{row[0]:<{widths[0]}}  INVALID: {invalid[i]}")
        else:
            lines.append("  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)).rstrip())
    return "\n".join(lines)
