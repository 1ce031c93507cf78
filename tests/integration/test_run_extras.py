"""`top`, `stats`, `cp` (both ways) and `container prune` with real containers, from an image
pulled from the test registry; each test checks that nothing of its containers stays behind."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator

import pytest

from tests.support.expect import fails, ok
from tests.support.images import RUN_VOLUME_FILE
from tests.support.processes import public_tempdir, remove_tree, wait_for
from tests.support.services import Daemon, venv_bin

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_leaks")]

PS_EF_TITLES = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]


@pytest.fixture
def hostdir() -> Iterator[str]:
    path = public_tempdir("caisson-cp-")
    try:
        yield path
    finally:
        remove_tree(path)


def sleeper(d: Daemon, image: str, name: str, *flags: str) -> str:
    """A running container with three processes: sh and two sleeps."""
    script = "sleep 301 & sleep 302 & wait"
    return ok(d.cli("run", "-d", "--name", name, *flags, image, "sh", "-c", script)).out.strip()


def cli_bytes(
    d: Daemon, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The CLI with binary stdin/stdout (`cp` to and from `-`)."""
    return subprocess.run(
        [venv_bin("caisson"), "-H", d.host, *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        env=d.env(),
        cwd=d.base,
        check=False,
    )


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


# --- top -----------------------------------------------------------------------------------


def test_top_shows_only_the_container_processes(runner: Daemon, image: str) -> None:
    sleeper(runner, image, "topped")
    wait_for(lambda: "sleep 302" in runner.cli("top", "topped").out, 10, what="both sleeps running")
    lines = ok(runner.cli("top", "topped")).out.splitlines()
    assert lines[0].split() == PS_EF_TITLES, lines
    commands = sorted(line.split(None, 7)[7] for line in lines[1:])
    assert commands == ["sh -c sleep 301 & sleep 302 & wait", "sleep 301", "sleep 302"], lines
    # ps options pass through: `aux` has its own columns.
    lines = ok(runner.cli("top", "topped", "aux")).out.splitlines()
    assert lines[0].split()[:2] == ["USER", "PID"], lines
    assert len(lines) == 4, lines
    ok(runner.cli("stop", "-t", "0", "topped"))
    fails(runner.cli("top", "topped"), "is not running")
    fails(runner.cli("top", "nosuchcontainer"), "No such container: nosuchcontainer")


# --- stats ---------------------------------------------------------------------------------


def test_stats_no_stream_shows_limit_and_pids(runner: Daemon, image: str) -> None:
    cid = sleeper(runner, image, "measured", "--memory", "64m")
    ok(runner.cli("run", "--name", "stopped", image, "true"))
    wait_for(
        lambda: "sleep 302" in runner.cli("top", "measured").out, 10, what="both sleeps running"
    )
    r = ok(runner.cli("stats", "--no-stream", "measured"))
    lines = r.out.splitlines()
    assert lines[0].split()[:3] == ["CONTAINER", "ID", "NAME"], r
    row = lines[1].split()
    assert row[0] == cid[:12] and row[1] == "measured", r
    fmt = "{{.Name}}|{{.MemUsage}}|{{.PIDs}}|{{.NetIO}}"
    r = ok(runner.cli("stats", "--no-stream", "--format", fmt, "measured"))
    name, mem, pids, net = r.out.strip().split("|")
    assert name == "measured" and pids == "3", r
    assert re.fullmatch(r"[\d.]+[kMG]?B / [\d.]+[kMG]?B", net), r  # eth0 on the default bridge
    assert mem.endswith(" / 64MiB"), r
    # Without names: every running container, and only those.
    r = ok(runner.cli("stats", "--no-stream", "--format", "{{.Name}}"))
    assert r.out.split() == ["measured"], r
    # A named stopped container has no sample: docker shows dashes, not an error.
    r = ok(runner.cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "stopped"))
    assert r.out.split() == ["--", "--"], r
    fails(runner.cli("stats", "--no-stream", "nosuchcontainer"), "No such container")


# --- cp ------------------------------------------------------------------------------------


