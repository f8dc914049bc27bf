"""ckalab.measure: the pure parts without Docker, then build/rebuild/size against the real engine."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ckalab import measure, nonroot
from ckalab.errors import CourseError
from tests.conftest import ROOT, message_of

TEST_IMAGE = "ckalab-test-measure:1"


# ---------------------------------------------------------------- without Docker

def test_human_and_parse_size_round_trip():
    assert measure.human(427) == "427 B"
    assert measure.human(4_764_838) == "4.8 MB"
    assert measure.human(305_600_000) == "305.6 MB"
    assert measure.parse_size("4.76MB") == 4_760_000
    assert measure.parse_size("427B") == 427
    assert measure.parse_size("0") == 0


def test_parse_history_reads_docker_history_json_and_names_instructions():
    output = "\n".join([
        '{"CreatedBy":"/bin/sh -c #(nop)  CMD [\\"python\\" \\"app.py\\"]","Size":"0"}',
        '{"CreatedBy":"/bin/sh -c pip install flask","Size":"4764838"}',
        '{"CreatedBy":"COPY app.py . # buildkit","Size":"427"}',
        '{"CreatedBy":"","Size":"147251271"}',
        "DEPRECATED: The legacy builder is deprecated",
    ])
    layers = measure.parse_history(output)
    assert [layer.size for layer in layers] == [0, 4764838, 427, 147251271]
    assert [layer.instruction for layer in layers] == [
        'CMD ["python" "app.py"]', "RUN pip install flask", "COPY app.py . # buildkit", "(base image layer)"]


def test_count_cached_steps_understands_both_builders():
    legacy = "Step 2/5 : WORKDIR /app\n ---> Using cache\n ---> 1234\nStep 3/5 : COPY app.py .\n ---> 5678\n"
    buildkit = "#5 [2/4] WORKDIR /app\n#5 CACHED\n#6 [3/4] COPY app.py .\n#6 DONE 0.1s\n"
    assert measure.count_cached_steps(legacy) == 1
    assert measure.count_cached_steps(buildkit) == 1
    assert measure.count_cached_steps("Step 1/1 : FROM scratch\n") == 0


def test_stage_images_finds_the_earlier_stages_of_a_legacy_multi_stage_build():
    legacy = ("Step 1/6 : FROM debian:trixie-slim AS build\n ---> 6675551892bf\n"
              "Step 2/6 : RUN gcc -static -o /server server.c\n ---> Running in 1abc\n"
              "Removing intermediate container 1abc\n ---> 5794489b5781\n"
              "Step 3/6 : FROM scratch\n ---> \nStep 4/6 : COPY --from=build /server /server\n ---> 4f25b0d5c134\n")
    assert measure.stage_images(legacy) == ["5794489b5781"]
    assert measure.stage_images("#5 [build 2/4] RUN gcc\n#5 DONE 1.0s\n") == []
    assert measure.stage_images("Step 1/2 : FROM debian:trixie-slim\n ---> 6675551892bf\nStep 2/2 : CMD [\"x\"]\n") == []


@pytest.mark.parametrize("user, run_as_user, ok, reason", [
    ("10001", None, True, "runs as UID 10001"),
    ("10001:10001", None, True, "runs as UID 10001"),
    ("", None, False, "image will run as root"),
    ("0", None, False, "image will run as root"),
    ("root", None, False, "non-numeric user (root)"),
    ("app:app", None, False, "non-numeric user (app)"),
    ("app", 10001, True, "runAsUser"),
    ("10001", 0, False, "runAsUser breaks non-root policy"),
])
def test_nonroot_verdict_follows_the_kubelet_rules(user, run_as_user, ok, reason):
    verdict, text = nonroot.verdict(user, run_as_user)
    assert verdict is ok
    assert reason in text


def test_edit_one_line_refuses_committed_files():
    app = ROOT / "workloads" / "size" / "app.py"
    before = app.read_bytes()
    with pytest.raises(CourseError) as excinfo:
        measure.edit_one_line(app)
    assert "inside the course folder" in message_of(excinfo)
    assert app.read_bytes() == before


def test_edit_one_line_appends_exactly_one_unique_line(tmp_path):
    py, c = tmp_path / "app.py", tmp_path / "server.c"
    py.write_text("print('hi')\n")
    c.write_text("int main(void) { return 0; }")          # no final newline
    first, second = measure.edit_one_line(py), measure.edit_one_line(py)
    assert first != second and first.startswith("# one-line edit ")
    assert py.read_text().splitlines() == ["print('hi')", first, second]
    line = measure.edit_one_line(c)
    assert line.startswith("// ") and c.read_text().splitlines()[-1] == line


def test_copy_workload_leaves_the_original_alone_and_can_drop_dockerignore(tmp_path):
    copy = measure.copy_workload("workloads/size", tmp_path / "copy", dockerignore=False)
    assert (copy / "Dockerfile.brief").exists() and not (copy / ".dockerignore").exists()
    assert (ROOT / "workloads" / "size" / ".dockerignore").exists()


def test_context_size_with_and_without_dockerignore(tmp_path):
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "big.bin").write_bytes(b"\0" * 2_000_000)
    (tmp_path / ".dockerignore").write_text("# comment\n.venv/\n")
    with_ignore = measure.context_size(tmp_path)
    without = measure.context_size(tmp_path, dockerignore=False)
    assert with_ignore < 20_000 < 2_000_000 < without
    assert measure.dockerignore_patterns(tmp_path) == [".venv/"]


def test_comparison_round_trips_through_json_and_formats_a_table(tmp_path):
    m = measure.Measurement("brief", "nb04-brief:1", "Dockerfile.brief", 1.0, 0, 9.04, 1, 305_600_000,
                            [measure.Layer("/bin/sh -c pip install flask", 4_764_838)], 25_300_000)
    c = measure.Comparison([m], edit="appended one comment line to app.py", clutter="none", created=1.0)
    loaded = measure.load(c.save(tmp_path / "c.json"))
    assert loaded == c
    table = loaded.table()
    assert "rebuild after edit s" in table and "9.0" in table and "305.6 MB" in table
    assert measure.load(tmp_path / "missing.json") is None


def test_edited_tag():
    assert measure.edited_tag("nb04-brief:1") == "nb04-brief:1-edit"
    assert measure.edited_tag("localhost:5001/app") == "localhost:5001/app:latest-edit"


# ---------------------------------------------------------------- with Docker

@pytest.fixture
def tiny_workload(tmp_path, docker_env):
    """A two-step workload: a slow-to-rebuild 'dependency' step before the COPY of app.py."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("print('hello')\n")
    (src / "Dockerfile").write_text(
        "FROM debian:trixie-slim\n"
        "RUN echo dependencies > /deps.txt\n"
        "COPY app.py /app/app.py\n"
        "USER 10001\n"
        'CMD ["cat", "/app/app.py"]\n')
    (src / ".dockerignore").write_text(".venv/\n")
    yield src
    measure.remove_images(TEST_IMAGE, measure.edited_tag(TEST_IMAGE), "ckalab-test-measure:2")


