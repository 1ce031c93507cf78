"""The container init's parts that need no container: its spec's round trip through init.json
(read without the json module), the error line it reports, how it joins cgroups (on this host's
real ones too, as root), and how it starts: the executor's command line runs it without site,
and it imports none of the stdlib modules that would cost each start (a fresh interpreter)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from caisson.executor import containerinit as ci
from caisson.executor import initboot
from caisson.executor.cgroup_manager import Cgroup, Resources
from caisson.executor.cgroups import detect_mode
from tests.support.cgroups import host_cgroup

# What the init must not import: each costs milliseconds of every container start, and
# anything imported after pivot_root would not even be found.
COSTLY = (
    "site",
    "typing",
    "re",
    "json",
    "dataclasses",
    "inspect",
    "pathlib",
    "socket",
    "signal",
    "enum",
    "contextlib",
    "functools",
    "collections",
    "platform",
    "grpc",
)


def full_spec() -> ci.InitSpec:
    return ci.InitSpec(
        mode="run",
        process=ci.ProcessSpec(
            args=["sh", "-c", 'echo "ü" \\ \u2603'],
            env=["PATH=/bin", "EMPTY="],
            cwd="/work",
            user="1000:100",
            groups=["audio"],
        ),
        namespaces=["mnt", "uts", "net"],
        netns_path="/proc/1/ns/net",
        target_pid=42,
        hostname="box",
        domainname="example.org",
        cgroup_procs=["/sys/fs/cgroup/pids/c/cgroup.procs"],
        rootfs={
            "rootfs": "/data/rootfs",
            "shm_size": 1 << 20,
            "binds": [{"source": "/a", "destination": "/b", "readonly": True}],
            "masked_paths": [],
        },
        rlimits=[("nofile", 1024, 2048), ("core", -1, -1)],
        caps=["CAP_CHOWN", "CAP_KILL"],
        no_new_privs=True,
        console=True,
        seccomp_bpf="/run/seccomp/x.bpf",
        seccomp_flags=4,
    )


def test_init_spec_round_trip() -> None:
    spec = full_spec()
    text = spec.to_json()
    assert json.loads(text)["process"]["user"] == "1000:100"
    back = ci.InitSpec.from_json(text)
    assert vars(back.process) == vars(spec.process)
    assert {**vars(back), "process": None} == {**vars(spec), "process": None}
    assert back.rlimits == [("nofile", 1024, 2048), ("core", -1, -1)]


def test_init_spec_defaults_are_not_shared() -> None:
    a = ci.InitSpec(mode="run", process=ci.ProcessSpec(args=["true"]))
    b = ci.InitSpec(mode="run", process=ci.ProcessSpec(args=["true"]))
    a.namespaces.append("mnt")
    a.process.env.append("A=1")
    a.rootfs["rootfs"] = "/r"
    assert (b.namespaces, b.process.env, b.rootfs) == ([], [], {})


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"a": [1, -2, 3.5, 1e300, True, False, None], "b": {"c": {}}, "d": []}),
        json.dumps({"s": 'q"uote \\ back\nline\ttab \u00e9 \u2603 \U0001f600 \x00'}),
        json.dumps({"s": "\u00e9 \u2603"}, ensure_ascii=False),
        json.dumps([1.5e-7, 12345678901234567890, -0.0, 0]),
        json.dumps({"big": float("inf"), "small": float("-inf")}),
        '  {"spaced" : [ 1 , 2 ] }  \n',
        '"just a string"',
        "[]",
    ],
)
def test_json_reader_reads_what_json_reads(text: str) -> None:
    assert ci._json_loads(text) == json.loads(text)


def test_json_reader_reads_nan() -> None:
    assert math.isnan(ci._json_loads('{"x": NaN}')["x"])


@pytest.mark.parametrize(
    "text", ['{"a": }', '{"a": 1} x', '{"a": 1}{}', '{"a": 1}\x0b', "", " ", "{", "nul"]
)
def test_json_reader_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        ci._json_loads(text)


@pytest.mark.parametrize("message", ["plain", 'exec: "x\\y": not found \u00e9\n\x01 \u2603'])
def test_report_writes_the_json_line(message: str) -> None:
    r, w = os.pipe()
    try:
        ci._report(w, message, 127)
        os.close(w)
        w = -1
        line = os.read(r, 65536).decode()
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    assert line == json.dumps({"error": message, "exit_code": 127}) + "\n"


def test_report_to_a_gone_monitor_is_silent() -> None:
    r, w = os.pipe()
    os.close(r)
    try:
        ci._report(w, "nobody reads this", 125)  # EPIPE (SIGPIPE is ignored in Python)
    finally:
        os.close(w)


def test_join_cgroups_prefers_tasks_of_a_v1_hierarchy(tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    for d, names in ((v1, ("cgroup.procs", "tasks")), (v2, ("cgroup.procs",))):
        d.mkdir()
        for name in names:
            (d / name).write_text("")
    ci.join_cgroups([str(v1 / "cgroup.procs"), str(v2 / "cgroup.procs")])
    assert (v1 / "tasks").read_text() == "0"
    assert (v1 / "cgroup.procs").read_text() == ""
    assert (v2 / "cgroup.procs").read_text() == "0"


def test_join_cgroups_names_the_missing_cgroup(tmp_path: Path) -> None:
    gone = str(tmp_path / "gone" / "cgroup.procs")
    with pytest.raises(FileNotFoundError) as e:
        ci.join_cgroups([gone])
    assert e.value.filename == gone
    assert ci._describe(e.value) == f"No such file or directory: {gone}"


@pytest.fixture
def cgroup() -> Iterator[Cgroup]:
    with host_cgroup("init") as cg:
        yield cg


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
@pytest.mark.skipif(detect_mode() not in ("v1", "hybrid", "v2"), reason="no cgroups")
def test_join_cgroups_moves_the_whole_process(cgroup: Cgroup) -> None:
    """The executor's list of cgroup.procs files (one per hierarchy): afterwards each lists the
    process, whichever file the init wrote to."""
    cgroup.create(Resources())
    procs = [os.path.join(cgroup.fs.path(d), "cgroup.procs") for d in cgroup.dirs()]
    code = (
        "import json, sys\n"
        "from caisson.executor import containerinit\n"
        "containerinit.join_cgroups(json.loads(sys.argv[1]))\n"
        "print('joined', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(procs)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "joined\n"
        for path in procs:
            with open(path) as f:
                assert f.read().split() == [str(child.pid)], path
    finally:
        child.communicate("\n", timeout=30)
    assert child.returncode == 0


def test_the_init_starts_without_site_and_imports_little(tmp_path: Path) -> None:
    """The executor's command line for the init, up to its first failure (no init.json): it
    finds its packages without site and the editable install, and reports as the init does."""
    init_json = str(tmp_path / "init.json")
    python, *args = initboot.argv(sys.executable, init_json)
    assert args[:2] == ["-I", "-S"]
    proc = subprocess.run(
        [python, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    lines = proc.stderr.splitlines()
    assert proc.returncode == ci.EXIT_START_FAILED, proc.stderr
    assert lines[-1] == f"failed to start container process: No such file or directory: {init_json}"
    imported = {ln.rpartition("|")[2].strip() for ln in lines if ln.startswith("import time:")}
    assert "caisson.executor.containerinit" in imported
    costly = sorted(m for m in imported if m.partition(".")[0] in COSTLY)
    assert costly == []
