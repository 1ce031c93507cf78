"""The daemon's own surface: listeners (TCP + mutual TLS, fd://), SIGHUP reload, events,
tag, history and prune, through the real CLI and the real services."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.support.catalog import Catalog
from tests.support.expect import fails, ok, table
from tests.support.processes import free_port, stop_process, wait_for
from tests.support.services import Daemon, venv_bin

pytestmark = pytest.mark.integration


def test_tcp_off_loopback_without_tls_is_refused(new_daemon: Callable[..., Daemon]) -> None:
    d = new_daemon(start=False)
    argv = [*d.argv(), "-H", f"tcp://0.0.0.0:{free_port()}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "refusing to listen on tcp://0.0.0.0" in out.stderr
    assert "TLS" in out.stderr
    assert not os.path.exists(d.pidfile)


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_pki(d: str) -> None:
    """A CA, a server cert for 127.0.0.1 and a client cert, all signed by the CA."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        cwd=d,
    )
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            f"{name}-key.pem",
            "-out",
            f"{name}.csr",
            cwd=d,
        )
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(ext + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.pem",
            cwd=d,
        )


def test_tcp_with_mutual_tls(new_daemon: Callable[..., Daemon]) -> None:
    d = new_daemon(start=False)
    pki = os.path.join(d.base, "pki")
    os.makedirs(pki)
    _make_pki(pki)
    port = free_port()
    d.extra_args = (
        "-H",
        f"tcp://127.0.0.1:{port}",
        "--tlsverify",
        "--tlscacert",
        f"{pki}/ca.pem",
        "--tlscert",
        f"{pki}/server.pem",
        "--tlskey",
        f"{pki}/server-key.pem",
    )
    d.start()
    cli = venv_bin("caisson")
    tls = [
        "--tlsverify",
        "--tlscacert",
        f"{pki}/ca.pem",
        "--tlscert",
        f"{pki}/client.pem",
        "--tlskey",
        f"{pki}/client-key.pem",
    ]
    host = ["-H", f"tcp://127.0.0.1:{port}"]
    good = subprocess.run([cli, *host, *tls, "version"], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    assert "Server" in good.stdout
    # Without a client certificate the daemon does not talk.
    bad = subprocess.run(
        [cli, *host, "--tlsverify", "--tlscacert", f"{pki}/ca.pem", "version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0


def test_socket_activation(new_daemon: Callable[..., Daemon]) -> None:
    """fd://: the daemon serves on a socket it inherits (LISTEN_FDS, as systemd passes it)."""
    d = new_daemon(start=False)
    path = os.path.join(d.base, "activated.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    argv = [a if a != d.host else "fd://" for a in d.argv()]
    # LISTEN_PID must be the daemon's own pid: set it in the exec'd process itself.
    shim = (
        "import os, sys; os.dup2(int(sys.argv[1]), 3); os.environ['LISTEN_PID'] = str(os.getpid());"
        "os.environ['LISTEN_FDS'] = '1'; os.execv(sys.argv[2], sys.argv[2:])"
    )
    with open(d.log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", shim, str(listener.fileno()), *argv],
            pass_fds=(listener.fileno(),),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    listener.close()
    try:
        cli = venv_bin("caisson")

        def answers() -> bool:
            r = subprocess.run(
                [cli, "-H", f"unix://{path}", "info"], capture_output=True, timeout=30
            )
            return r.returncode == 0

        wait_for(answers, 60, interval=0.2, what="the daemon on the passed socket")
    finally:
        assert stop_process(proc, 30) == 0, d.log_tail()


def _max_downloads(daemon: Daemon) -> str:
    for line in ok(daemon.cli("info")).out.splitlines():
        if "concurrent downloads" in line.lower():
            return line.split(":", 1)[1].strip()
    raise AssertionError("info shows no max concurrent downloads")


def _proxy_pids(daemon: Daemon) -> list[int]:
    from tests.support.processes import cmdline, descendants

    return [p for p in descendants(daemon.pid) if "registry_proxy" in cmdline(p)]


def test_sighup_reloads_reloadable_keys(daemon: Daemon) -> None:
    assert _max_downloads(daemon) == "3"
    proxy_before = _proxy_pids(daemon)
    with open(daemon.config_file, "w") as f:
        json.dump(
            {
                "max-concurrent-downloads": 5,
                "data-root": "/elsewhere",
                "insecure-registries": ["reload.test:5000"],
            },
            f,
        )
    os.kill(daemon.pid, signal.SIGHUP)
    wait_for(lambda: _max_downloads(daemon) == "5", 30, interval=0.2, what="the reload")
    # A key that needs a restart is not applied.
    assert daemon.data_root in ok(daemon.cli("info")).out
    assert "reload.test:5000" in ok(daemon.cli("info")).out
    # The registry proxy is started again with the new registry settings.
    wait_for(lambda: _proxy_pids(daemon) not in ([], proxy_before), 60, what="a new registry proxy")
    from tests.support.processes import cmdline

    assert "reload.test:5000" in cmdline(_proxy_pids(daemon)[0])
    daemon.children = _proxy_pids(daemon) + daemon.children


def test_events_record_jobs_and_image_actions(daemon: Daemon, catalog: Catalog) -> None:
    since = str(int(time.time()) - 1)
    ref = catalog.ref("test/busybox")
    ok(daemon.cli("pull", ref))
    ok(daemon.cli("tag", ref, "127.0.0.1:1/other:v1"))
    until = str(int(time.time()) + 1)
    out = ok(daemon.cli("events", "--since", since, "--until", until)).out
    assert " job start " in out and " job done " in out, out
    assert " image pull " in out, out
    assert " image tag " in out, out
    # --since 0 is the epoch: the whole log.
    assert " image pull " in ok(daemon.cli("events", "--since", "0", "--until", until)).out
    only = ok(daemon.cli("events", "--since", since, "--until", until, "--filter", "event=tag")).out
    lines = [line for line in only.splitlines() if line.strip()]
    assert len(lines) == 1 and " image tag " in lines[0], only
    fails(
        daemon.cli("events", "--since", since, "--until", until, "--filter", "colour=red"),
        "invalid filter",
    )


def test_tag_history_and_prune(daemon: Daemon, catalog: Catalog) -> None:
    ref = catalog.ref("test/busybox")
    ok(daemon.cli("pull", ref))
    ok(daemon.cli("tag", ref, "local/copy:v2"))
    repos = {(row["REPOSITORY"], row["TAG"]) for row in table(ok(daemon.cli("images")).out)}
    assert ("local/copy", "v2") in repos, repos
    hist = ok(daemon.cli("history", "local/copy:v2")).out.splitlines()
    assert hist[0].split()[:2] == ["IMAGE", "CREATED"], hist
    image_id = ok(daemon.cli("images", "-q", "local/copy:v2")).out.strip()
    assert hist[1].startswith(image_id), hist
    # Untag both names: the image becomes unnamed and `image prune -a` frees its content.
    ok(daemon.cli("rmi", "local/copy:v2"))
    assert ("local/copy", "v2") not in {
        (row["REPOSITORY"], row["TAG"]) for row in table(ok(daemon.cli("images")).out)
    }
    r = ok(daemon.cli("image", "prune", "-a", "-f"))
    assert "Total reclaimed space" in r.out
    assert table(ok(daemon.cli("images")).out) == []
    assert os.listdir(daemon.content_blobs) == []
    assert (
        os.listdir(daemon.snapshots) == []
        or all(n.startswith("tmp") is False for n in os.listdir(daemon.snapshots))
        and not os.listdir(daemon.snapshots)
    )


def test_tag_to_a_digest_or_unknown_source_fails(daemon: Daemon, catalog: Catalog) -> None:
    fails(daemon.cli("tag", "nope:latest", "x:y"), "No such image")
    ok(daemon.cli("pull", catalog.ref("test/busybox")))
    fails(daemon.cli("tag", catalog.ref("test/busybox"), "x@sha256:" + "a" * 64), "digest")


def test_a_child_service_that_dies_is_restarted(daemon: Daemon, catalog: Catalog) -> None:
    from tests.support.processes import descendants

    proxies = _proxy_pids(daemon)
    assert len(proxies) == 1
    os.kill(proxies[0], signal.SIGKILL)

    def restarted() -> bool:
        now = _proxy_pids(daemon)
        return bool(now) and now != proxies

    wait_for(restarted, 60, interval=0.2, what="the registry proxy to be restarted")
    wait_for(
        lambda: daemon.cli("pull", catalog.ref("test/busybox")).code == 0,
        60,
        interval=0.5,
        what="a pull through the restarted proxy",
    )
    daemon.children = descendants(daemon.pid)


def test_images_filters(daemon: Daemon, catalog: Catalog) -> None:
    ok(daemon.cli("pull", catalog.ref("test/busybox")))
    ok(daemon.cli("pull", catalog.ref("test/layers-docker")))

    def repos(*filters: str) -> set[str]:
        args = [a for f in filters for a in ("--filter", f)]
        return {row["REPOSITORY"] for row in table(ok(daemon.cli("images", *args)).out)}

    busybox, layers = catalog.ref("test/busybox"), catalog.ref("test/layers-docker")
    busybox_repo, layers_repo = busybox.rsplit(":", 1)[0], layers.rsplit(":", 1)[0]
    assert repos("reference=*/test/busy*") == {busybox_repo}
    assert repos("reference=*/test/busy*", "reference=*/test/layers*") == {
        busybox_repo,
        layers_repo,
    }
    assert repos("label=org.example.test") == {busybox_repo, layers_repo}
    assert repos("label=org.example.test=caisson", "reference=*/test/layers*") == {layers_repo}
    assert repos("label=org.example.test=other") == set()
    assert repos("dangling=false") == {busybox_repo, layers_repo}
    assert repos("dangling=true") == set()
    fails(daemon.cli("images", "--filter", "colour=red"), "invalid filter")


def test_prune_lists_what_it_untagged_and_deleted(daemon: Daemon, catalog: Catalog) -> None:
    ref = catalog.ref("test/busybox")
    ok(daemon.cli("pull", ref))
    image_id = ok(daemon.cli("images", "-q", "--no-trunc")).out.strip()
    out = ok(daemon.cli("image", "prune", "-a", "-f")).out.splitlines()
    assert out[0] == "Deleted Images:", out
    assert f"untagged: {ref}" in out, out
    assert f"deleted: {image_id}" in out, out
    assert out[-1].startswith("Total reclaimed space: "), out
