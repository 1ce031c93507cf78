"""Differential tests: Docker is the oracle for what Caisson shows after a pull.

Both engines pull the same images from the session registry. One is `caisson pull`. The
other is `docker pull`, run against a dockerd that this module starts for itself. The tests
then compare `pull` output, `image inspect`, `images`, `history`, `tag` and `rmi` output,
error lines and exit codes, and the unpacked layers on disk. The tests are skipped when
dockerd is not installed or cannot start. Nothing here installs it.

Most tests read a shared "world" where both engines have pulled every image in the catalogue
once. The module keeps one Caisson daemon for it. When a test has changed dockerd's images,
dockerd pulls them again. Tests that need a cold pull, or that change images, get a fresh
Caisson daemon and an empty dockerd.

A test marked `caisson_bug` (a strict xfail) holds a known difference between Caisson and
docker that is still to fix. The reason names the difference. Remove the mark when it is
fixed.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import images
from tests.support.catalog import Catalog
from tests.support.docker import Dockerd, DockerdError, find_docker_cli, find_dockerd
from tests.support.expect import ok
from tests.support.processes import public_tempdir, remove_tree
from tests.support.services import Daemon

pytestmark = pytest.mark.integration

# Every repository in the standard catalogue (tests/support/catalog.py), each holding :latest.
REPOS = (
    "test/busybox",
    "test/busybox-oci",
    "test/busybox-zstd",
    "test/busybox-plain",
    "test/layers-docker",
    "test/layers-oci",
    "test/multi",
    "test/multi-docker",
    "test/run",
)
LAYER_CASES = ("test/layers-docker", "test/layers-oci")


def caisson_bug(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(reason=f"caisson bug: {reason}", strict=True)


# -- running both ------------------------------------------------------------------------------


@dataclass
class Ran:
    tool: str
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def __str__(self) -> str:
        return (
            f"$ {self.tool} {' '.join(self.args)}\nexit {self.code}\n"
            f"--- stdout\n{self.out}--- stderr\n{self.err}"
        )


def run_docker(engine: Dockerd, *args: str) -> Ran:
    r = engine.docker(*args, timeout=300)
    return Ran("docker", args, r.returncode, r.stdout, r.stderr)


def run_caisson(daemon: Daemon, *args: str) -> Ran:
    r = daemon.cli(*args)
    return Ran("caisson", args, r.code, r.out, r.err)


def both(engine: Dockerd, daemon: Daemon, *args: str) -> tuple[Ran, Ran]:
    """(docker's run, caisson's run) of the same command line."""
    return run_docker(engine, *args), run_caisson(daemon, *args)


def show(d: Ran, c: Ran) -> str:
    return f"\n{d}\n{c}"


def succeeded(d: Ran, c: Ran) -> None:
    assert d.code == 0, f"docker failed (the oracle itself){show(d, c)}"
    assert c.code == 0 and "Traceback" not in c.err, f"caisson failed{show(d, c)}"


def pulled_in_both(engine: Dockerd, daemon: Daemon, *refs: str) -> None:
    for ref in refs:
        succeeded(*both(engine, daemon, "pull", "-q", ref))


def single(run: Ran) -> dict[str, Any]:
    docs = json.loads(run.out)
    assert isinstance(docs, list) and len(docs) == 1, str(run)
    return dict(docs[0])


def manifest_digest(catalog: Catalog, repo: str) -> str:
    if repo in catalog.indexes:
        return catalog.indexes[repo].digest
    return catalog.images[repo].digest


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerd(request: pytest.FixtureRequest) -> Iterator[Dockerd]:
    """A dockerd of this module's own (overlay2, its own data root, no bridge or iptables).
    Whatever happens in the tests, it is stopped by pid, its mounts are removed, and its
    directory is deleted."""
    missing = [n for n, p in (("dockerd", find_dockerd()), ("docker", find_docker_cli())) if not p]
    if missing:
        pytest.skip(f"no {' or '.join(missing)} here (Debian's docker.io); tests never install it")
    registry = request.getfixturevalue("registry")
    engine = Dockerd(public_tempdir("caisson-docker-"), (registry.host,))
    try:
        engine.start()
    except DockerdError as e:
        engine.close()
        pytest.skip(str(e))
    try:
        yield engine
    finally:
        engine.close()


def emptied(engine: Dockerd) -> Dockerd:
    ids = sorted(set(run_docker(engine, "images", "-aq", "--no-trunc").lines))
    if ids:
        r = run_docker(engine, "rmi", "-f", *ids)
        assert r.code == 0, str(r)
    return engine


@pytest.fixture
def docker(dockerd: Dockerd) -> Dockerd:
    """The module's dockerd, holding no image."""
    return emptied(dockerd)


