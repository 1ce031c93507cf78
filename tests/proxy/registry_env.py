"""A real registry for the registry proxy's own tests, with what they need around it.

`Distribution` runs Debian's `docker-registry` (CNCF distribution 2.8) on 127.0.0.1 with a
temp config and storage, without auth, with htpasswd Basic auth, or with token auth backed by
`TokenIssuer` (RS256 JWTs carrying their certificate in `x5c`, which the registry checks
against its `rootcertbundle`). `push_image`/`push_index` build small images in Python and push
them through the HTTP API. `FaultProxy` sits in front of a registry and corrupts, cuts or
redirects blob downloads.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import hashlib
import http.client
import io
import ipaddress
import json
import os
import secrets
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

REGISTRY_BIN = "/usr/bin/docker-registry"
SERVICE = "proxy-test-registry"
ISSUER = "proxy-test-issuer"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- the registry ---------------------------------------------------------------------------


class Distribution:
    def __init__(
        self, directory: str, auth: dict[str, Any] | None = None, tls: Certs | None = None
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"{'https' if tls else 'http'}://{self.host}"
        self.auth = auth
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(directory, "registry.log")

    def start(self) -> None:
        os.makedirs(os.path.join(self.directory, "storage"), exist_ok=True)
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": os.path.join(self.directory, "storage")},
                "delete": {"enabled": True},
            },
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
            # Foreign (non-distributable) layers must name URLs the registry allows.
            "validation": {"manifests": {"urls": {"allow": ["^https?://"]}}},
        }
        if self.auth:
            config["auth"] = self.auth
        if self.tls:
            config["http"]["tls"] = {
                "certificate": self.tls.server_cert,
                "key": self.tls.server_key,
                "clientcas": [self.tls.ca],
            }
        path = os.path.join(self.directory, "config.yml")
        with open(path, "w") as f:
            json.dump(config, f)  # JSON is YAML
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [REGISTRY_BIN, "serve", path], stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"registry exited: {self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError(f"registry did not start: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""


def htpasswd(users: dict[str, str], path: str) -> str:
    with open(path, "w") as f:
        for user, password in users.items():
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            f.write(f"{user}:{hashed}\n")
    return path


# --- token auth -----------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """A token server: users with the right password get what they ask for, anonymous
    clients get pull access to `public` repositories only (an empty grant otherwise)."""

    def __init__(self, directory: str, users: dict[str, str], public: tuple[str, ...] = ()) -> None:
        self.users = users
        self.public = public
        self.field = "token"  # or "access_token"
        self.requests: list[tuple[str, str]] = []  # (account, scope)
        self.authorizations: list[str] = []
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "proxy test token signer")])
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self._key, hashes.SHA256())
        )
        self.bundle = os.path.join(directory, "token-ca.pem")
        with open(self.bundle, "wb") as f:
            f.write(self._cert.public_bytes(serialization.Encoding.PEM))
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._server = _serve(self.port, self._handle)

    def registry_auth(self) -> dict[str, Any]:
        return {
            "token": {
                "realm": self.realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": self.bundle,
            }
        }

    def token(self, account: str, access: list[dict[str, Any]]) -> str:
        der = self._cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": account,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        sig = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(sig)

    def push_token(self, repository: str) -> str:
        return self.token("pusher", [_access(repository, ["pull", "push"])])

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
        scope = (query.get("scope") or [""])[0]
        authorization = h.headers.get("Authorization", "")
        self.authorizations.append(authorization)
        account = ""
        if authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            if self.users.get(user) != password:
                _reply(h, 401, {"details": "incorrect username or password"})
                return
            account = user
        self.requests.append((account, scope))
        access = []
        if scope:
            _, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if account or name in self.public:
                access.append(_access(name, actions.split(",")))
        _reply(h, 200, {self.field: self.token(account, access), "expires_in": 300})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _access(name: str, actions: list[str]) -> dict[str, Any]:
    return {"type": "repository", "name": name, "actions": actions}


def _reply(h: BaseHTTPRequestHandler, status: int, doc: dict[str, Any]) -> None:
    body = json.dumps(doc).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _serve(port: int, handle: Any) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            handle(self)

        do_HEAD = do_GET  # noqa: N815
        do_POST = do_GET  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- TLS -------------------------------------------------------------------------------------


@dataclass
class Certs:
    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str


def make_certs(directory: str) -> Certs:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def builder(subject: str, issuer: str, key: rsa.RSAPrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def write(path: str, data: bytes) -> str:
        full = os.path.join(directory, path)
        with open(full, "wb") as f:
            f.write(data)
        return full

    def key_pem(key: rsa.RSAPrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        builder("proxy test CA", "proxy test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = (
        builder("127.0.0.1", "proxy test CA", server_key)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    client_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = (
        builder("proxy test client", "proxy test CA", client_key)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return Certs(
        ca=write("ca.crt", ca.public_bytes(pem)),
        server_cert=write("server.crt", server.public_bytes(pem)),
        server_key=write("server.key", key_pem(server_key)),
        client_cert=write("client.cert", client.public_bytes(pem)),
        client_key=write("client.key", key_pem(client_key)),
    )


# --- pushing images -------------------------------------------------------------------------


def layer(files: dict[str, bytes]) -> bytes:
    """A gzipped tar of regular files (deterministic)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass
