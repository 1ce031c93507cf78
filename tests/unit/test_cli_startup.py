"""What the CLI loads at start: it is only a gRPC client, so none of the server side (the
health servicer, reflection, structlog, caisson.server) may creep into its imports, nor grpcio
itself (its import costs more than the rest of a command's start: the CLI speaks gRPC through
caisson.cli.channel). Each case runs a fresh interpreter, as every `caisson` command does, and
reads its sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SERVER_SIDE = (
    "grpc",
    "grpc_health",
    "grpc_reflection",
    "caisson.rpc",
    "structlog",
    "caisson.server",
    "caisson.logs",
)


def loaded(code: str, tmp_path: Path) -> tuple[set[str], int]:
    """The modules a fresh interpreter holds after `code`, and the exit code `code` set."""
    script = textwrap.dedent(
        """
        import json, sys
        status = 0
        {code}
        sys.stdout = sys.__stdout__
        print(json.dumps({{"modules": sorted(sys.modules), "status": status}}))
        """
    ).format(code=textwrap.dedent(code).strip())
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GRPC_VERBOSITY": "NONE"},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(result["modules"]), int(result["status"])


def server_side(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == s or m.startswith(s + ".") for s in SERVER_SIDE))


def test_importing_the_cli_loads_no_server_side(tmp_path: Path) -> None:
    modules, _ = loaded("import caisson.cli.app", tmp_path)
    assert "caisson.cli.app" in modules
    assert server_side(modules) == []


@pytest.mark.parametrize(
    ("argv", "failed"),
    [
        (["version"], 1),
        (["images"], 1),
        (["ps"], 1),
        (["run", "--rm", "busybox", "true"], 125),
    ],
)
def test_a_command_loads_the_client_and_no_server_side(
    tmp_path: Path, argv: list[str], failed: int
) -> None:
    argv = ["-H", f"unix://{tmp_path}/no-daemon.sock", *argv]
    modules, status = loaded(
        f"""
        import io
        from caisson.cli.app import run
        status = run({argv!r}, stdout=io.StringIO(), stderr=io.StringIO())
        """,
        tmp_path,
    )
    # The command really ran: it reached for the daemon through the client side and failed.
    assert status == failed
    assert {"caisson.cli.channel", "caisson.cli.http2"} <= modules
    assert server_side(modules) == []


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["run", "--help"], ["ps", "--bogus"]])
def test_help_version_and_bad_flags_never_load_protobuf(tmp_path: Path, argv: list[str]) -> None:
    modules, status = loaded(
        f"""
        import io
        from caisson.cli.app import run
        status = run({argv!r}, stdout=io.StringIO(), stderr=io.StringIO())
        """,
        tmp_path,
    )
    assert status == (125 if "--bogus" in argv else 0)
    assert "caisson.cli.run" in modules
    loaded_rpc = sorted(m for m in modules if m.split(".")[0] in ("grpc", "google", "caisson_api"))
    assert loaded_rpc == []


def test_a_lazy_module_loads_on_first_use(tmp_path: Path) -> None:
    modules, status = loaded(
        """
        import sys
        from caisson.cli import lazy
        mod = lazy.module("caisson_api.daemon.v1.containers_pb2")
        before = "caisson_api.daemon.v1.containers_pb2" in sys.modules
        request = mod.ContainerRef(container="c")
        real = sys.modules["caisson_api.daemon.v1.containers_pb2"]
        same = mod.ContainerRef is real.ContainerRef
        status = int(not before and same and request.container == "c")
        """,
        tmp_path,
    )
    assert status == 1