@pytest.fixture(scope="module")
def world_daemon(dockerd: Dockerd, catalog: Catalog) -> Iterator[Daemon]:
    """A Caisson daemon that pulled every catalogue image once. Tests only read from it.
    It asks for dockerd first, so a machine without docker skips before anything starts."""
    daemon = Daemon(public_tempdir("caisson-d-"))
    try:
        daemon.start()
        for repo in REPOS:
            ok(daemon.cli("pull", "-q", catalog.ref(repo)))
        yield daemon
        daemon.stop(check=True)
    finally:
        daemon.stop(check=False)
        remove_tree(daemon.base)


@dataclass
class World:
    docker: Dockerd
    caisson: Daemon
    catalog: Catalog

    def ref(self, repo: str) -> str:
        return self.catalog.ref(repo)

    def run(self, *args: str) -> tuple[Ran, Ran]:
        return both(self.docker, self.caisson, *args)


@pytest.fixture
def world(dockerd: Dockerd, world_daemon: Daemon, catalog: Catalog) -> World:
    """Both engines holding every catalogue image. If a test changed dockerd's images,
    dockerd pulls them all again. The order of REPOS matters to docker 20.10, which cannot
    unpack zstd layers. test/busybox-zstd and test/layers-oci come after an image with the
    same config (test/busybox, test/layers-docker), so docker already has their image and
    only records the new references."""
    assert set(REPOS) == set(catalog.images) | set(catalog.indexes), "catalogue changed"
    want = {f"{catalog.ref(repo)}@{manifest_digest(catalog, repo)}" for repo in REPOS}
    fmt = "{{.Repository}}:{{.Tag}}@{{.Digest}}"
    have = set(run_docker(dockerd, "images", "--digests", "--format", fmt).lines)
    if have != want:
        emptied(dockerd)
        for repo in REPOS:
            r = run_docker(dockerd, "pull", "-q", catalog.ref(repo))
            assert r.code == 0, str(r)
    return World(dockerd, world_daemon, catalog)


# -- image inspect -----------------------------------------------------------------------------

# Left out of the comparison because they belong to the engine, not the image:
# - GraphDriver: the storage driver's name and its paths.
# - Container, ContainerConfig, DockerVersion: what docker's builder recorded. They are empty
#   for these images, and Caisson has no builder.
# - Metadata.LastTagTime: when this engine last tagged the image.
# - VirtualSize: a deprecated copy of Size, gone from API 1.44.
ENGINE_FIELDS = ("GraphDriver", "Container", "ContainerConfig", "DockerVersion", "Metadata")
ENGINE_FIELDS += ("VirtualSize",)


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ENGINE_FIELDS}
    for key in ("RepoTags", "RepoDigests"):
        # A separate test checks the order.
        out[key] = sorted(out.get(key) or [])
    return out


def assert_same_inspect(d: Ran, c: Ran) -> None:
    succeeded(d, c)
    theirs, ours = single(d), single(c)
    # Docker gets Size by walking the unpacked layer directories. It counts regular files and
    # symlinks by st_size, counts a hard link once, and does not count directories.
    assert ours.get("Size") == theirs.get("Size"), (
        f"Size: docker {theirs.get('Size')}, caisson {ours.get('Size')} "
        f"(caisson - docker = {int(ours.get('Size') or 0) - int(theirs.get('Size') or 0)})"
    )
    assert comparable(ours) == comparable(theirs), show(d, c)


@pytest.mark.parametrize("repo", REPOS)
def test_image_inspect_matches_docker(world: World, repo: str) -> None:
    assert_same_inspect(*world.run("image", "inspect", world.ref(repo)))


