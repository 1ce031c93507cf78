"""`caisson port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports, from inspect's
NetworkSettings.Ports, worded as docker's."""

from __future__ import annotations

import argparse

from caisson.cli import args as cli_args
from caisson.cli.context import Context
from caisson.cli.errors import CLIError


def port(ctx: Context, args: argparse.Namespace) -> int:
    from caisson.cli.containers import inspect_documents

    doc = inspect_documents(ctx, [args.container])[0]
    ports: dict[str, list[dict[str, str]] | None] = (doc.get("NetworkSettings") or {}).get(
        "Ports"
    ) or {}
    if args.private_port:  # None when not given
        number, _, proto = args.private_port.partition("/")
        key = f"{number}/{proto or 'tcp'}"
        bindings = ports.get(key)
        if not bindings:
            raise CLIError(f"Error: No public port '{key}' published for {args.container}")
        for b in bindings:
            ctx.out(_host(b))
        return 0
    for key in sorted(ports, key=_order):
        for b in ports[key] or []:
            ctx.out(f"{key} -> {_host(b)}")
    return 0


def _host(binding: dict[str, str]) -> str:
    ip = binding.get("HostIp") or "0.0.0.0"
    return f"[{ip}]:{binding.get('HostPort', '')}" if ":" in ip else f"{ip}:{binding['HostPort']}"


def _order(key: str) -> tuple[int, str]:
    number, _, proto = key.partition("/")
    return (int(number) if number.isdigit() else 0, proto)


def port_args(p: argparse.ArgumentParser) -> None:
    cli_args.takes(
        p, "CONTAINER [PRIVATE_PORT[/PROTO]]", "container", "private_port", least=1, most=2
    )
