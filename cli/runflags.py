"""The flags of `run` and `create`, turned into a CreateContainerRequest as docker 20.10's
`parse()` builds its Config and HostConfig, with docker's checks and wording.

Flags are kept as given by argparse and checked here, so a bad value reads as pflag's
'invalid argument "X" for "-m, --memory" flag: ...' and every problem is a usage error
(exit 125) pointing at the command's --help.
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from caisson.cli import args as cli_args
from caisson.cli import lazy
from caisson.cli.errors import FlagError, UsageError

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import containers_pb2 as pb
else:
    pb = lazy.module("caisson_api.daemon.v1.containers_pb2")


class InterspersedParser(cli_args.Parser):
    """pflag's SetInterspersed(false), as docker's run, create, exec and top: flags end at the
    first operand (the image or the container), and every word after it, flags included,
    belongs to the command. Go bool flags (`--rm=false`) are read only among the flags."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        argv = list(sys.argv[1:] if args is None else args)
        split = self._first_operand(argv)
        head, tail = argv[:split], argv[split:]
        if tail and tail[0] == "--":
            tail = tail[1:]
        ns, extra = self.parse_flags(head, namespace)
        ns.operands = [*(getattr(ns, "operands", None) or []), *tail]
        return ns, extra

    def _takes_value(self, name: str) -> bool:
        action = self._option_string_actions.get(name)
        if action is None or name in self.go_bools:
            return False
        return action.nargs not in (0, "?")

    def _first_operand(self, argv: list[str]) -> int:
        i = 0
        while i < len(argv):
            word = argv[i]
            if word == "--" or word == "-" or not word.startswith("-"):
                return i
            if word.startswith("--"):
                name, eq, _ = word.partition("=")
                i += 2 if not eq and self._takes_value(name) else 1
                continue
            # Short flags may be joined (-it) and the last may hold its value (-eA=1).
            step = 1
            for j, char in enumerate(word[1:], start=1):
                if self._takes_value("-" + char):
                    step = 1 if j + 1 < len(word) else 2
                    break
            i += step
        return i


def interspersed_off(p: argparse.ArgumentParser) -> None:
    """Makes a subcommand's parser stop reading flags at its first operand. argparse builds
    every subparser from one class, so the class of this one is swapped after the fact."""
    p.__class__ = InterspersedParser


# --- values as docker's opts, go-units and go-connections read them -----------------------

_RAM = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_BINARY = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: '512m', '1.5g', '64MiB', '100' (bytes); binary multiples."""
    m = _RAM.match(text)
    if not m:
        raise ValueError(f"invalid size: '{text}'")
    number = float(m.group(1)) if m.group(1).count(".") <= 1 else None
    if number is None:
        raise ValueError(f"invalid size: '{text}'")
    unit = (m.group(2) or "").lower()
    return int(number * _BINARY.get(unit, 1))


def nano_cpus(text: str) -> int:
    """opts.NanoCPUs: a rational number of CPUs, in billionths."""
    try:
        from fractions import Fraction  # with decimal, ~2 ms that only --cpus needs

        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    nano = value * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def go_int(text: str) -> int:
    """strconv.ParseInt(s, 0, 64) as pflag's int flags use it (0x, 0o, 0b prefixes too)."""
    try:
        return int(text, 0)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


_ULIMITS = frozenset(
    [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ]
)