def test_image_inspect_lists_references_in_docker_order(world: World) -> None:
    # test/busybox has the same image ID as -oci, -zstd and -plain: four repositories.
    d, c = world.run("image", "inspect", world.ref("test/busybox"))
    succeeded(d, c)
    theirs, ours = single(d), single(c)
    assert ours["RepoTags"] == theirs["RepoTags"]
    assert ours["RepoDigests"] == theirs["RepoDigests"]


# -- images ------------------------------------------------------------------------------------


def header_and_rows(run: Ran) -> tuple[str, list[str]]:
    lines = run.lines
    return (lines[0] if lines else ""), sorted(lines[1:])


# Docker orders images by creation time only, and every catalogue image has the same one.
# Docker's CLI also groups an image's tags through a map. So the rows are compared as sets,
# but each row is compared whole: cells, padding, and the CREATED text. The CREATED text is
# computed from the same timestamp a moment apart in both engines.
@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--digests",),
        ("--no-trunc",),
        ("-a",),
        ("{host}/test/multi",),
        ("{host}/test/busybox:latest",),
        ("--filter", "reference={host}/test/busybox*"),
        ("--filter", "dangling=true"),
    ],
    ids=lambda a: " ".join(a) or "plain",
)
def test_images_table_matches_docker(world: World, args: tuple[str, ...]) -> None:
    args = tuple(a.replace("{host}", world.catalog.host) for a in args)
    d, c = world.run("images", *args)
    succeeded(d, c)
    assert header_and_rows(c) == header_and_rows(d), show(d, c)


def test_images_quiet_matches_docker(world: World) -> None:
    d, c = world.run("images", "-q")
    succeeded(d, c)
    assert sorted(c.lines) == sorted(d.lines), show(d, c)


def json_rows(run: Ran) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in run.lines]
    return sorted(rows, key=lambda r: (r.get("Repository", ""), r.get("Tag", "")))


@pytest.mark.parametrize("args", [(), ("--digests",)], ids=["plain", "digests"])
def test_images_json_format_matches_docker(world: World, args: tuple[str, ...]) -> None:
    d, c = world.run("images", *args, "--format", "{{json .}}")
    succeeded(d, c)
    theirs, ours = json_rows(d), json_rows(c)
    assert [sorted(r) for r in ours] == [sorted(r) for r in theirs], show(d, c)
    # A separate test checks "Containers".
    for rows in (theirs, ours):
        for row in rows:
            row.pop("Containers", None)
    assert ours == theirs, show(d, c)


def test_images_json_containers_is_not_counted(world: World) -> None:
    d, c = world.run("images", "--format", "{{json .}}")
    succeeded(d, c)
    assert {r["Containers"] for r in json_rows(c)} == {r["Containers"] for r in json_rows(d)}


def test_images_reference_argument_takes_a_pattern(world: World) -> None:
    d, c = world.run("images", f"{world.catalog.host}/test/multi*")
    succeeded(d, c)
    assert header_and_rows(c) == header_and_rows(d), show(d, c)


# -- history -----------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [(), ("--no-trunc",), ("-q",)], ids=["plain", "no-trunc", "q"])
@pytest.mark.parametrize("repo", ["test/busybox", "test/layers-oci", "test/multi-docker"])
def test_history_matches_docker(world: World, repo: str, args: tuple[str, ...]) -> None:
    d, c = world.run("history", *args, world.ref(repo))
    succeeded(d, c)
    assert c.lines == d.lines, show(d, c)


def test_history_json_format_matches_docker(world: World) -> None:
    # Both write the keys sorted (Go's JSON of a map), so the lines compare as text.
    d, c = world.run("history", "--format", "{{json .}}", world.ref("test/layers-docker"))
    succeeded(d, c)
    assert c.lines == d.lines, show(d, c)


def test_history_human_false_matches_docker(world: World) -> None:
    d, c = world.run("history", "--human=false", world.ref("test/layers-docker"))
    succeeded(d, c)
    assert c.lines == d.lines, show(d, c)


# -- pull --------------------------------------------------------------------------------------