def test_build_size_layers_and_user_of_a_real_image(tiny_workload):
    result = measure.build(tiny_workload, TEST_IMAGE, tiny_workload / "Dockerfile")
    assert result.seconds > 0 and result.image == TEST_IMAGE
    size = measure.image_size(TEST_IMAGE)
    layers = measure.layers(TEST_IMAGE)
    assert size == sum(layer.size for layer in layers)
    assert layers[0].instruction.startswith("CMD")
    assert any("COPY" in layer.instruction for layer in layers)
    assert nonroot.image_user(TEST_IMAGE) == "10001"
    assert nonroot.verdict(nonroot.image_user(TEST_IMAGE))[0] is True


def test_build_failure_is_a_course_error(tiny_workload):
    (tiny_workload / "Dockerfile").write_text("FROM debian:trixie-slim\nRUN exit 3\n")
    with pytest.raises(CourseError) as excinfo:
        measure.build(tiny_workload, TEST_IMAGE, tiny_workload / "Dockerfile")
    assert "failed" in message_of(excinfo)


def test_missing_image_is_a_course_error(docker_env):
    with pytest.raises(CourseError) as excinfo:
        measure.image_size("ckalab-test-measure:does-not-exist")
    assert "build it first" in message_of(excinfo)


def test_rebuild_after_edit_reuses_the_cache_up_to_the_edited_copy(tiny_workload):
    digest = hashlib.sha256((tiny_workload / "app.py").read_bytes()).hexdigest()
    first, second, line = measure.rebuild_after_edit(tiny_workload, "Dockerfile", TEST_IMAGE)
    # The source folder itself is not edited: only the temp copy is.
    assert hashlib.sha256((tiny_workload / "app.py").read_bytes()).hexdigest() == digest
    assert line.startswith("# one-line edit")
    # The RUN step before the COPY came from the cache; the edited image was removed.
    assert second.cached_steps >= 1
    assert "Using cache" in second.output or "CACHED" in second.output
    images = measure._docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]).output.split()
    assert TEST_IMAGE in images and measure.edited_tag(TEST_IMAGE) not in images