def parse_ulimit(text: str) -> pb.Ulimit:
    """go-units ParseUlimit: NAME=SOFT[:HARD]; the hard limit defaults to the soft one."""
    name, sep, values = text.partition("=")
    if not sep:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in _ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise ValueError(
            f"too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
        )
    soft = go_int_base10(parts[0])
    hard = go_int_base10(parts[1]) if len(parts) == 2 else soft
    if hard != -1 and soft > hard:
        raise ValueError(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return pb.Ulimit(name=name, soft=soft, hard=hard)


def go_int_base10(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


def go_bool_value(text: str) -> bool:
    try:
        return cli_args.go_bool(text)
    except argparse.ArgumentTypeError:
        raise ValueError(text) from None


def parse_mount(text: str) -> pb.Mount:
    """opts.MountOpt: docker's CSV `--mount type=bind,source=/a,target=/b,readonly`."""
    try:
        fields = next(csv.reader([text]))
    except (csv.Error, StopIteration) as e:
        raise ValueError(str(e)) from None
    mount = pb.Mount(type="volume")
    kinds: set[str] = set()  # which of volume-*, bind-*, tmpfs-* options were given
    for field in fields:
        key, sep, value = field.partition("=")
        key = key.lower()
        if not sep and key in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            if key == "volume-nocopy":
                mount.volume_no_copy = True
                kinds.add("volume")
            elif key == "bind-nonrecursive":
                kinds.add("bind")
            else:
                mount.read_only = True
            continue
        if not sep:
            raise ValueError(f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            mount.type = value.lower()
        elif key in ("source", "src"):
            mount.source = value
        elif key in ("target", "dst", "destination"):
            mount.target = value
        elif key in ("readonly", "ro"):
            try:
                mount.read_only = go_bool_value(value)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
        elif key == "consistency":
            pass  # a Docker Desktop hint; nothing to do on Linux
        elif key == "bind-propagation":
            mount.bind_propagation = value.lower()
            kinds.add("bind")
        elif key == "bind-nonrecursive":
            try:
                go_bool_value(value)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
            kinds.add("bind")
        elif key == "volume-nocopy":
            try:
                mount.volume_no_copy = go_bool_value(value)
            except ValueError:
                raise ValueError(f"invalid value for volume-nocopy: {value}") from None
            kinds.add("volume")
        elif key == "volume-label":
            label, _, label_value = value.partition("=")
            mount.volume_labels[label] = label_value
            kinds.add("volume")
        elif key in ("volume-driver", "volume-opt"):
            kinds.add("volume")  # the local driver is the only one
        elif key == "tmpfs-size":
            try:
                mount.tmpfs_size = ram_in_bytes(value)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
            kinds.add("tmpfs")
        elif key == "tmpfs-mode":
            try:
                mount.tmpfs_mode = int(value, 8)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
            kinds.add("tmpfs")
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    if not mount.type:
        raise ValueError("type is required")
    if not mount.target:
        raise ValueError("target is required")
    for kind in sorted(kinds):
        if kind != mount.type:
            raise ValueError(f"cannot mix '{kind}-*' options with mount type '{mount.type}'")
    return mount


def volume_has_source(spec: str) -> bool:
    """compose's ParseVolume as docker's run uses it: only whether -v names a source (a bind
    or named volume, in HostConfig.Binds) or not (an anonymous volume, in Config.Volumes)."""
    if len(spec) <= 2:
        return False
    first, sep, _ = spec.partition(":")
    if sep and len(first) == 1 and first.isalpha():  # a Windows drive letter, C:\...
        first, sep, _ = spec[2:].partition(":")
    return bool(sep and first)


def _port_range(text: str) -> tuple[int, int]:
    """nat.ParsePortRange: N or N-M, 16-bit."""
    if not text:
        raise ValueError("Empty string specified for ports.")
    start_text, dash, end_text = text.partition("-")
    if not re.fullmatch(r"\d+", start_text) or (dash and not re.fullmatch(r"\d+", end_text)):
        raise ValueError(f"invalid port {text}")
    start = int(start_text)
    end = int(end_text) if dash else start
    if start > 65535 or end > 65535:
        raise ValueError(f"invalid port {text}")
    if end < start:
        raise ValueError(f"Invalid range specified for the Port: {text}")
    return start, end


def split_proto_port(raw: str) -> tuple[str, str]:
    """nat.SplitProtoPort: "80/udp" -> ("udp", "80"); the protocol defaults to tcp."""
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def parse_port_specs(
    specs: Sequence[str],
) -> tuple[list[str], dict[str, list[pb.PortBinding]]]:
    """nat.ParsePortSpecs for -p: [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO], ranges too."""
    exposed: list[str] = []
    bindings: dict[str, list[pb.PortBinding]] = {}
    for raw in specs:
        parts = raw.split(":")
        container = parts[-1]
        host_port = parts[-2] if len(parts) >= 2 else ""
        raw_ip = ":".join(parts[:-2]) if len(parts) >= 3 else ""
        proto, container = split_proto_port(container)
        ip = raw_ip[1:-1] if raw_ip.startswith("[") and raw_ip.endswith("]") else raw_ip
        if ip:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ValueError(f"Invalid ip address: {ip}") from None
        if not container:
            raise ValueError(f"No port specified: {raw}<empty>")
        try:
            start, end = _port_range(container)
        except ValueError:
            raise ValueError(f"Invalid containerPort: {container}") from None
        host_start = host_end = 0
        if host_port:
            try:
                host_start, host_end = _port_range(host_port)
            except ValueError:
                raise ValueError(f"Invalid hostPort: {host_port}") from None
            if end - start != host_end - host_start and end != start:
                raise ValueError(
                    "Invalid ranges specified for container and host Ports: "
                    f"{container} and {host_port}"
                )
        if proto.lower() not in ("tcp", "udp", "sctp"):
            raise ValueError(f"Invalid proto: {proto}")
        for i in range(end - start + 1):
            port = f"{start + i}/{proto.lower()}"
            host = str(host_start + i) if host_port else ""
            if start == end and host_start != host_end:
                host = f"{host_port.split('-')[0]}-{host_end}"
            if port not in bindings:
                exposed.append(port)
                bindings[port] = []
            bindings[port].append(pb.PortBinding(host_ip=ip, host_port=host))
    return exposed, bindings


def convert_publish(spec: str) -> str:
    """docker's convertToStandardNotation: the long `-p published=8080,target=80` form."""
    if "=" not in spec:
        return spec
    params = {"protocol": "tcp"}
    for param in spec.split(","):
        key, sep, value = param.partition("=")
        if not sep:
            raise ValueError(
                f"invalid publish opts format (should be name=value but got '{param}')"
            )
        params[key] = value.split("=")[0]
    return f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}"


def expose_ports(specs: Sequence[str]) -> list[str]:
    ports: list[str] = []
    for spec in specs:
        if ":" in spec:
            raise ValueError(f"invalid port format for --expose: {spec}")
        proto, port = split_proto_port(spec)
        try:
            start, end = _port_range(port)
        except ValueError as e:
            raise ValueError(f"invalid range format for --expose: {spec}, error: {e}") from None
        ports += [f"{p}/{proto}" for p in range(start, end + 1)]
    return ports


_WHITESPACE = " \t"


def read_kv_file(path: str, lookup: Callable[[str], str | None] | None) -> list[str]:
    """docker's parseKeyValueFile: KEY=VALUE lines, `#` comments, and with `lookup` a bare
    KEY takes its value from the environment (or is left out when unset)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    lines: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.removesuffix(b"\r")
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise ValueError(
                f"env file {path} contains invalid utf8 bytes at line {number}: {list(raw)}"
            ) from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        line = text.lstrip()
        if not line or line.startswith("#"):
            continue
        variable, sep, value = line.partition("=")
        variable = variable.lstrip(_WHITESPACE)
        if any(c in variable for c in _WHITESPACE):
            raise ValueError(
                f"poorly formatted environment: variable '{variable}' contains whitespaces"
            )
        if not variable:
            raise ValueError(f"poorly formatted environment: no variable name on line '{line}'")
        if sep:
            lines.append(f"{variable}={value}")
        elif lookup is not None:
            found = lookup(line.strip())
            if found is not None:
                lines.append(f"{line.strip()}={found}")
    return lines


def validate_env(text: str, environ: Mapping[str, str]) -> str:
    """opts.ValidateEnv: KEY=VALUE, or KEY taking the client's value when it has one."""
    key, sep, _ = text.partition("=")
    if not key:
        raise ValueError(f"invalid environment variable: {text}")
    if sep:
        return text
    return f"{key}={environ[key]}" if key in environ else text


def validate_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(f"{text} is not an ip address") from None


def validate_ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        raise ValueError(f"{text} is not an ip address") from None


_DOMAIN = re.compile(
    r"^(:?(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*"
    r"([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9]))$"
)


def validate_dns_search(text: str) -> str:
    text = text.strip(" ")
    if text == ".":
        return text
    m = _DOMAIN.match(text)
    if not re.search(r"[a-zA-Z]", text) or not m or len(m.group(1)) >= 255:
        raise ValueError(f"{text} is not a valid domain")
    return m.group(1)


def validate_extra_host(text: str) -> str:
    name, sep, ip = text.partition(":")
    if not sep or not name:
        raise ValueError(f'bad format for add-host: "{text}"')
    if ip != "host-gateway":
        try:
            validate_ip(ip)
        except ValueError:
            raise ValueError(f'invalid IP address in add-host: "{ip}"') from None
    return text


def validate_label(text: str) -> str:
    """opts.ValidateLabel (docker 20.10.24): KEY[=VALUE], a bare KEY meaning an empty value;
    the key may be neither empty nor hold whitespace."""
    key = text.partition("=")[0].strip()
    if not key:
        raise ValueError(f"invalid label '{text}': empty name")
    if any(c in key for c in _WHITESPACE):
        raise ValueError(f"label '{key}' contains whitespaces")
    return text


def validate_attach(text: str) -> str:
    if text.lower() not in ("stdin", "stdout", "stderr"):
        raise ValueError("valid streams are STDIN, STDOUT and STDERR")
    return text.lower()


def kv_map(items: Sequence[str]) -> dict[str, str]:
    """opts.ConvertKVStringsToMap: later keys win, a bare key maps to ""."""
    result: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        result[key] = value
    return result


def parse_restart(text: str) -> pb.RestartPolicy:
    """opts.ParseRestartPolicy: NAME[:MAX_RETRIES]; the daemon checks the name."""
    if not text:
        return pb.RestartPolicy()
    parts = text.split(":")
    if len(parts) > 2:
        raise ValueError("invalid restart policy format")
    policy = pb.RestartPolicy(name=parts[0])
    if len(parts) == 2:
        if not re.fullmatch(r"[+-]?\d+", parts[1]):
            raise ValueError("maximum retry count must be an integer")
        policy.maximum_retry_count = int(parts[1])
    return policy


def parse_security_opts(opts: Sequence[str]) -> list[str]:
    """docker's parseSecurityOpts: KEY=VALUE (or KEY:VALUE); a seccomp profile file is read
    here and sent inline, compacted, as docker's client does."""
    result: list[str] = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep and key != "no-new-privileges":
            if ":" not in opt:
                raise ValueError(f'Invalid --security-opt: "{opt}"')
            key, _, value = opt.partition(":")
        if key == "seccomp" and value != "unconfined":
            try:
                with open(value, "rb") as f:
                    profile = json.loads(f.read())
            except OSError as e:
                raise ValueError(
                    f"opening seccomp profile ({value}) failed: open {value}: "
                    f"{(e.strerror or str(e)).lower()}"
                ) from None
            except ValueError as e:
                raise ValueError(
                    f"compacting json for seccomp profile ({value}) failed: {e}"
                ) from None
            opt = "seccomp=" + json.dumps(profile, separators=(",", ":"))
        result.append(opt)
    return result


# --- the flags ----------------------------------------------------------------------------


def add_container_flags(p: argparse.ArgumentParser) -> None:
    """docker's AddFlags for run and create (the ones Caisson supports)."""

    def many(*names: str, metavar: str, help: str) -> None:
        p.add_argument(*names, action="append", default=[], metavar=metavar, help=help)

    def bool_flag(name: str, help: str, default: bool | None = False) -> None:
        # A Go bool flag (--rm, --rm=false); the parser reads the bare form as true.
        p.add_argument(
            name, nargs="?", const=True, type=cli_args.go_bool, default=default, help=help
        )
        assert isinstance(p, cli_args.Parser)
        p.go_bools = p.go_bools | frozenset({name})

    p.add_argument("--help", action="help", help="Print usage")
    many("-a", "--attach", metavar="STREAM", help="Attach to STDIN, STDOUT or STDERR")
    many("-e", "--env", metavar="KEY=VALUE", help="Set environment variables")
    many("--env-file", metavar="FILE", help="Read in a file of environment variables")
    p.add_argument("--entrypoint", default=None, help="Overwrite the default ENTRYPOINT")
    many("--group-add", metavar="GROUP", help="Add additional groups to join")
    p.add_argument("-h", "--hostname", default="", help="Container host name")
    p.add_argument("--domainname", default="", help="Container NIS domain name")
    p.add_argument(
        "-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached"
    )
    many("-l", "--label", metavar="KEY=VALUE", help="Set meta data on a container")
    many("--label-file", metavar="FILE", help="Read in a line delimited file of labels")
    bool_flag("--read-only", "Mount the container's root filesystem as read only")
    p.add_argument("--restart", default="no", help="Restart policy to apply when it exits")
    p.add_argument("--stop-signal", default=None, help="Signal to stop a container")
    p.add_argument("--stop-timeout", default=None, help="Timeout (in seconds) to stop it")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    many("--ulimit", metavar="NAME=SOFT[:HARD]", help="Ulimit options")
    p.add_argument("-u", "--user", default="", help="Username or UID (<name|uid>[:<group|gid>])")
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    bool_flag("--rm", "Automatically remove the container when it exits")
    # Security
    many("--cap-add", metavar="CAP", help="Add Linux capabilities")
    many("--cap-drop", metavar="CAP", help="Drop Linux capabilities")
    bool_flag("--privileged", "Give extended privileges to this container")
    many("--security-opt", metavar="OPT", help="Security Options")
    # Network
    many("--add-host", metavar="HOST:IP", help="Add a custom host-to-IP mapping (host:ip)")
    many("--dns", metavar="IP", help="Set custom DNS servers")
    many("--dns-option", "--dns-opt", metavar="OPT", help="Set DNS options")
    many("--dns-search", metavar="DOMAIN", help="Set custom DNS search domains")
    many("--expose", metavar="PORT", help="Expose a port or a range of ports")
    many("-p", "--publish", metavar="PORTS", help="Publish a container's port(s) to the host")
    p.add_argument("-P", "--publish-all", action="store_true", help="Publish all exposed ports")
    many("--network", "--net", metavar="NETWORK", help="Connect a container to a network")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    many("--network-alias", "--net-alias", metavar="ALIAS", help="Add network-scoped alias")
    # Logging and storage
    p.add_argument("--log-driver", default="", help="Logging driver for the container")
    many("--log-opt", metavar="KEY=VALUE", help="Log driver options")
    many("--tmpfs", metavar="PATH[:OPTS]", help="Mount a tmpfs directory")
    many("-v", "--volume", metavar="SPEC", help="Bind mount a volume")
    many("--mount", metavar="SPEC", help="Attach a filesystem mount to the container")
    # Resources
    p.add_argument("--cpuset-cpus", default="", help="CPUs in which to allow execution")
    p.add_argument("-c", "--cpu-shares", default=None, help="CPU shares (relative weight)")
    p.add_argument("--cpus", default=None, help="Number of CPUs")
    p.add_argument("-m", "--memory", default=None, help="Memory limit")
    p.add_argument(
        "--memory-swap", default=None, help="Memory plus swap limit: '-1' for unlimited swap"
    )
    p.add_argument("--pids-limit", default=None, help="Container pids limit (-1: unlimited)")
    p.add_argument("--shm-size", default=None, help="Size of /dev/shm")
    bool_flag("--init", "Run an init that forwards signals and reaps processes", None)
    # Not stored in Config/HostConfig.
    p.add_argument("--name", default="", help="Assign a name to the container")
    p.add_argument(
        "--pull", default="missing", help='Pull image before running ("always", "missing", "never")'
    )
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the pull output")
    p.add_argument("--platform", default="", help="Set platform (os/arch[/variant])")


class _BadFlagValue(ValueError):
    """A value docker's flag type refuses as pflag parses it, so worded as a flag error."""


def _check(display: str, value: str, fn: Callable[[str], Any]) -> Any:
    try:
        return fn(value)
    except ValueError as e:
        message = cli_args.invalid_argument(value, display.split(", "), str(e))
        raise _BadFlagValue(message) from None


def _checked_list(display: str, values: Sequence[str], fn: Callable[[str], Any]) -> list[Any]:
    return [_check(display, v, fn) for v in values]


def network_mode(networks: Sequence[str]) -> str:
    """The one network a container joins: docker 20.10's parseNetworkOpts on the client, and
    its daemon's refusal of a create that names several."""
    names = list(dict.fromkeys(networks))
    if len(names) < len(networks):
        twice = next(n for n in names if networks.count(n) > 1)
        raise ValueError(f'network "{twice}" is specified multiple times')
    if len({_user_defined(n) for n in names}) > 1:
        raise ValueError(
            "conflicting options: cannot attach both user-defined and non-user-defined "
            "network-modes"
        )
    if len(names) > 1:
        raise ValueError(
            "Error response from daemon: Container cannot be connected to network endpoints: "
            + ", ".join(names)
        )
    return names[0] if names else ""


def _user_defined(network: str) -> bool:
    return network not in ("default", "bridge", "host", "none") and not network.startswith(
        "container:"
    )


def validate_pull(value: str) -> None:
    if value not in ("always", "missing", "never", ""):
        raise ValueError(
            f'invalid pull option: \'{value}\': must be one of "always", "missing" or "never"'
        )


def build_request(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> pb.CreateContainerRequest:
    """The request docker's parse() would make of these flags; UsageError when one is bad."""
    try:
        return _build(args, os.environ if environ is None else environ)
    except _BadFlagValue as e:
        raise FlagError(str(e), args.help_parser.prog) from None
    except ValueError as e:
        raise UsageError(str(e), args.help_parser.prog) from None


def _build(args: argparse.Namespace, environ: Mapping[str, str]) -> pb.CreateContainerRequest:
    validate_pull(args.pull)
    attach = set(_checked_list("-a, --attach", args.attach, validate_attach))
    env_flags = _checked_list("-e, --env", args.env, lambda v: validate_env(v, environ))
    labels_flags = _checked_list("-l, --label", args.label, validate_label)
    ulimits: dict[str, pb.Ulimit] = {}
    for ulimit in _checked_list("--ulimit", args.ulimit, parse_ulimit):
        ulimits[ulimit.name] = ulimit
    dns = _checked_list("--dns", args.dns, validate_ip)
    ip = _check("--ip", args.ip, validate_ipv4) if args.ip else ""
    dns_search = _checked_list("--dns-search", args.dns_search, validate_dns_search)
    extra_hosts = _checked_list("--add-host", args.add_host, validate_extra_host)
    mounts = _checked_list("--mount", args.mount, parse_mount)
    memory = _check("-m, --memory", args.memory, ram_in_bytes) if args.memory else 0
    swap = 0
    if args.memory_swap:
        swap = (
            -1
            if args.memory_swap == "-1"
            else _check("--memory-swap", args.memory_swap, ram_in_bytes)
        )
    shm = _check("--shm-size", args.shm_size, ram_in_bytes) if args.shm_size else 0
    cpus = _check("--cpus", args.cpus, nano_cpus) if args.cpus else 0
    shares = _check("-c, --cpu-shares", args.cpu_shares, go_int) if args.cpu_shares else 0
    stop_timeout = (
        _check("--stop-timeout", args.stop_timeout, go_int)
        if args.stop_timeout is not None
        else None
    )
    pids = _check("--pids-limit", args.pids_limit, go_int) if args.pids_limit else None

    config = pb.ContainerConfig(
        image=args.image,
        hostname=args.hostname,
        domainname=args.domainname,
        user=args.user,
        working_dir=args.workdir,
        tty=args.tty,
        open_stdin=args.interactive,
        attach_stdin=args.interactive or "stdin" in attach,
        attach_stdout=not attach or "stdout" in attach,
        attach_stderr=not attach or "stderr" in attach,
    )
    # StdinOnce: the container's stdin closes when the attached client's does.
    config.stdin_once = config.open_stdin and config.attach_stdin
    if args.command:
        config.cmd.values.extend(args.command)
    if args.entrypoint is not None:
        # `--entrypoint ""` resets it: present and empty. Without arguments Cmd stays unset,
        # and the daemon does not take the image's Cmd either (docker's rule).
        config.entrypoint.SetInParent()
        if args.entrypoint:
            config.entrypoint.values.append(args.entrypoint)
    env: list[str] = []
    for path in args.env_file:
        env += read_kv_file(path, environ.get)
    config.env.extend(env + env_flags)
    labels: list[str] = []
    for path in args.label_file:
        labels += read_kv_file(path, None)
    config.labels.update(kv_map(labels + labels_flags))
    if args.stop_signal is not None:
        config.stop_signal = args.stop_signal
    if stop_timeout is not None:
        config.stop_timeout = stop_timeout

    host = pb.HostConfig(
        network_mode=network_mode(args.network),
        auto_remove=args.rm,
        privileged=args.privileged,
        readonly_rootfs=args.read_only,
        shm_size=shm,
        memory=memory,
        memory_swap=swap,
        nano_cpus=cpus,
        cpu_shares=shares,
        cpuset_cpus=args.cpuset_cpus,
        publish_all_ports=args.publish_all,
    )
    for spec in args.volume:
        if volume_has_source(spec):
            host.binds.append(spec)
        elif spec not in config.volumes:
            config.volumes.append(spec)
    host.mounts.extend(mounts)
    for spec in args.tmpfs:
        path, _, options = spec.partition(":")
        host.tmpfs[path] = options
    host.restart_policy.CopyFrom(parse_restart(args.restart))
    if args.rm and host.restart_policy.name not in ("", "no"):
        raise ValueError("Conflicting options: --restart and --rm")
    log_opts = kv_map(args.log_opt)
    if args.log_driver == "none" and args.log_opt:
        raise ValueError(f"invalid logging opts for driver {args.log_driver}")
    if args.log_driver or log_opts:
        host.log_config.type = args.log_driver
        host.log_config.config.update(log_opts)
    host.cap_add.extend(args.cap_add)
    host.cap_drop.extend(args.cap_drop)
    host.security_opt.extend(parse_security_opts(args.security_opt))
    if args.init is not None:
        host.init = args.init
    host.ulimits.extend(ulimits.values())
    if pids is not None:
        host.pids_limit = pids
    host.group_add.extend(args.group_add)
    host.dns.extend(dns)
    host.dns_search.extend(dns_search)
    host.dns_options.extend(args.dns_option)
    host.extra_hosts.extend(extra_hosts)
    exposed, bindings = parse_port_specs([convert_publish(p) for p in args.publish])
    for port in [*exposed, *expose_ports(args.expose)]:
        if port not in config.exposed_ports:
            config.exposed_ports.append(port)
    for port, port_bindings in bindings.items():
        host.port_bindings[port].bindings.extend(port_bindings)
    request = pb.CreateContainerRequest(
        name=args.name, config=config, host_config=host, platform=args.platform
    )
    if ip or args.network_alias:
        # docker's client: the endpoint settings go with the network named by --network.
        endpoint = request.endpoints[host.network_mode or "default"]
        endpoint.ipv4_address = ip
        endpoint.aliases.extend(args.network_alias)
    return request
