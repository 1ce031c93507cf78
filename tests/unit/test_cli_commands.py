"""The CLI against a fake daemon: a real gRPC server on a unix socket in a temp dir whose
Images/System servicers play scripted answers. Most commands run in-process through
`run()`; pull rendering, Ctrl-C and the daemon-down path run the installed `caisson`."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from caisson import errors, server
from caisson.cli import app
from caisson_api.daemon.v1 import daemon_pb2, daemon_pb2_grpc

S = daemon_pb2.LayerStatus
CAISSON = str(Path(sys.executable).with_name("caisson"))
IMAGE_ID = "sha256:" + "ab" * 32
DIGEST = "sha256:" + "cd" * 32
BLOB_A = "sha256:" + "1a" * 32
BLOB_B = "sha256:" + "2b" * 32
# What the fake daemon has no image for, and how it names them (normalised, as the daemon).
NOT_THERE = {"missing": "missing:latest", "127.0.0.1:5000/a:b": "127.0.0.1:5000/a:b"}


def lp(blob: str, status: int, current: int = 0, total: int = 0) -> daemon_pb2.LayerProgress:
    return daemon_pb2.LayerProgress(
        id=blob[7:19], digest=blob, status=status, current=current, total=total
    )


def pull_script(downloaded: bool = True) -> list[daemon_pb2.PullEvent]:
    layers = daemon_pb2.LayerList(
        layers=[lp(BLOB_A, S.LAYER_STATUS_WAITING), lp(BLOB_B, S.LAYER_STATUS_ALREADY_EXISTS)]
    )
    events = [daemon_pb2.PullEvent(job_id="j1", layers=layers)]
    for status, current in [
        (S.LAYER_STATUS_DOWNLOADING, 1_000_000),
        (S.LAYER_STATUS_DOWNLOADING, 2_000_000),
        (S.LAYER_STATUS_DOWNLOADING, 3_000_000),
        (S.LAYER_STATUS_VERIFYING, 3_000_000),
        (S.LAYER_STATUS_DOWNLOAD_COMPLETE, 3_000_000),
        (S.LAYER_STATUS_EXTRACTING, 1_500_000),
        (S.LAYER_STATUS_EXTRACTING, 3_000_000),
        (S.LAYER_STATUS_PULL_COMPLETE, 0),
    ]:
        events.append(
            daemon_pb2.PullEvent(job_id="j1", layer=lp(BLOB_A, status, current, 3_000_000))
        )
    result = daemon_pb2.PullResult(
        reference="docker.io/library/busybox:latest",
        digest=DIGEST,
        image_id=IMAGE_ID,
        downloaded=downloaded,
    )
    events.append(daemon_pb2.PullEvent(job_id="j1", result=result))
    return events


@dataclass
class Fake:
    """What the fake daemon answers, and what it was asked."""

    requests: list[Any] = field(default_factory=list)
    pull_events: list[daemon_pb2.PullEvent] = field(default_factory=pull_script)
    # Set: Pull stops after its first message and waits for the client to go away.
    hang: bool = False
    cancelled: threading.Event = field(default_factory=threading.Event)
    images: list[daemon_pb2.ImageSummary] = field(default_factory=list)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[daemon_pb2.Event] = field(default_factory=list)
    error: Exception | None = None

    def notice_end(self, context: grpc.ServicerContext) -> None:
        """Sets `cancelled` when the client goes away (at once if it already has)."""
        if not context.add_callback(self.cancelled.set):
            self.cancelled.set()


class FakeImages(daemon_pb2_grpc.ImagesServicer):
    def __init__(self, fake: Fake) -> None:
        self.fake = fake

    def _asked(self, request: Any) -> None:
        self.fake.requests.append(request)
        if self.fake.error is not None:
            raise self.fake.error

    def Pull(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._asked(request)
        if request.reference == "nosuch":
            raise errors.NotFound("pull access denied for nosuch, repository does not exist")
        if self.fake.hang:
            self.fake.notice_end(context)
            yield self.fake.pull_events[0]
            self.fake.cancelled.wait(30)
            return
        yield from self.fake.pull_events

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._asked(request)
        return daemon_pb2.ListImagesResponse(images=self.fake.images)

    def Inspect(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._asked(request)
        docs = []
        for ref in request.references:
            if ref not in self.fake.documents:
                raise errors.NotFound(f"No such image: {ref}")
            docs.append(json.dumps(self.fake.documents[ref]))
        return daemon_pb2.InspectImageResponse(documents=docs)

    def History(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._asked(request)
        entry = daemon_pb2.HistoryEntry(id=IMAGE_ID, created_by="/bin/sh -c #(nop) CMD", size=5)
        return daemon_pb2.HistoryResponse(entries=[entry])

    def Tag(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._asked(request)
        return empty_pb2.Empty()

    def Remove(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._asked(request)
        if request.reference == "inuse":
            raise errors.FailedPrecondition("conflict: unable to remove image inuse: in use")
        if request.reference in NOT_THERE:
            raise errors.NotFound(f"No such image: {NOT_THERE[request.reference]}")
        return daemon_pb2.RemoveImageResponse(
            untagged=[f"docker.io/library/{request.reference}:latest"], deleted=[IMAGE_ID]
        )

    def Prune(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._asked(request)
        return daemon_pb2.PruneImagesResponse(deleted=[IMAGE_ID], space_reclaimed=1_234_567)


class FakeSystem(daemon_pb2_grpc.SystemServicer):
    def __init__(self, fake: Fake) -> None:
        self.fake = fake

    def Version(self, request: Any, context: grpc.ServicerContext) -> Any:
        component = daemon_pb2.ComponentVersion(
            name="registry-proxy", version="0.1.0", health="SERVING", address="unix:///x.sock"
        )
        return daemon_pb2.VersionResponse(
            version="0.1.0",
            api_version="v1",
            python_version="3.11.7",
            os="linux",
            arch="amd64",
            components=[component],
        )

    def Info(self, request: Any, context: grpc.ServicerContext) -> Any:
        return daemon_pb2.InfoResponse(
            data_root="/var/lib/caisson",
            exec_root="/run/caisson",
            images=3,
            snapshots=7,
            insecure_registries=["127.0.0.0/8"],
            max_concurrent_downloads=3,
            cgroup_mode="hybrid",
            version="0.1.0",
        )

    def Events(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.fake.requests.append(request)
        if self.fake.hang:
            self.fake.notice_end(context)
        yield from self.fake.events
        if self.fake.hang:
            self.fake.cancelled.wait(30)

    def Login(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.fake.requests.append(request)
        if request.auth.password != "secret":
            raise errors.Unauthenticated("login to 127.0.0.1:5000 failed: unauthorized")
        return daemon_pb2.LoginResponse(status="Login Succeeded")


@dataclass
class FakeDaemon:
    host: str
    fake: Fake
    config_dir: str
    server: server.Server

    def run(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        """The CLI in-process; returns (exit code, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        env = {"CAISSON_CONFIG": self.config_dir}
        code = app.run(
            ["-H", self.host, *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err, environ=env
        )
        return code, out.getvalue(), err.getvalue()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAISSON_")}
        env["CAISSON_CONFIG"] = self.config_dir
        return env


@pytest.fixture
def fake_daemon() -> Iterator[FakeDaemon]:
    # Not tmp_path: a unix socket path must stay under 108 bytes.
    tmp = tempfile.mkdtemp(prefix="caisson-cli-")
    fake = Fake()
    srv = server.Server("fake-daemon", max_workers=8)
    srv.add(
        daemon_pb2_grpc.add_ImagesServicer_to_server, FakeImages(fake), "caisson.daemon.v1.Images"
    )
    srv.add(
        daemon_pb2_grpc.add_SystemServicer_to_server, FakeSystem(fake), "caisson.daemon.v1.System"
    )
    sock = os.path.join(tmp, "daemon.sock")
    srv.listen(server.Address("unix", path=sock))
    srv.start()
    try:
        yield FakeDaemon(f"unix://{sock}", fake, os.path.join(tmp, "config"), srv)
    finally:
        fake.cancelled.set()
        srv.stop(0)
        shutil.rmtree(tmp, ignore_errors=True)


def cli(d: FakeDaemon, *argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAISSON, "-H", d.host, *argv],
        capture_output=True,
        text=True,
        env=d.env(),
        timeout=60,
        **kw,
    )


# --- pull -----------------------------------------------------------------------------------


def test_pull_prints_plain_lines_when_not_a_tty(fake_daemon: FakeDaemon) -> None:
    r = cli(fake_daemon, "pull", "busybox")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.splitlines() == [
        "Using default tag: latest",
        "latest: Pulling from library/busybox",
        "1a1a1a1a1a1a: Pulling fs layer",
        "2b2b2b2b2b2b: Already exists",
        "1a1a1a1a1a1a: Verifying Checksum",
        "1a1a1a1a1a1a: Download complete",
        "1a1a1a1a1a1a: Pull complete",
        f"Digest: {DIGEST}",
        "Status: Downloaded newer image for busybox:latest",
        "docker.io/library/busybox:latest",
    ]
    assert fake_daemon.fake.requests[0].reference == "busybox"


def test_pull_quiet_and_up_to_date(fake_daemon: FakeDaemon) -> None:
    code, out, err = fake_daemon.run("pull", "-q", "busybox:latest")
    assert (code, out, err) == (0, "docker.io/library/busybox:latest\n", "")
    fake_daemon.fake.pull_events = pull_script(downloaded=False)
    code, out, _ = fake_daemon.run(
        "image", "pull", "--platform", "linux/arm64/v8", "busybox:latest"
    )
    assert code == 0
    assert "Using default tag" not in out
    assert "Status: Image is up to date for busybox:latest\n" in out
    assert fake_daemon.fake.requests[-1].platform == "linux/arm64/v8"


@pytest.mark.parametrize(
    ("ref", "first"),
    [
        (f"127.0.0.1:5000/team/app@{DIGEST}", f"127.0.0.1:5000/team/app@{DIGEST}"),
        # docker's client drops the tag of a reference with a digest; the daemon names the
        # normalised reference.
        (f"busybox:1.36@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
        ("127.0.0.1:5000/team/app:v1", "v1"),
    ],
)
def test_pull_header_for_digest_and_other_registry(
    fake_daemon: FakeDaemon, ref: str, first: str
) -> None:
    code, out, _ = fake_daemon.run("pull", ref)
    assert code == 0
    path = "library/busybox" if "busybox" in ref else "team/app"
    assert out.splitlines()[0] == f"{first}: Pulling from {path}"


def test_pull_draws_live_lines_on_a_terminal(fake_daemon: FakeDaemon) -> None:
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
    try:
        proc = subprocess.Popen(
            [CAISSON, "-H", fake_daemon.host, "pull", "busybox"],
            stdout=slave,
            stderr=subprocess.PIPE,
            env=fake_daemon.env(),
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    text = b"".join(chunks).decode().replace("\r\n", "\n")  # the tty's ONLCR
    assert "\x1b[2K\r1a1a1a1a1a1a: Downloading [" in text
    assert "1MB/3MB" in text and "\x1b[2A" in text
    # Each layer's line is redrawn in place; the cursor then rests below the block.
    assert text.startswith("Using default tag: latest\nlatest: Pulling from library/busybox\n")
    assert "\x1b[2A\x1b[2K\r1a1a1a1a1a1a: Pull complete\r\x1b[2B" in text
    assert "\x1b[1A\x1b[2K\r2b2b2b2b2b2b: Already exists\r\x1b[1B" in text
    assert text.endswith(
        f"\x1b[2BDigest: {DIGEST}\n"
        "Status: Downloaded newer image for busybox:latest\n"
        "docker.io/library/busybox:latest\n"
    )


def test_pull_error_is_one_line(fake_daemon: FakeDaemon) -> None:
    r = cli(fake_daemon, "pull", "nosuch")
    assert r.returncode == 1
    assert r.stderr == (
        "Error response from daemon: pull access denied for nosuch, repository does not exist\n"
    )
    assert "Traceback" not in r.stderr


def test_bad_reference_is_refused_before_the_daemon(fake_daemon: FakeDaemon) -> None:
    # As docker's client: checked first, and said without "Error response from daemon".
    code, out, err = fake_daemon.run("pull", "UPPER")
    assert code == 1 and out == ""
    assert err.startswith("invalid reference format") and err.count("\n") == 1
    assert fake_daemon.fake.requests == []


def test_ctrl_c_cancels_the_pull(fake_daemon: FakeDaemon) -> None:
    fake_daemon.fake.hang = True
    proc = subprocess.Popen(
        [CAISSON, "-H", fake_daemon.host, "pull", "busybox"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=fake_daemon.env(),
    )
    try:
        assert proc.stdout is not None
        while "Pulling from" not in proc.stdout.readline():
            pass
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert fake_daemon.fake.cancelled.wait(30)


def test_daemon_going_away_mid_pull(fake_daemon: FakeDaemon) -> None:
    fake_daemon.fake.hang = True
    proc = subprocess.Popen(
        [CAISSON, "-H", fake_daemon.host, "pull", "busybox"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=fake_daemon.env(),
    )
    try:
        assert proc.stdout is not None
        while "Pulling from" not in proc.stdout.readline():
            pass
        fake_daemon.server.stop(0)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert err == (
        f"Cannot connect to the Caisson daemon at {fake_daemon.host}. Is the daemon running?\n"
    )


# --- credentials sent with pull -------------------------------------------------------------


def write_config(config_dir: str, auths: dict[str, Any]) -> None:
    os.makedirs(config_dir, exist_ok=True)
    with open(os.path.join(config_dir, "config.json"), "w") as f:
        json.dump({"auths": auths}, f)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("key", ["docker.io", "index.docker.io", "https://index.docker.io/v1/"])
def test_pull_sends_docker_hub_login(fake_daemon: FakeDaemon, key: str) -> None:
    write_config(fake_daemon.config_dir, {key: {"auth": b64("hubuser:hubpass")}})
    assert fake_daemon.run("pull", "-q", "busybox")[0] == 0
    auth = fake_daemon.fake.requests[-1].auth
    assert (auth.username, auth.password) == ("hubuser", "hubpass")


def test_pull_sends_only_the_registrys_own_login(fake_daemon: FakeDaemon) -> None:
    write_config(
        fake_daemon.config_dir,
        {"127.0.0.1:5000": {"auth": b64("u:p:with:colons")}, "docker.io": {"auth": b64("h:h")}},
    )
    fake_daemon.run("pull", "-q", "127.0.0.1:5000/app")
    auth = fake_daemon.fake.requests[-1].auth
    assert (auth.username, auth.password) == ("u", "p:with:colons")
    fake_daemon.run("pull", "-q", "other.example:5000/app")
    assert not fake_daemon.fake.requests[-1].HasField("auth")


# --- images, inspect, history, tag, rmi, prune ----------------------------------------------


def test_images_lists_and_passes_flags(fake_daemon: FakeDaemon) -> None:
    img = daemon_pb2.ImageSummary(
        id=IMAGE_ID, repo_tags=["docker.io/library/busybox:latest"], size=4_261_000
    )
    fake_daemon.fake.images = [img]
    code, out, _ = fake_daemon.run("images", "-a", "busybox")
    assert code == 0
    assert out.splitlines()[1].split()[:3] == ["busybox", "latest", "abababababab"]
    assert fake_daemon.fake.requests[-1] == daemon_pb2.ListImagesRequest(
        all=True, reference="busybox"
    )
    for argv in (["image", "ls", "-q"], ["image", "list", "-q"], ["images", "-q"]):
        assert fake_daemon.run(*argv)[1] == "abababababab\n"


def test_inspect_prints_one_json_array_and_errors_after(fake_daemon: FakeDaemon) -> None:
    doc = {"Id": IMAGE_ID, "Config": {"Cmd": ["sh"]}}
    fake_daemon.fake.documents = {"busybox": doc}
    code, out, err = fake_daemon.run("image", "inspect", "busybox", "nosuch", "other")
    assert code == 1
    assert json.loads(out) == [doc]
    assert out.startswith('[\n    {\n        "Id"')
    # docker 20.10's client words a NOT_FOUND itself, with the name as typed.
    assert err == "Error: No such image: nosuch\nError: No such image: other\n"
    code, out, _ = fake_daemon.run("inspect", "--format", "{{.Id}} {{json .Config}}", "busybox")
    assert (code, out) == (0, f'{IMAGE_ID} {{"Cmd":["sh"]}}\n')
    assert fake_daemon.run("image", "inspect", "nosuch") == (
        1,
        "[]\n",
        "Error: No such image: nosuch\n",
    )
    # docker's template inspector ends with a newline even when nothing was found.
    assert fake_daemon.run("image", "inspect", "-f", "{{.Id}}", "nosuch")[:2] == (1, "\n")


def test_inspect_other_errors_come_from_the_daemon(fake_daemon: FakeDaemon) -> None:
    fake_daemon.fake.error = errors.InvalidArgument("invalid reference format")
    assert fake_daemon.run("image", "inspect", "UPPER") == (
        1,
        "[]\n",
        "Error response from daemon: invalid reference format\n",
    )


def test_template_errors_are_reported(fake_daemon: FakeDaemon) -> None:
    fake_daemon.fake.documents = {"busybox": {"Id": IMAGE_ID}}
    code, _, err = fake_daemon.run("inspect", "--format", "{{.Id", "busybox")
    assert code == 1 and err.startswith("template parsing error:")


def test_history_tag_rmi(fake_daemon: FakeDaemon) -> None:
    code, out, _ = fake_daemon.run("history", "busybox")
    assert code == 0 and out.splitlines()[1].startswith("abababababab")
    assert fake_daemon.run("tag", "busybox", "mine:1") == (0, "", "")
    assert fake_daemon.fake.requests[-1] == daemon_pb2.TagRequest(source="busybox", target="mine:1")
    assert fake_daemon.run("image", "tag", "busybox", "mine:2")[0] == 0

    code, out, err = fake_daemon.run("rmi", "-f", "busybox", "inuse", "alpine")
    assert code == 1
    assert out == (
        f"Untagged: busybox:latest\nDeleted: {IMAGE_ID}\n"
        f"Untagged: alpine:latest\nDeleted: {IMAGE_ID}\n"
    )
    assert err == "Error response from daemon: conflict: unable to remove image inuse: in use\n"
    assert fake_daemon.fake.requests[-1].force
    assert fake_daemon.run("image", "rm", "--no-prune", "busybox")[0] == 0
    assert fake_daemon.fake.requests[-1].no_prune


def test_rmi_of_an_image_that_is_not_there(fake_daemon: FakeDaemon) -> None:
    # docker 20.10's client words a NOT_FOUND itself, naming the image as the user typed it;
    # errors come after the output, in the order of the arguments.
    code, out, err = fake_daemon.run("rmi", "missing", "busybox", "inuse", "127.0.0.1:5000/a:b")
    assert code == 1
    assert out == f"Untagged: busybox:latest\nDeleted: {IMAGE_ID}\n"
    assert err == (
        "Error: No such image: missing\n"
        "Error response from daemon: conflict: unable to remove image inuse: in use\n"
        "Error: No such image: 127.0.0.1:5000/a:b\n"
    )
    # With -f an image that is not there is no failure, but is still reported.
    assert fake_daemon.run("rmi", "-f", "missing") == (0, "", "Error: No such image: missing\n")
    assert fake_daemon.run("rmi", "-f", "missing", "inuse")[0] == 1


@pytest.mark.parametrize(
    ("source", "target", "err"),
    [
        (
            "busybox",
            "oracle/UPPER",
            'Error parsing reference: "oracle/UPPER" is not a valid repository/tag: '
            "invalid reference format",
        ),
        (
            "Busy",
            "x",
            'Error parsing reference: "Busy" is not a valid repository/tag: '
            "invalid reference format",
        ),
        ("busybox", f"x@{DIGEST}", "refusing to create a tag with a digest reference"),
        (
            "busybox",
            "ab" * 32,
            f'Error parsing reference: "{"ab" * 32}" is not a valid repository/tag: '
            f"invalid repository name ({'ab' * 32}), cannot specify 64-byte hexadecimal strings",
        ),
    ],
)
def test_tag_checks_references_before_the_daemon(
    fake_daemon: FakeDaemon, source: str, target: str, err: str
) -> None:
    code, out, got = fake_daemon.run("tag", source, target)
    assert (code, out) == (1, "")
    assert got.startswith(err) and got.count("\n") == 1
    assert fake_daemon.fake.requests == []


@pytest.mark.parametrize("source", [IMAGE_ID, "ab" * 32, "abababababab"])
def test_tag_by_image_id(fake_daemon: FakeDaemon, source: str) -> None:
    assert fake_daemon.run("tag", source, "mine:1") == (0, "", "")
    assert fake_daemon.fake.requests[-1] == daemon_pb2.TagRequest(source=source, target="mine:1")


def test_prune_asks_first(fake_daemon: FakeDaemon) -> None:
    code, out, _ = fake_daemon.run("image", "prune", stdin="n\n")
    assert code == 0
    assert out == (
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    )
    assert fake_daemon.fake.requests == []
    code, out, _ = fake_daemon.run("image", "prune", "-a", stdin="y\n")
    assert code == 0 and "images without at least one container" in out
    assert out.endswith(f"Deleted Images:\ndeleted: {IMAGE_ID}\n\nTotal reclaimed space: 1.235MB\n")
    assert fake_daemon.fake.requests[-1].all
    code, out, _ = fake_daemon.run("image", "prune", "-f")
    assert code == 0 and not out.startswith("WARNING")


# --- version, info, events ------------------------------------------------------------------


def test_version_and_info(fake_daemon: FakeDaemon) -> None:
    code, out, _ = fake_daemon.run("version")
    assert code == 0
    assert out.startswith("Client:\n Version:           0.1.0\n")
    assert "\nServer:\n Caisson Engine:\n  Version:          0.1.0\n" in out
    assert " registry-proxy:\n" in out and "  Health:           SERVING\n" in out
    code, out, _ = fake_daemon.run("version", "--format", "{{.Server.Version}}")
    assert (code, out) == (0, "0.1.0\n")
    code, out, _ = fake_daemon.run("info")
    assert code == 0
    for line in (" Images: 3", " Snapshots: 7", " Data Root: /var/lib/caisson", "  127.0.0.0/8"):
        assert line + "\n" in out
    code, out, _ = fake_daemon.run("info", "--format", "{{json .InsecureRegistries}}")
    assert (code, out) == (0, '["127.0.0.0/8"]\n')


def test_events_lines_and_request(fake_daemon: FakeDaemon) -> None:
    ev = daemon_pb2.Event(type="image", action="tag", id=IMAGE_ID, attributes={"name": "x:1"})
    ev.time.seconds = 1_800_000_000
    fake_daemon.fake.events = [ev]
    code, out, _ = fake_daemon.run(
        "events", "--since", "1700000000", "--until", "1800000000.5", "-f", "type=image"
    )
    assert code == 0
    assert out.endswith(f" image tag {IMAGE_ID} (name=x:1)\n")
    req = fake_daemon.fake.requests[-1]
    assert (req.since, req.until, list(req.filters)) == (
        1_700_000_000,
        1_800_000_000.5,
        ["type=image"],
    )
    code, out, _ = fake_daemon.run("events", "--format", "json")
    doc = json.loads(out)
    assert doc["Type"] == "image" and doc["Actor"]["Attributes"] == {"name": "x:1"}
    code, out, _ = fake_daemon.run("events", "--format", "{{.Action}} {{.Actor.ID}}")
    assert out == f"tag {IMAGE_ID}\n"


def test_ctrl_c_ends_events(fake_daemon: FakeDaemon) -> None:
    ev = daemon_pb2.Event(type="job", action="start", id="j1")
    fake_daemon.fake.events = [ev]
    fake_daemon.fake.hang = True
    proc = subprocess.Popen(
        [CAISSON, "-H", fake_daemon.host, "events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=fake_daemon.env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "job start j1\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and err == ""
    assert fake_daemon.fake.cancelled.wait(30)


# --- errors and exit codes ------------------------------------------------------------------


def test_daemon_down_is_one_line_and_exit_1(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/none.sock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAISSON_")}
    env["CAISSON_CONFIG"] = str(tmp_path / "cfg")
    r = subprocess.run([CAISSON, "-H", host, "images"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == f"Cannot connect to the Caisson daemon at {host}. Is the daemon running?\n"
    env["CAISSON_HOST"] = host
    r = subprocess.run([CAISSON, "version"], capture_output=True, text=True, env=env)
    assert r.returncode == 1
    assert r.stdout.startswith("Client:\n") and "Server:" not in r.stdout
    assert r.stderr == f"Cannot connect to the Caisson daemon at {host}. Is the daemon running?\n"


def test_daemon_down_on_tcp(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out, err = io.StringIO(), io.StringIO()
    code = app.run(["-H", f"tcp://127.0.0.1:{port}", "info"], stdout=out, stderr=err, environ={})
    assert code == 1
    assert err.getvalue() == (
        f"Cannot connect to the Caisson daemon at tcp://127.0.0.1:{port}. Is the daemon running?\n"
    )


def test_daemons_own_unavailable_is_an_error_response(fake_daemon: FakeDaemon) -> None:
    fake_daemon.fake.error = errors.Unavailable("registry-proxy unavailable: connection refused")
    code, _, err = fake_daemon.run("images")
    assert code == 1
    assert err == "Error response from daemon: registry-proxy unavailable: connection refused\n"


@pytest.mark.parametrize(
    ("argv", "message", "see"),
    [
        (["images", "--bogus"], "unknown flag: --bogus", "caisson images"),
        (["rmi", "--bogus=1"], "unknown flag: --bogus", "caisson rmi"),
        (["images", "--qu"], "unknown flag: --qu", "caisson images"),  # no abbreviations
        (["images", "---x"], "bad flag syntax: ---x", "caisson images"),
        (["ps", "-Z"], "unknown shorthand flag: 'Z' in -Z", "caisson ps"),
        (["ps", "-aZq"], "unknown shorthand flag: 'Z' in -Zq", "caisson ps"),
        (["rm", "-f", "--time"], "unknown flag: --time", "caisson rm"),
        (["stop", "--time"], "flag needs an argument: --time", "caisson stop"),
        (["stop", "-t"], "flag needs an argument: 't' in -t", "caisson stop"),
        (
            ["history", "--human=maybe", "x"],
            'invalid argument "maybe" for "-H, --human" flag: '
            'strconv.ParseBool: parsing "maybe": invalid syntax',
            "caisson history",
        ),
        (
            ["images", "--all=maybe"],
            'invalid argument "maybe" for "-a, --all" flag: '
            'strconv.ParseBool: parsing "maybe": invalid syntax',
            "caisson images",
        ),
        (
            ["ps", "-n", "x"],
            'invalid argument "x" for "-n, --last" flag: '
            'strconv.ParseInt: parsing "x": invalid syntax',
            "caisson ps",
        ),
        (
            ["ps", "--filter", "x"],
            'invalid argument "x" for "-f, --filter" flag: '
            "bad format of filter (expected name=value)",
            "caisson ps",
        ),
        (
            ["events", "--since", "soon"],
            'invalid argument "soon" for "--since" flag: failed to parse',
            "caisson events",
        ),
    ],
)
def test_flag_errors_read_as_pflag_and_exit_125(argv: list[str], message: str, see: str) -> None:
    """docker 20.10's FlagErrorFunc: pflag's message as it is, then the pointer to --help."""
    out, err = io.StringIO(), io.StringIO()
    assert app.run(argv, stdout=out, stderr=err, environ={}) == 125
    first, second = err.getvalue().splitlines()
    assert first.startswith(message)
    assert second == f"See '{see} --help'."


def test_a_flag_error_of_a_command_with_subcommands_adds_its_usage() -> None:
    err = io.StringIO()
    assert app.run(["image", "--bogus"], stderr=err, environ={}) == 125
    first, second, blank, *usage = err.getvalue().splitlines()
    assert (first, second, blank) == ("unknown flag: --bogus", "See 'caisson image --help'.", "")
    assert "caisson image" in usage[0] and any("prune" in line for line in usage)


def test_go_bool_forms_of_a_plain_bool_flag(fake_daemon: FakeDaemon) -> None:
    assert fake_daemon.run("images", "--quiet=true")[0] == 0
    assert fake_daemon.run("images", "-q=false", "--all=0")[0] == 0


def test_unknown_command_is_an_error_as_docker_words_it() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert app.run(["nope"], stdout=out, stderr=err, environ={}) == 1
    assert err.getvalue() == "caisson: 'nope' is not a caisson command.\nSee 'caisson --help'\n"
    err = io.StringIO()
    assert app.run(["image", "nope"], stdout=out, stderr=err, environ={}) == 1
    assert err.getvalue().startswith("\nusage: caisson image")


def test_a_bad_daemon_address_is_a_usage_error() -> None:
    err = io.StringIO()
    assert app.run(["-H", "bogus://x", "images"], stderr=err, environ={}) == 125
    first, second = err.getvalue().splitlines()
    assert first.startswith("caisson: invalid address 'bogus://x'") and first.endswith(".")
    assert second == "See 'caisson --help'."


@pytest.mark.parametrize(
    ("argv", "complaint", "usage", "short"),
    [
        (
            ["rmi"],
            '"caisson rmi" requires at least 1 argument.',
            "caisson rmi [OPTIONS] IMAGE [IMAGE...]",
            "Remove one or more images",
        ),
        (
            ["image", "remove"],
            '"caisson image rm" requires at least 1 argument.',
            "caisson image rm [OPTIONS] IMAGE [IMAGE...]",
            "Remove one or more images",
        ),
        (
            ["tag", "one"],
            '"caisson tag" requires exactly 2 arguments.',
            "caisson tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
            "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        ),
        (
            ["history", "a", "--no-trunc", "b"],
            '"caisson history" requires exactly 1 argument.',
            "caisson history [OPTIONS] IMAGE",
            "Show the history of an image",
        ),
        (
            ["images", "a", "b"],
            '"caisson images" requires at most 1 argument.',
            "caisson images [OPTIONS] [REPOSITORY[:TAG]]",
            "List images",
        ),
        (
            ["image", "prune", "x"],
            '"caisson image prune" accepts no arguments.',
            "caisson image prune [OPTIONS]",
            "Remove unused images",
        ),
        (
            ["logout", "a", "b"],
            '"caisson logout" requires at most 1 argument.',
            "caisson logout [SERVER]",
            "Log out from a registry",
        ),
    ],
)
def test_wrong_argument_count_is_dockers_error(
    argv: list[str], complaint: str, usage: str, short: str
) -> None:
    """docker counts a wrong number of arguments as an error (exit 1), not bad usage."""
    out, err = io.StringIO(), io.StringIO()
    assert app.run(argv, stdout=out, stderr=err, environ={}) == 1
    prog = complaint.split('"')[1]
    assert err.getvalue() == (f"{complaint}\nSee '{prog} --help'.\n\nUsage:  {usage}\n\n{short}\n")
    assert out.getvalue() == ""


def test_arguments_may_come_after_flags(fake_daemon: FakeDaemon) -> None:
    code, out, _ = fake_daemon.run("rmi", "busybox", "-f", "alpine")
    assert code == 0 and out.count("Untagged: ") == 2
    assert [r.reference for r in fake_daemon.fake.requests] == ["busybox", "alpine"]
    assert fake_daemon.fake.requests[-1].force


@pytest.mark.parametrize(
    ("argv", "human"),
    [
        (["history", "busybox"], True),
        (["history", "--human=false", "busybox"], False),
        (["history", "-H=false", "busybox"], False),
        (["history", "--human=0", "busybox"], False),
        (["image", "history", "busybox", "-H=F"], False),
        # As docker's bool flags: a bare flag never takes the next word as its value.
        (["history", "--human", "busybox"], True),
        (["history", "-H", "busybox"], True),
        (["history", "--human=false", "--human", "busybox"], True),
    ],
)
def test_history_human_flag(fake_daemon: FakeDaemon, argv: list[str], human: bool) -> None:
    code, out, err = fake_daemon.run(*argv)
    assert (code, err) == (0, "")
    assert fake_daemon.fake.requests[-1].reference == "busybox"
    assert out.splitlines()[0].split()[1:3] == (
        ["CREATED", "CREATED"] if human else ["CREATED", "AT"]
    )
    assert out.splitlines()[1].split()[-1] == ("5B" if human else "5")


def test_history_human_needs_a_value_joined_to_it(fake_daemon: FakeDaemon) -> None:
    # docker reads `--human false IMAGE` as two arguments, so does caisson.
    code, _, err = fake_daemon.run("history", "--human", "false", "busybox")
    assert code == 1 and err.startswith('"caisson history" requires exactly 1 argument.')


def test_global_host_and_history_human_are_both_h(fake_daemon: FakeDaemon) -> None:
    out, err = io.StringIO(), io.StringIO()
    env = {"CAISSON_CONFIG": fake_daemon.config_dir}
    argv = ["-H", fake_daemon.host, "history", "-H=false", "busybox"]
    assert app.run(argv, stdout=out, stderr=err, environ=env) == 0, err.getvalue()
    assert out.getvalue().splitlines()[1].split()[-1] == "5"


def test_usage_error_from_the_real_command() -> None:
    r = subprocess.run([CAISSON, "pull", "--bogus", "x"], capture_output=True, text=True)
    assert r.returncode == 125
    assert r.stderr.endswith("See 'caisson pull --help'.\n") and "Traceback" not in r.stderr
    r = subprocess.run([CAISSON, "pull"], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith('"caisson pull" requires exactly 1 argument.\n')


def test_version_flag_and_help() -> None:
    out = io.StringIO()
    assert app.run(["--version"], stdout=out, environ={}) == 0
    assert out.getvalue() == "Caisson version 0.1.0\n"
    out = io.StringIO()
    assert app.run(["-v"], stdout=out, environ={}) == 0
    out = io.StringIO()
    assert app.run(["pull", "--help"], stdout=out, environ={}) == 0
    assert "--platform" in out.getvalue()


def test_host_from_environment(fake_daemon: FakeDaemon) -> None:
    out, err = io.StringIO(), io.StringIO()
    env = {"CAISSON_HOST": fake_daemon.host, "CAISSON_CONFIG": fake_daemon.config_dir}
    assert app.run(["images", "-q"], stdout=out, stderr=err, environ=env) == 0
