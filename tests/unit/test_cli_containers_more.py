"""exec, cp, stats, attach and the volume commands against the fake daemon."""

from __future__ import annotations

import functools
import io
import json
import stat
import tarfile
from pathlib import Path

import pytest

from caisson.cli import containers, cp, volumes
from caisson_api.daemon.v1 import containers_pb2 as pb
from tests.unit import test_cli_containers_fake as fake
from tests.unit.test_cli_containers_fake import Daemon

daemon = fake.daemon  # the fixture
ID = "3f" * 32

# --- exec ----------------------------------------------------------------------------------


def test_exec_streams_and_exits_with_the_process_code(daemon: Daemon) -> None:
    daemon.state.add("web").running = True
    daemon.state.output = [("stdout", b"hi\n"), ("stderr", b"err\n")]
    daemon.state.exit = pb.ExitStatus(exit_code=4, started=True)
    code, out, err = daemon.run(
        "exec", "-u", "1000", "-w", "/tmp", "-e", "A=1", "--privileged", "web", "sh", "-c", "x"
    )
    assert (code, out, err) == (4, "hi\n", "err\n")
    (req,) = daemon.asked(pb.ExecRequest)
    assert req.open == pb.ExecOpen(
        container="web",
        cmd=["sh", "-c", "x"],
        env=["A=1"],
        user="1000",
        working_dir="/tmp",
        privileged=True,
    )


def test_exec_interactive_and_detached(daemon: Daemon) -> None:
    daemon.state.add("web")
    daemon.state.echo = True
    code, out, _ = daemon.run("exec", "-i", "web", "cat", stdin="typed\n")
    assert (code, out) == (0, "typed\n") and daemon.state.stdin_closed.is_set()
    code, out, _ = daemon.run("exec", "-d", "web", "sleep", "9")
    assert (code, out) == (0, "")
    assert daemon.asked(pb.ExecRequest)[-1].open.detach


def test_exec_errors(daemon: Daemon) -> None:
    code, _, err = daemon.run("exec", "nope", "ls")
    assert (code, err) == (1, "Error: No such container: nope\n")
    daemon.state.add("web")
    daemon.state.exit = pb.ExitStatus(exit_code=126, error='exec: "nosuch": not found')
    code, _, err = daemon.run("exec", "web", "nosuch")
    assert (code, err) == (126, 'exec: "nosuch": not found\n')
    code, _, err = daemon.run("exec", "-it", "web", "sh")
    assert (code, err) == (1, "the input device is not a TTY\n")
    code, _, err = daemon.run("exec", "web")
    assert code == 1 and err.startswith('"caisson exec" requires at least 2 arguments.')
    code, _, err = daemon.run("exec", "-e", "=v", "web", "ls")
    assert code == 125
    assert 'invalid argument "=v" for "-e, --env" flag: invalid environment variable' in err


# --- attach --------------------------------------------------------------------------------


def test_attach_needs_a_running_container(daemon: Daemon) -> None:
    daemon.state.add("idle")
    code, _, err = daemon.run("attach", "idle")
    assert (code, err) == (1, "You cannot attach to a stopped container, start it first\n")
    daemon.state.add("busy", open_stdin=True).running = True
    daemon.state.output = [("stdout", b"tick\n")]
    daemon.state.exit = pb.ExitStatus(exit_code=9, started=True)
    code, out, _ = daemon.run("attach", "--no-stdin", "busy")
    assert (code, out) == (9, "tick\n")
    assert daemon.asked(pb.AttachRequest)[-1].open == pb.AttachOpen(
        container="busy", stdout=True, stderr=True
    )
    code, _, err = daemon.run("container", "attach", "nope")
    assert (code, err) == (1, "Error: No such container: nope\n")


# --- cp ------------------------------------------------------------------------------------