LAYER_LINE = re.compile(r"^([0-9a-f]{12}): (.*)$")
# Every status docker's pull can show for a layer, in the order a layer passes through them.
LAYER_STATUSES = (
    "Pulling fs layer",
    "Waiting",
    "Downloading",
    "Verifying Checksum",
    "Download complete",
    "Extracting",
    "Pull complete",
    "Already exists",
)
# Docker shows these only when the timing calls for them. "Waiting" appears when a layer is
# queued behind --max-concurrent-downloads. "Verifying Checksum" appears when it is sent
# before "Download complete".
TIMING_STATUSES = {"Waiting", "Verifying Checksum"}


@dataclass
class Pull:
    lines: list[str]  # every line that is not about a layer
    layers: dict[str, list[str]]  # short id -> its statuses; layers in order of first mention


def parse_pull(run: Ran) -> Pull:
    pull = Pull([], {})
    for line in run.lines:
        m = LAYER_LINE.match(line)
        if m:
            pull.layers.setdefault(m[1], []).append(m[2])
        else:
            pull.lines.append(line)
    return pull


def assert_same_pull(d: Ran, c: Ran) -> None:
    """Checks that both print the same lines apart from the layer lines: the "Using default
    tag", "Pulling from", "Digest:" and "Status:" lines and the final reference. For the
    layers, checks the same layers in the same order, each ending in the same status, with
    docker's statuses among ours (except those that depend on timing) and ours all from
    docker's set."""
    succeeded(d, c)
    theirs, ours = parse_pull(d), parse_pull(c)
    assert ours.lines == theirs.lines, show(d, c)
    assert list(ours.layers) == list(theirs.layers), show(d, c)
    for layer, statuses in theirs.layers.items():
        mine = ours.layers[layer]
        assert set(mine) <= set(LAYER_STATUSES), f"{layer}: {mine}{show(d, c)}"
        # test_layer_statuses_only_move_forward checks the order.
        assert statuses[-1] in mine, f"{layer}: {mine}{show(d, c)}"
        assert set(statuses) - TIMING_STATUSES <= set(mine), f"{layer}: {mine}{show(d, c)}"


COLD_PULLS = [pytest.param(repo, "", id=repo) for repo in REPOS] + [
    pytest.param("test/multi-docker", "linux/arm64", id="test/multi-docker-arm64"),
    pytest.param("test/multi", "linux/arm/v7", id="test/multi-arm-v7"),
]


def skip_unless_docker_unpacks(engine: Dockerd, image: images.Image) -> None:
    if any("zstd" in layer.blob.media_type for layer in image.layers):
        major, minor = engine.server_version()
        if major < 23:
            pytest.skip(f"docker {major}.{minor} cannot unpack zstd layers (docker 23 can)")


@pytest.mark.parametrize(("repo", "platform"), COLD_PULLS)
def test_cold_pull_matches_docker(
    docker: Dockerd, daemon: Daemon, catalog: Catalog, repo: str, platform: str
) -> None:
    if repo in catalog.images:
        skip_unless_docker_unpacks(docker, catalog.images[repo])
    ref = catalog.ref(repo)
    args = ("pull", "--platform", platform, ref) if platform else ("pull", ref)
    assert_same_pull(*both(docker, daemon, *args))
    # This compares Architecture, Os and Variant too (docker leaves Variant out when empty).
    assert_same_inspect(*both(docker, daemon, "image", "inspect", ref))


def test_cold_pull_off_a_tty_prints_no_progress_statuses(
    docker: Dockerd, daemon: Daemon, catalog: Catalog
) -> None:
    d, c = both(docker, daemon, "pull", catalog.ref("test/layers-docker"))
    succeeded(d, c)
    for run in (d, c):
        shown = {s for statuses in parse_pull(run).layers.values() for s in statuses}
        assert not shown & {"Downloading", "Extracting"}, show(d, c)


def test_layer_statuses_only_move_forward(
    docker: Dockerd, daemon: Daemon, catalog: Catalog
) -> None:
    """A layer's statuses only move forward (LAYER_STATUSES order), as they do in docker.
    Caisson pulls small two-layer images cold a few times, because the race shows up only
    sometimes."""
    rank = {s: i for i, s in enumerate(LAYER_STATUSES)}

    def forward(run: Ran) -> None:
        for layer, statuses in parse_pull(run).layers.items():
            assert statuses[0] == "Pulling fs layer", f"not a cold pull\n{run}"
            ranks = [rank[s] for s in statuses]
            assert ranks == sorted(ranks), f"{run.tool}: {layer}: {statuses}\n{run}"

    refs = [catalog.ref("test/multi-docker"), catalog.ref("test/layers-docker")]
    for ref in refs:
        forward(run_docker(docker, "pull", ref))
    for _ in range(4):
        for ref in refs:
            r = run_caisson(daemon, "pull", ref)
            assert r.code == 0, str(r)
            forward(r)
        ok(daemon.cli("rmi", *refs))