class Pushed:
    name: str
    digest: str  # the manifest's (or index's)
    media_type: str
    body: bytes
    config: str = ""
    layers: list[str] = field(default_factory=list)


class Pusher:
    def __init__(
        self,
        url: str,
        token_for: Any = None,
        basic: tuple[str, str] | None = None,
        tls: Any = None,
    ):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.tls = tls  # an ssl.SSLContext for an https registry
        self.token_for = token_for
        self.basic = basic

    def _headers(self, name: str) -> dict[str, str]:
        if self.token_for is not None:
            return {"Authorization": "Bearer " + self.token_for(name)}
        if self.basic is not None:
            raw = f"{self.basic[0]}:{self.basic[1]}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def _do(self, method: str, path: str, name: str, body: bytes = b"", **hdrs: str) -> Any:
        conn = (
            http.client.HTTPSConnection(self.host, self.port, timeout=30, context=self.tls)
            if self.tls is not None
            else http.client.HTTPConnection(self.host, self.port, timeout=30)
        )
        try:
            headers = {**self._headers(name), **hdrs, "Content-Length": str(len(body))}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
            return resp
        finally:
            conn.close()

    def blob(self, name: str, data: bytes) -> str:
        digest = sha256(data)
        resp = self._do("POST", f"/v2/{name}/blobs/uploads/", name)
        location = urllib.parse.urlsplit(resp.getheader("Location"))
        sep = "&" if location.query else "?"
        path = f"{location.path}?{location.query}{sep}digest={digest}".replace("?&", "?")
        self._do("PUT", path, name, data, **{"Content-Type": "application/octet-stream"})
        return digest

    def manifest(self, name: str, ref: str, body: bytes, media_type: str) -> str:
        self._do("PUT", f"/v2/{name}/manifests/{ref}", name, body, **{"Content-Type": media_type})
        return sha256(body)

    def image(
        self,
        name: str,
        tag: str,
        layers: list[bytes],
        *,
        oci: bool = False,
        arch: str = "amd64",
        variant: str = "",
        layer_types: list[str] | None = None,
    ) -> Pushed:
        diff_ids = [sha256(gzip.decompress(x)) for x in layers]
        config: dict[str, Any] = {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        if variant:
            config["variant"] = variant
        config_bytes = json.dumps(config).encode()
        config_digest = self.blob(name, config_bytes)
        default_type = OCI_LAYER if oci else DOCKER_LAYER
        types = layer_types or [default_type] * len(layers)
        descs: list[dict[str, Any]] = [
            {"mediaType": t, "digest": self.blob(name, x), "size": len(x)}
            for t, x in zip(types, layers, strict=True)
        ]
        for d in descs:
            if "foreign" in d["mediaType"] or "nondistributable" in d["mediaType"]:
                d["urls"] = ["https://example.invalid/" + d["digest"]]
        media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "digest": config_digest,
                "size": len(config_bytes),
            },
            "layers": descs,
        }
        body = json.dumps(manifest, indent=3).encode()
        digest = self.manifest(name, tag, body, media_type)
        return Pushed(name, digest, media_type, body, config_digest, [d["digest"] for d in descs])

    def index(self, name: str, tag: str, entries: list[tuple[Pushed, dict[str, str]]], oci: bool):
        media_type = OCI_INDEX if oci else DOCKER_LIST
        doc = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [
                {"mediaType": p.media_type, "digest": p.digest, "size": len(p.body), "platform": pf}
                for p, pf in entries
            ],
        }
        body = json.dumps(doc).encode()
        return Pushed(name, self.manifest(name, tag, body, media_type), media_type, body)