def test_rebuild_after_edit_leaves_no_untagged_stage_images(tiny_workload):
    (tiny_workload / "Dockerfile").write_text(
        "FROM debian:trixie-slim AS build\n"
        "COPY app.py /app.py\n"
        "RUN wc -c /app.py > /size.txt\n"
        "FROM debian:trixie-slim\n"
        "COPY --from=build /size.txt /size.txt\n")
    measure.rebuild_after_edit(tiny_workload, "Dockerfile", TEST_IMAGE)     # warm the cache
    _, second, _ = measure.rebuild_after_edit(tiny_workload, "Dockerfile", TEST_IMAGE)
    dangling = measure._docker(["image", "ls", "-q", "--no-trunc", "-f", "dangling=true"]).output
    if "Step 1/" in second.output:          # legacy builder: the build stage was kept as an image
        assert measure.stage_images(second.output)
    for stage in measure.stage_images(second.output):
        assert stage not in dangling


def test_compare_measures_every_variant_in_one_run(tiny_workload):
    (tiny_workload / "notes.md").write_text("x" * 300_000)
    (tiny_workload / ".dockerignore").write_text(".venv/\n*.md\n")
    variants = [measure.Variant("without-ignore", "Dockerfile", "ckalab-test-measure:2", dockerignore=False),
                measure.Variant("with-ignore", "Dockerfile", TEST_IMAGE)]
    result = measure.compare(variants, tiny_workload, clutter=False)
    a, b = result.get("without-ignore"), result.get("with-ignore")
    assert a.context_bytes > 300_000 > b.context_bytes
    assert a.size == b.size > 0 and a.rebuild_seconds > 0 and b.rebuild_cached_steps >= 1
    assert [row["variant"] for row in result.rows()] == ["without-ignore", "with-ignore"]
    assert (tiny_workload / "app.py").read_text() == "print('hello')\n"


def test_plot_draws_one_panel_per_image_plus_size_and_time(tiny_workload):
    import matplotlib
    matplotlib.use("Agg")
    m = measure.Measurement("x", TEST_IMAGE, "Dockerfile", 1, 0, 2, 1, 1000,
                            [measure.Layer("COPY a /a", 900), measure.Layer("", 100)], 10)
    fig = measure.Comparison([m, m], "edit", "none", 0).plot()
    assert len(fig.axes) == 4
    assert fig.axes[-1].get_title() == "Rebuild after a one-line edit"