def test_pull_quiet_matches_docker(docker: Dockerd, daemon: Daemon, catalog: Catalog) -> None:
    d, c = both(docker, daemon, "pull", "-q", catalog.ref("test/busybox-plain"))
    succeeded(d, c)
    assert (c.out, c.err) == (d.out, d.err), show(d, c)


@pytest.mark.parametrize("repo", ["test/busybox", "test/multi"])
def test_second_pull_says_up_to_date_like_docker(world: World, repo: str) -> None:
    d, c = world.run("pull", world.ref(repo))
    succeeded(d, c)
    assert f"Status: Image is up to date for {world.ref(repo)}" in d.lines
    # A separate test checks the layer lines.
    assert parse_pull(c).lines == parse_pull(d).lines, show(d, c)


def test_second_pull_prints_no_layer_lines(world: World) -> None:
    d, c = world.run("pull", world.ref("test/busybox"))
    succeeded(d, c)
    assert c.lines == d.lines, show(d, c)


def test_pull_by_digest_matches_docker(world: World) -> None:
    repo = "test/busybox-zstd"
    d, c = world.run("pull", world.catalog.digest_ref(repo, manifest_digest(world.catalog, repo)))
    succeeded(d, c)
    # A separate test checks line 1, the "Pulling from" line.
    assert parse_pull(c).lines[1:] == parse_pull(d).lines[1:], show(d, c)


def test_pull_by_digest_names_the_reference_first(world: World) -> None:
    repo = "test/busybox-zstd"
    d, c = world.run("pull", world.catalog.digest_ref(repo, manifest_digest(world.catalog, repo)))
    succeeded(d, c)
    assert c.lines[:1] == d.lines[:1], show(d, c)


# -- tag and rmi -------------------------------------------------------------------------------


def test_tag_matches_docker(docker: Dockerd, daemon: Daemon, catalog: Catalog) -> None:
    ref = catalog.ref("test/busybox")
    image = catalog.images["test/busybox"]
    pulled_in_both(docker, daemon, ref)
    other = f"{catalog.host}/oracle/tagged:v1"
    for args in (
        ("tag", ref, other),  # another repository in the same registry
        ("tag", images.hex_of(image.id)[:12], "oracle-local"),  # by short ID; Docker Hub name
        ("tag", image.id, "oracle-local:v2"),  # by full ID
        ("tag", "oracle-local", other),  # an existing tag again: nothing changes
    ):
        d, c = both(docker, daemon, *args)
        assert (c.code, c.out, c.err) == (d.code, d.out, d.err), show(d, c)
    d, c = both(docker, daemon, "images")
    succeeded(d, c)
    assert header_and_rows(c) == header_and_rows(d), show(d, c)
    assert_same_inspect(*both(docker, daemon, "image", "inspect", other))
    for name in ("oracle-local:v2", other):
        d, c = both(docker, daemon, "rmi", name)
        assert (c.code, c.out, c.err) == (d.code, d.out, d.err), show(d, c)


def untagged_and_deleted_image(run: Ran) -> tuple[list[str], list[str]]:
    """The Untagged lines, and the first Deleted line (the image; layers come after it)."""
    untagged = [x for x in run.lines if x.startswith("Untagged: ")]
    deleted = [x for x in run.lines if x.startswith("Deleted: ")]
    return untagged, deleted[:1]


def test_rmi_of_the_last_tag_matches_docker(
    docker: Dockerd, daemon: Daemon, catalog: Catalog
) -> None:
    ref = catalog.ref("test/layers-docker")
    pulled_in_both(docker, daemon, ref)
    d, c = both(docker, daemon, "rmi", ref)
    succeeded(d, c)
    image = catalog.images["test/layers-docker"]
    assert untagged_and_deleted_image(d)[1] == [f"Deleted: {image.id}"], str(d)
    assert untagged_and_deleted_image(c) == untagged_and_deleted_image(d), show(d, c)
    d, c = both(docker, daemon, "images", "-aq")
    assert (c.out, d.out) == ("", ""), show(d, c)


