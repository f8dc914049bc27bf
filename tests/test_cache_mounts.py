"""ckalab.cache_mounts: reading apt's lines out of BuildKit's output, then the lesson's claim on a real engine."""

from __future__ import annotations

from ckalab import cache_mounts, measure

# Lines of a real BuildKit build of workloads/buildkit/apt (Docker 28.5, plain progress).
PLAIN_REBUILD = """\
#7 [3/3] RUN apt-get update     && apt-get install -y --no-install-recommends $(grep -v '^#' /tmp/packages.txt)
#7 0.299 Get:1 http://deb.debian.org/debian trixie InRelease [140 kB]
#7 3.226 Fetched 16.3 MB in 2s (7903 kB/s)
#7 6.147 Need to get 4908 kB of archives.
#7 7.249 Fetched 4908 kB in 0s (66.6 MB/s)
#7 DONE 9.1s
"""
CACHED_REBUILD = """\
#8 0.212 Fetched 140 kB in 0s (3516 kB/s)
#8 1.244 Need to get 0 B/4908 kB of archives.
#8 DONE 2.0s
"""


def test_apt_lines_drop_buildkits_step_prefix_and_keep_only_step_output():
    lines = cache_mounts.apt_lines(PLAIN_REBUILD)
    assert lines[0] == "Get:1 http://deb.debian.org/debian trixie InRelease [140 kB]"
    assert not any(line.startswith(("#", "[3/3]", "DONE")) for line in lines)


def test_fetched_bytes_adds_the_lists_and_the_packages():
    assert cache_mounts.fetched_bytes(cache_mounts.apt_lines(PLAIN_REBUILD)) == 16_300_000 + 4_908_000
    assert cache_mounts.fetched_bytes(cache_mounts.apt_lines(CACHED_REBUILD)) == 140_000
    assert cache_mounts.fetched_bytes(["Fetched 1,234 kB in 1s (1 MB/s)"]) == 1_234_000


def test_need_to_get_is_apts_last_word_or_says_it_is_missing():
    assert cache_mounts.need_to_get(cache_mounts.apt_lines(CACHED_REBUILD)) == "Need to get 0 B/4908 kB of archives."
    assert "no 'Need to get'" in cache_mounts.need_to_get([])


def test_the_cache_mount_rebuild_downloads_far_less_than_the_plain_one(docker_env):
    """The lesson's claim, measured on the real engine: after the same change, apt fetched the lists
    and every package again without the mounts, and nothing but the release file with them."""
    prefix = "ckalab-test-apt"
    try:
        plain, cached = cache_mounts.compare(prefix)
    finally:
        measure.remove_images(*(f"{prefix}-{d.split('.', 1)[1]}:1" for d in cache_mounts.DOCKERFILES))
    assert plain.dockerfile == "Dockerfile.plain" and cached.dockerfile == "Dockerfile.cache-mount"
    assert cached.need_to_get.startswith("Need to get 0 B/"), cached
    assert plain.fetched_bytes > 10 * cached.fetched_bytes, (plain, cached)
    assert "Dockerfile.cache-mount" in cache_mounts.table([plain, cached])