def tar_of(entries: dict[str, bytes | None]) -> bytes:
    """A tar with files (bytes) and directories (None), in the given order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o4755
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("arg", "split"),
    [
        ("web:/etc/hosts", ("web", "/etc/hosts")),
        ("/abs/with:colon", ("", "/abs/with:colon")),
        ("./rel:colon", ("", "./rel:colon")),
        ("plain", ("", "plain")),
        ("-", ("", "-")),
    ],
)
def test_split_cp_arg(arg: str, split: tuple[str, str]) -> None:
    assert cp.split_cp_arg(arg) == split


def test_cp_a_file_out_under_a_new_name_or_into_a_directory(daemon: Daemon, tmp_path: Path) -> None:
    daemon.state.add("web")
    daemon.state.copy_stat = pb.PathStat(name="hosts", size=3, mode=stat.S_IFREG | 0o644)
    daemon.state.copy_data = tar_of({"hosts": b"abc"})
    assert daemon.run("cp", "web:/etc/hosts", str(tmp_path / "copy")) == (0, "", "")
    assert (tmp_path / "copy").read_bytes() == b"abc"
    # Modes kept as docker's client keeps them (setuid too); owned by the user.
    assert stat.S_IMODE((tmp_path / "copy").stat().st_mode) == 0o4755
    (tmp_path / "dir").mkdir()
    assert daemon.run("cp", "web:/etc/hosts", str(tmp_path / "dir"))[0] == 0
    assert (tmp_path / "dir" / "hosts").read_bytes() == b"abc"
    code, _, err = daemon.run("cp", "web:/etc/hosts", str(tmp_path / "nodir") + "/")
    assert (code, err) == (1, "no such directory\n")
    code, _, err = daemon.run("cp", "web:/etc/hosts", str(tmp_path / "a" / "b"))
    assert (code, err) == (1, f"stat {tmp_path / 'a'}: no such file or directory\n")


def test_cp_a_directory_out(daemon: Daemon, tmp_path: Path) -> None:
    daemon.state.add("web")
    daemon.state.copy_stat = pb.PathStat(name="etc", mode=stat.S_IFDIR | 0o755)
    daemon.state.copy_data = tar_of(
        {"etc": None, "etc/a": b"1", "etc/sub": None, "etc/sub/b": b"2"}
    )
    assert daemon.run("cp", "web:/etc", str(tmp_path / "new"))[0] == 0
    assert (tmp_path / "new" / "sub" / "b").read_bytes() == b"2"
    assert daemon.run("cp", "web:/etc", str(tmp_path / "new"))[0] == 0
    assert (tmp_path / "new" / "etc" / "a").read_bytes() == b"1"
    (tmp_path / "file").write_text("x")
    code, _, err = daemon.run("cp", "web:/etc", str(tmp_path / "file"))
    assert (code, err) == (1, "cannot copy directory\n")


def test_cp_refuses_entries_outside_the_destination(daemon: Daemon, tmp_path: Path) -> None:
    daemon.state.add("web")
    daemon.state.copy_stat = pb.PathStat(name="x", mode=stat.S_IFDIR | 0o755)
    daemon.state.copy_data = tar_of({"x": None, "x/../../escaped": b"no"})
    (tmp_path / "in").mkdir()
    code, _, err = daemon.run("cp", "web:/x", str(tmp_path / "in"))
    assert code == 1 and "outside the destination" in err
    assert not (tmp_path / "escaped").exists()


def test_cp_out_to_stdout_as_tar_and_missing_paths(daemon: Daemon) -> None:
    daemon.state.add("web")
    daemon.state.copy_stat = pb.PathStat(name="hosts", mode=stat.S_IFREG | 0o644)
    daemon.state.copy_data = tar_of({"hosts": b"abc"})
    code, out, _ = daemon.run("cp", "web:/etc/hosts", "-")
    assert code == 0
    with tarfile.open(fileobj=io.BytesIO(out.encode("latin-1"))) as tar:
        assert tar.getnames() == ["hosts"]
    daemon.state.copy_stat = None
    code, _, err = daemon.run("cp", "web:/nope", "-")
    assert (code, err) == (1, "Error: No such container:path: web:/nope\n")
    code, _, err = daemon.run("cp", "ghost:/etc", "-")
    assert (code, err) == (1, "Error: No such container:path: ghost:/etc\n")


def test_cp_in_names_the_entry_as_docker(daemon: Daemon, tmp_path: Path) -> None:
    daemon.state.add("web")
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("data")
    # The destination is a directory: extracted into it under the source's name.
    daemon.state.copy_stat = pb.PathStat(name="tmp", mode=stat.S_IFDIR | 0o1777)
    assert daemon.run("cp", str(src), "web:/tmp") == (0, "", "")
    path, data = daemon.state.copied_to[-1]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert path == "/tmp" and sorted(tar.getnames()) == ["src", "src/f"]
    # The destination does not exist: extracted into its parent under its name.
    daemon.state.copy_stat = None
    assert daemon.run("cp", str(src / "f"), "web:/opt/renamed")[0] == 0
    path, data = daemon.state.copied_to[-1]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert path == "/opt" and tar.getnames() == ["renamed"]
        member = tar.extractfile("renamed")
        assert member is not None and member.read() == b"data"
    code, _, err = daemon.run("cp", str(tmp_path / "missing"), "web:/tmp")
    assert (code, err) == (1, f"lstat {tmp_path / 'missing'}: no such file or directory\n")


def test_cp_in_from_stdin_needs_a_directory(daemon: Daemon) -> None:
    daemon.state.add("web")
    daemon.state.copy_stat = pb.PathStat(name="tmp", mode=stat.S_IFDIR | 0o755)
    archive = tar_of({"a": b"1"}).decode("latin-1")
    assert daemon.run("cp", "-", "web:/tmp", stdin=archive)[0] == 0
    assert daemon.state.copied_to[-1] == ("/tmp", archive.encode("latin-1"))
    daemon.state.copy_stat = pb.PathStat(name="f", mode=stat.S_IFREG | 0o644)
    code, _, err = daemon.run("cp", "-", "web:/f", stdin=archive)
    assert (code, err) == (1, 'destination "web:/f" must be a directory\n')


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["a:/x", "b:/y"], "copying between containers is not supported"),
        (["/x", "/y"], "must specify at least one container source"),
        (["", "b:/y"], "source can not be empty"),
    ],
)
def test_cp_argument_errors(daemon: Daemon, argv: list[str], message: str) -> None:
    assert daemon.run("cp", *argv) == (1, "", message + "\n")


# --- stats ---------------------------------------------------------------------------------


def sample(cpu: int, system: int, **kw: int) -> pb.ContainerStats:
    return pb.ContainerStats(
        id=ID,
        name="/web",
        cpu_usage_ns=cpu,
        system_cpu_ns=system,
        online_cpus=2,
        memory_usage=kw.get("mem", 10 * 1024**2),
        memory_limit=kw.get("limit", 1024**3),
        pids=3,
        net_rx_bytes=1_234,
        net_tx_bytes=0,
        block_read_bytes=4_096_000,
        block_write_bytes=12,
    )


def test_stats_fields_and_cpu_percent_from_two_samples() -> None:
    first, second = sample(1_000, 100_000), sample(26_000, 200_000)
    assert containers.cpu_percent(first, second) == pytest.approx(50.0)
    assert containers.cpu_percent(None, second) == 0.0
    assert containers.cpu_percent(second, first) == 0.0
    row = containers.stats_fields("web", second, first, trunc=True)
    assert row == {
        "BlockIO": "4.1MB / 12B",
        "CPUPerc": "50.00%",
        "Container": "web",
        "ID": ID[:12],
        "MemPerc": "0.98%",
        "MemUsage": "10MiB / 1GiB",
        "Name": "web",
        "NetIO": "1.23kB / 0B",
        "PIDs": "3",
    }
    assert containers.bytes_size(1536) == "1.5KiB"


def test_stats_no_stream_reads_two_rounds_and_prints_a_table(daemon: Daemon) -> None:
    daemon.state.add("web")
    daemon.state.stats_rounds = [[sample(1_000, 100_000)], [sample(26_000, 200_000)], []]
    code, out, _ = daemon.run("stats", "--no-stream", "web")
    assert code == 0
    assert out.splitlines() == [
        "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       "
        "BLOCK I/O     PIDS",
        f"{ID[:12]}   web       50.00%    10MiB / 1GiB        0.98%     1.23kB / 0B   "
        "4.1MB / 12B   3",
    ]
    assert daemon.asked(pb.StatsRequest)[-1] == pb.StatsRequest(containers=["web"], stream=True)
    code, out, _ = daemon.run("stats", "--no-stream", "--format", "{{.Name}}: {{.CPUPerc}}")
    assert out == "web: 50.00%\n"
    code, out, _ = daemon.run("stats", "--no-stream", "--format", "json")
    assert json.loads(out)["MemPerc"] == "0.98%"


def test_stats_streams_with_a_clear_screen_per_round(daemon: Daemon) -> None:
    daemon.state.stats_rounds = [[sample(1_000, 100_000)], [sample(26_000, 200_000)]]
    code, out, _ = daemon.run("stats")
    assert code == 0
    rounds = out.split(containers.CLEAR_SCREEN)[1:]
    assert len(rounds) == 2
    assert "0.00%" in rounds[0] and "50.00%" in rounds[1]


def test_stats_of_a_missing_container(daemon: Daemon) -> None:
    code, _, err = daemon.run("stats", "--no-stream", "nope")
    assert (code, err) == (1, "Error response from daemon: No such container: nope\n")


# --- volumes -------------------------------------------------------------------------------


def test_volume_create_ls_inspect(daemon: Daemon) -> None:
    assert daemon.run("volume", "create", "--label", "a=1", "-o", "type=tmpfs", "data") == (
        0,
        "data\n",
        "",
    )
    req = daemon.asked(pb.CreateVolumeRequest)[-1]
    assert (req.name, req.driver, dict(req.labels), dict(req.options)) == (
        "data",
        "local",
        {"a": "1"},
        {"type": "tmpfs"},
    )
    assert daemon.run("volume", "create")[1] == "f" * 64 + "\n"
    code, out, _ = daemon.run("volume", "ls")
    assert out == f"DRIVER    VOLUME NAME\nlocal     data\nlocal     {'f' * 64}\n"
    assert daemon.run("volume", "ls", "-q")[1] == f"data\n{'f' * 64}\n"
    daemon.run("volume", "list", "-f", "dangling=true", "--filter", "label=a")
    assert daemon.asked(pb.ListVolumesRequest)[-1].filters == ["dangling=true", "label=a"]
    out = daemon.run("volume", "ls", "--format", "{{.Name}} {{.Links}} {{.Size}} {{.Labels}}")[1]
    assert out.splitlines()[0] == "data N/A N/A a=1"
    code, out, err = daemon.run("volume", "inspect", "data", "nope")
    assert (code, err) == (1, "Error: No such volume: nope\n")
    (doc,) = json.loads(out)
    assert list(doc) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    assert doc["Labels"] == {"a": "1"} and doc["Mountpoint"].endswith("/data/_data")
    assert daemon.run("volume", "inspect", "-f", "{{.Driver}}", "data")[1] == "local\n"


def test_volume_rm_and_prune(daemon: Daemon) -> None:
    daemon.run("volume", "create", "a")
    daemon.run("volume", "create", "b")
    code, out, err = daemon.run("volume", "rm", "a", "nope", "busy")
    assert (code, out) == (1, "a\n")
    assert err == (
        "Error: No such volume: nope\n"
        f"Error response from daemon: remove busy: volume is in use - [{'a' * 64}]\n"
    )
    assert daemon.asked(pb.RemoveVolumeRequest)[0].force is False
    daemon.run("volume", "remove", "-f", "b")
    assert daemon.asked(pb.RemoveVolumeRequest)[-1].force
    daemon.run("volume", "create", "c")
    code, out, _ = daemon.run("volume", "prune", stdin="y\n")
    assert out == (
        f"{volumes.PRUNE_WARNING}\nAre you sure you want to continue? [y/N] "
        "Deleted Volumes:\nc\n\nTotal reclaimed space: 1.5kB\n"
    )
    code, out, _ = daemon.run("volume", "prune", "-f", "-a", "--filter", "label=x")
    assert out == "\nTotal reclaimed space: 1.5kB\n"
    assert daemon.asked(pb.PruneVolumesRequest)[-1] == pb.PruneVolumesRequest(
        filters=["label=x"], all=True
    )


def test_volume_render_json() -> None:
    v = pb.Volume(name="v", driver="local", scope="local", ref_count=2, size=2_000)
    line = volumes.render_volumes([v], fmt="json")
    assert json.loads(line) == {
        "Driver": "local",
        "Labels": "",
        "Links": "2",
        "Mountpoint": "",
        "Name": "v",
        "Scope": "local",
        "Size": "2kB",
    }


def test_volume_names_sort_naturally_as_docker() -> None:
    names = ["v10", "v9", "a", "v09", "1x", "v1", "b2c", "b10c"]
    ordered = sorted(names, key=functools.cmp_to_key(volumes.natural_cmp))
    assert ordered == ["1x", "a", "b2c", "b10c", "v1", "v9", "v09", "v10"]


def test_volume_create_name_twice(daemon: Daemon) -> None:
    code, _, err = daemon.run("volume", "create", "--name", "a", "a")
    assert code == 1
    assert err == (
        "Conflicting options: either specify --name or provide positional arg, not both\n"
    )