def test_rmi_reports_the_deleted_layers(docker: Dockerd, daemon: Daemon, catalog: Catalog) -> None:
    ref = catalog.ref("test/layers-docker")
    pulled_in_both(docker, daemon, ref)
    d, c = both(docker, daemon, "rmi", ref)
    succeeded(d, c)
    chains = images.chain_ids(catalog.images["test/layers-docker"].diff_ids)
    assert d.lines[-2:] == [f"Deleted: {x}" for x in reversed(chains)], str(d)
    assert c.lines == d.lines, show(d, c)


def test_rmi_of_a_repository_s_last_tag_untags_its_digest(
    docker: Dockerd, daemon: Daemon, catalog: Catalog
) -> None:
    # The docker and OCI flavours of the layer cases have the same config, so the same image.
    pulled_in_both(
        docker, daemon, catalog.ref("test/layers-docker"), catalog.ref("test/layers-oci")
    )
    d, c = both(docker, daemon, "rmi", catalog.ref("test/layers-docker"))
    succeeded(d, c)
    assert c.lines == d.lines, show(d, c)


def force_removed_by_id(docker: Dockerd, daemon: Daemon, catalog: Catalog) -> tuple[Ran, Ran]:
    """`rmi -f <short id>` of an image held by two repositories and a Docker Hub name."""
    pulled_in_both(docker, daemon, catalog.ref("test/busybox"), catalog.ref("test/busybox-oci"))
    succeeded(*both(docker, daemon, "tag", catalog.ref("test/busybox"), "oracle-local:a"))
    short = images.hex_of(catalog.images["test/busybox"].id)[:12]
    d, c = both(docker, daemon, "rmi", "-f", short)
    succeeded(d, c)
    return d, c


def test_rmi_force_by_id_matches_docker(docker: Dockerd, daemon: Daemon, catalog: Catalog) -> None:
    d, c = force_removed_by_id(docker, daemon, catalog)
    theirs, ours = untagged_and_deleted_image(d), untagged_and_deleted_image(c)
    # A separate test checks the order of the Untagged lines.
    assert (sorted(ours[0]), ours[1]) == (sorted(theirs[0]), theirs[1]), show(d, c)


def test_rmi_force_by_id_untags_in_docker_order(
    docker: Dockerd, daemon: Daemon, catalog: Catalog
) -> None:
    d, c = force_removed_by_id(docker, daemon, catalog)
    assert untagged_and_deleted_image(c)[0] == untagged_and_deleted_image(d)[0], show(d, c)


def test_rmi_of_an_image_in_several_repositories_is_refused(world: World) -> None:
    short = images.hex_of(world.catalog.images["test/busybox"].id)[:12]
    d, c = world.run("rmi", short)
    assert d.code != 0, str(d)
    assert (c.code, c.out, c.err) == (d.code, d.out, d.err), show(d, c)


# -- errors ------------------------------------------------------------------------------------


def error_line(err: str) -> str:
    line = err.strip()
    # Docker prints a registry error as its code's text and then the registry's message. The
    # distribution registry gives "manifest unknown" for both, and Caisson says it once.
    line = re.sub(r": ([^:]+): \1$", r": \1", line)
    # Docker >= 23 names the repository ("repository name (library/x) must be lowercase").
    # Debian's 20.10 does not.
    return re.sub(r"repository name \([^)]*\) must", "repository name must", line)


ERRORS = [
    pytest.param(("pull", "{host}/test/busybox:nope"), id="pull-unknown-tag"),
    pytest.param(("pull", "{host}/test/nosuchrepo"), id="pull-unknown-repo"),
    pytest.param(("pull", "{host}/test/busybox@sha256:" + "0" * 64), id="pull-unknown-digest"),
    pytest.param(("pull", "{host}/test/UPPER"), id="pull-bad-reference"),
    pytest.param(("image", "inspect", "nosuchimage"), id="inspect-unknown"),
    pytest.param(("rmi", "nosuchimage"), id="rmi-unknown"),
    pytest.param(("rmi", "{host}/test/busybox:nope"), id="rmi-unknown-tag"),
    pytest.param(("tag", "nosuchimage", "oracle/x"), id="tag-unknown-source"),
    pytest.param(("tag", "{host}/test/busybox", "oracle/UPPER"), id="tag-bad-target"),
    pytest.param(("history", "nosuchimage"), id="history-unknown"),
]