# --- faults ---------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]

    @property
    def digest(self) -> str:
        last = self.path.rsplit("/", 1)[-1]
        return last if last.startswith("sha256:") else ""


class FaultProxy:
    """HTTP proxy in front of a registry that breaks downloads on demand.

    For requests whose path ends in a digest: `corrupt` flips byte 100 of the body; `drop`
    (digest -> bytes) cuts the connection after that many bytes, once; `stall` (digest ->
    bytes) holds the body there until `release()`; `fail` (digest -> [status, times]) answers
    that status the first `times` times. `ignore_range` strips Range headers; `redirect_to`
    answers blob GETs with a 307 to that base URL. `seen` records every request.
    """

    def __init__(self, upstream: str) -> None:
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname or "", parts.port or 80)
        self.corrupt: set[str] = set()
        self.drop: dict[str, int] = {}
        self.stall: dict[str, int] = {}
        self.stalled = threading.Event()
        self._gate = threading.Event()
        self.fail: dict[str, list[int]] = {}
        self.ignore_range = False
        self.redirect_to = ""
        self.seen: list[Seen] = []
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._server = _serve(self.port, self._handle)

    def release(self) -> None:
        self._gate.set()

    def close(self) -> None:
        self._gate.set()
        self._server.shutdown()
        self._server.server_close()

    def gets(self, digest: str) -> list[Seen]:
        return [r for r in self.seen if r.method == "GET" and r.digest == digest]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        record = Seen(h.command, h.path, dict(h.headers.items()))
        self.seen.append(record)
        digest = record.digest
        if digest in self.fail and self.fail[digest][1] > 0:
            self.fail[digest][1] -= 1
            _reply(h, self.fail[digest][0], {"errors": [{"code": "UNAVAILABLE", "message": "x"}]})
            return
        if self.redirect_to and "/blobs/" in h.path and h.command == "GET":
            h.send_response(307)
            h.send_header("Location", self.redirect_to + h.path)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection")}
        if self.ignore_range:
            headers.pop("Range", None)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request(h.command, h.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            h.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "transfer-encoding"):
                    h.send_header(k, v)
            h.end_headers()
            if h.command == "HEAD":
                return
            self._relay(h, resp, digest)
        finally:
            conn.close()

    def _relay(
        self, h: BaseHTTPRequestHandler, resp: http.client.HTTPResponse, digest: str
    ) -> None:
        cut = self.drop.pop(digest, None) if digest else None
        hold = self.stall.pop(digest, None) if digest else None
        sent = 0
        while chunk := resp.read(65536):
            if digest in self.corrupt and sent <= 100 < sent + len(chunk):
                i = 100 - sent
                chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1 :]
            if hold is not None and sent + len(chunk) >= hold:
                h.wfile.write(chunk[: hold - sent])
                h.wfile.flush()
                chunk, sent = chunk[hold - sent :], hold
                hold = None
                self.stalled.set()
                self._gate.wait(30)
            if cut is not None and sent + len(chunk) >= cut:
                h.wfile.write(chunk[: cut - sent])
                h.wfile.flush()
                h.close_connection = True
                with contextlib.suppress(OSError):
                    h.connection.shutdown(socket.SHUT_RDWR)
                return
            h.wfile.write(chunk)
            sent += len(chunk)


class BlobHost:
    """Another host serving blobs without auth (a CDN a registry redirects to)."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        self.seen: list[Seen] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = _serve(self.port, self._handle)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        record = Seen(h.command, h.path, dict(h.headers.items()))
        self.seen.append(record)
        data = self.blobs.get(record.digest)
        if data is None:
            _reply(h, 404, {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]})
            return
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