def test_cp_out_of_a_container(runner: Daemon, image: str, hostdir: str) -> None:
    ok(
        runner.cli(
            "run",
            "--name",
            "source",
            image,
            "sh",
            "-c",
            "mkdir -p /out/sub && echo deep > /out/sub/f && ln -s /out/sub/f /out/link",
        )
    )
    # A file into a directory, and under a new name.
    ok(runner.cli("cp", "source:/etc/passwd", hostdir + "/"))
    assert read(os.path.join(hostdir, "passwd")).startswith("root:x:0:0:"), os.listdir(hostdir)
    ok(runner.cli("cp", "source:/out/sub/f", os.path.join(hostdir, "renamed")))
    assert read(os.path.join(hostdir, "renamed")) == "deep\n"
    # A directory, with its symlink kept as a symlink.
    ok(runner.cli("cp", "source:/out", os.path.join(hostdir, "tree")))
    assert read(os.path.join(hostdir, "tree", "sub", "f")) == "deep\n"
    assert os.readlink(os.path.join(hostdir, "tree", "link")) == "/out/sub/f"
    # -L follows the symlink.
    ok(runner.cli("cp", "-L", "source:/out/link", os.path.join(hostdir, "followed")))
    assert read(os.path.join(hostdir, "followed")) == "deep\n"
    # The anonymous volume on /data (mounted only in the container) is read through.
    ok(runner.cli("cp", "source:/data", os.path.join(hostdir, "data")))
    seed = os.path.join(hostdir, "data", os.path.basename(RUN_VOLUME_FILE[0]))
    assert read(seed).encode() == RUN_VOLUME_FILE[1]
    # "/." copies the directory's content, into a new directory or an existing one.
    ok(runner.cli("cp", "source:/out/.", os.path.join(hostdir, "content")))
    assert sorted(os.listdir(os.path.join(hostdir, "content"))) == ["link", "sub"]
    ok(runner.cli("cp", "source:/out/sub/.", os.path.join(hostdir, "tree")))
    assert sorted(os.listdir(os.path.join(hostdir, "tree"))) == ["f", "link", "sub"]
    # The per-container files are the container's own, as it sees them.
    ok(runner.cli("cp", "source:/etc/hostname", os.path.join(hostdir, "hostname")))
    cid = json.loads(ok(runner.cli("inspect", "source")).out)[0]["Id"]
    assert read(os.path.join(hostdir, "hostname")) == cid[:12] + "\n"
    # `-`: a tar stream on stdout, rooted at the base name.
    r = cli_bytes(runner, "cp", "source:/out", "-")
    assert r.returncode == 0, r.stderr
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        assert sorted(tar.getnames()) == ["out", "out/link", "out/sub", "out/sub/f"]
    fails(runner.cli("cp", "source:/nothing", hostdir), "No such container:path: source:/nothing")
    fails(runner.cli("cp", "nosuch:/etc", hostdir), "No such container:path: nosuch:/etc")


def test_cp_into_a_container(runner: Daemon, image: str, hostdir: str) -> None:
    with open(os.path.join(hostdir, "hello.txt"), "w") as f:
        f.write("hello\n")
    os.makedirs(os.path.join(hostdir, "dir", "inner"))
    with open(os.path.join(hostdir, "dir", "inner", "x"), "w") as f:
        f.write("x\n")
    sleeper(runner, image, "target")
    ok(runner.cli("cp", os.path.join(hostdir, "hello.txt"), "target:/tmp/"))
    ok(runner.cli("cp", os.path.join(hostdir, "hello.txt"), "target:/renamed.txt"))
    ok(runner.cli("cp", os.path.join(hostdir, "dir"), "target:/copied"))
    # Into the volume on /data, mounted only in the container's namespace.
    ok(runner.cli("cp", os.path.join(hostdir, "hello.txt"), "target:/data/"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("from-stdin")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"piped\n"))
    r = cli_bytes(runner, "cp", "-", "target:/data", stdin=buf.getvalue())
    assert r.returncode == 0, r.stderr
    script = "cat /tmp/hello.txt /renamed.txt /copied/inner/x /data/hello.txt /data/from-stdin"
    r = ok(runner.cli("exec", "target", "sh", "-c", script))
    assert r.out == "hello\nhello\nx\nhello\npiped\n", r
    # A stopped container takes files too; its process sees them when it runs again.
    ok(runner.cli("create", "--name", "later", image, "cat", "/hello.txt", "/data/hello.txt"))
    ok(runner.cli("cp", os.path.join(hostdir, "hello.txt"), "later:/"))
    ok(runner.cli("cp", os.path.join(hostdir, "hello.txt"), "later:/data/"))
    r = ok(runner.cli("start", "-a", "later"))
    assert r.out == "hello\nhello\n", r
    fails(
        runner.cli("cp", os.path.join(hostdir, "hello.txt"), "target:/no/such/file"),
        "Could not find the file",
    )