@pytest.mark.parametrize("args", ERRORS)
def test_errors_match_docker(world: World, args: tuple[str, ...]) -> None:
    args = tuple(a.replace("{host}", world.catalog.host) for a in args)
    d, c = world.run(*args)
    assert d.code != 0, str(d)
    assert "Traceback" not in c.err, str(c)
    assert (c.code, c.out.strip(), error_line(c.err)) == (
        d.code,
        d.out.strip(),
        error_line(d.err),
    ), show(d, c)


# -- the unpacked layers -----------------------------------------------------------------------


def tree(root: str) -> dict[str, dict[str, Any]]:
    """Each entry under root (root itself as "."): type and mode bits, owner, size of
    regular files, symlink target, device numbers, mtime, every xattr, and the other names of
    a hard-linked file. Leaves out the mtimes the engine sets when it unpacks (the root's,
    whiteouts') and directory sizes (these depend on the filesystem)."""
    found: dict[str, os.stat_result] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, root)] = os.lstat(path)
    found["."] = os.lstat(root)
    by_inode: dict[int, list[str]] = {}
    for rel, st in found.items():
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            by_inode.setdefault(st.st_ino, []).append(rel)
    out: dict[str, dict[str, Any]] = {}
    for rel, st in sorted(found.items()):
        path = os.path.join(root, rel)
        e: dict[str, Any] = {"mode": stat.filemode(st.st_mode), "owner": (st.st_uid, st.st_gid)}
        whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        if rel != "." and not whiteout:
            # The engine makes a whiteout device when it unpacks, with that time as its mtime.
            e["mtime"] = int(st.st_mtime)
        if stat.S_ISREG(st.st_mode):
            e["size"] = st.st_size
            e["links"] = sorted(by_inode.get(st.st_ino, [rel]))
        elif stat.S_ISLNK(st.st_mode):
            e["target"] = os.readlink(path)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            e["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
        e["xattrs"] = {
            k: os.getxattr(path, k, follow_symlinks=False)
            for k in sorted(os.listxattr(path, follow_symlinks=False))
        }
        out[rel] = e
    return out


@pytest.mark.parametrize("repo", LAYER_CASES)
def test_snapshots_match_docker_layers(world: World, daemon: Daemon, repo: str) -> None:
    """Caisson's snapshot of each layer (<data>/snapshots/<chain id>/fs) holds what docker's
    overlay2 layer holds (overlay2/<id>/diff). This covers whiteouts as 0/0 character devices
    and opaque directories as trusted.overlay.opaque. Both flavours have the same diff IDs,
    so both are compared with docker's layers of test/layers-docker: its gzip layers were
    unpacked by docker, and docker 20.10 cannot unpack the OCI flavour's zstd layer. A fresh
    daemon pulls only `repo`, so its snapshots come from that flavour's own blobs."""
    image = world.catalog.images[repo]
    assert image.diff_ids == world.catalog.images["test/layers-docker"].diff_ids
    ok(daemon.cli("pull", "-q", world.ref(repo)))
    theirs = world.docker.layer_dirs(world.ref("test/layers-docker"))
    ours = [daemon.snapshot_fs(chain) for chain in image.chain_ids]
    assert len(theirs) == len(ours), theirs
    for i, (docker_dir, caisson_dir) in enumerate(zip(theirs, ours, strict=True)):
        a, b = tree(docker_dir), tree(caisson_dir)
        diffs = [
            f"{p}:\n  docker  {a.get(p)}\n  caisson {b.get(p)}"
            for p in sorted(set(a) | set(b))
            if a.get(p) != b.get(p)
        ]
        assert not diffs, f"layer {i + 1} ({docker_dir} vs {caisson_dir}):\n" + "\n".join(diffs)