def test_cp_read_only_rootfs_and_volume(runner: Daemon, image: str, hostdir: str) -> None:
    src = os.path.join(hostdir, "f")
    with open(src, "w") as f:
        f.write("f\n")
    host = os.path.join(hostdir, "bound")
    os.mkdir(host)
    ok(
        runner.cli(
            "run",
            "-d",
            "--name",
            "ro",
            "--read-only",
            "-v",
            f"{host}:/bound:ro",
            image,
            "sleep",
            "300",
        )
    )
    fails(runner.cli("cp", src, "ro:/"), "container rootfs is marked read-only")
    fails(runner.cli("cp", src, "ro:/bound/"), "mounted volume is marked read-only")
    assert os.listdir(host) == []


def test_cp_symlinks_stay_inside_the_container(runner: Daemon, image: str, hostdir: str) -> None:
    canary_dir = os.path.join(hostdir, "canary")
    os.mkdir(canary_dir)
    with open(os.path.join(canary_dir, "secret"), "w") as f:
        f.write("host secret\n")
    up = "/.." * 12
    script = (
        f"ln -s {up}{canary_dir}/secret /leak; ln -s {up}{canary_dir} /into; "
        f"ln -s ../../../../../../../../..{canary_dir} /data/rel"
    )
    ok(runner.cli("run", "-d", "--name", "tricky", image, "sh", "-c", script + "; sleep 300"))
    wait_for(
        lambda: runner.cli("exec", "tricky", "test", "-L", "/data/rel").code == 0, 10, what="links"
    )
    out = os.path.join(hostdir, "out")
    os.mkdir(out)
    # The symlink itself comes out, never what it names on the host.
    ok(runner.cli("cp", "tricky:/leak", out + "/"))
    assert os.path.islink(os.path.join(out, "leak"))
    fails(runner.cli("cp", "-L", "tricky:/leak", out + "/followed"), "No such container:path")
    fails(runner.cli("cp", "tricky:/into/secret", out + "/"), "No such container:path")
    fails(runner.cli("cp", "tricky:/data/rel/secret", out + "/"), "No such container:path")
    assert sorted(os.listdir(out)) == ["leak"]
    # Writes through the links land in the container (or fail), never on the host.
    src = os.path.join(hostdir, "planted")
    with open(src, "w") as f:
        f.write("planted\n")
    runner.cli("cp", src, "tricky:/into/")
    runner.cli("cp", src, "tricky:/data/rel/")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, target in (("esc", "../../../../../.."), ("abs", canary_dir)):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
        info = tarfile.TarInfo("abs/planted")
        tar.addfile(info, io.BytesIO(b""))
    r = cli_bytes(runner, "cp", "-", "tricky:/tmp", stdin=buf.getvalue())
    assert r.returncode != 0 and b"invalid symlink" in r.stderr, r.stderr
    assert sorted(os.listdir(canary_dir)) == ["secret"]
    assert read(os.path.join(canary_dir, "secret")) == "host secret\n"


# --- container prune -----------------------------------------------------------------------


def test_container_prune_removes_only_stopped_containers(runner: Daemon, image: str) -> None:
    ok(runner.cli("run", "--name", "done1", image, "sh", "-c", "head -c 100000 /dev/zero > /blob"))
    ok(runner.cli("create", "--name", "fresh", "--label", "keep=yes", image, "true"))
    sleeper(runner, image, "alive")
    done = json.loads(ok(runner.cli("inspect", "done1")).out)[0]["Id"]
    # A label filter leaves the others alone.
    r = ok(runner.cli("container", "prune", "-f", "--filter", "label=keep=yes"))
    assert "Deleted Containers:" in r.out and "Total reclaimed space:" in r.out, r
    names = ok(runner.cli("ps", "-a", "--format", "{{.Names}}")).out.split()
    assert sorted(names) == ["alive", "done1"], names
    r = ok(runner.cli("container", "prune", "-f"))
    assert r.out.splitlines()[:2] == ["Deleted Containers:", done], r
    reclaimed = r.out.strip().splitlines()[-1]
    assert reclaimed.startswith("Total reclaimed space: ") and reclaimed != (
        "Total reclaimed space: 0B"
    ), r
    assert ok(runner.cli("ps", "-a", "--format", "{{.Names}}")).out.split() == ["alive"]
    r = ok(runner.cli("container", "prune", "-f"))
    assert r.out == "Total reclaimed space: 0B\n" or r.out == "\nTotal reclaimed space: 0B\n", r
    fails(runner.cli("container", "prune", "-f", "--filter", "bogus=1"), "Invalid filter 'bogus'")
    fails(runner.cli("container", "prune", "-f", "--filter", "until=soon"), "failed to parse")
