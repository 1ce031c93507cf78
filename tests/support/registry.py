"""Debian's `docker-registry` (CNCF distribution 2.8) on 127.0.0.1 with its own config and
filesystem storage, without auth, with htpasswd basic auth, or with token auth backed by a
tiny token issuer running in the test process; over plain HTTP, TLS, or TLS that wants a client
certificate."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from tests.support.processes import free_port, stop_process, tail, wait_for

if TYPE_CHECKING:
    from tests.support.certs import KeyPair

# bcrypt and cryptography (dev extras) are imported where they are used, so that a checkout
# without them still collects every other test; only the registries that need them fail.

REGISTRY_BIN = "/usr/bin/docker-registry"
SERVICE = "caisson-test-registry"
ISSUER = "caisson-test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    scopes: list[str]
    account: str  # "" when anonymous
    authorized: bool
    authorization: str = ""  # the Authorization header as the client sent it


@dataclass
class TokenIssuer:
    """Issues RS256 JWTs the way distribution 2.8 checks them: `x5c` carries the signing
    certificate, which the registry verifies against its `rootcertbundle` (the same self-signed
    certificate). Users with a password get what they ask for; anonymous clients get pull
    access to the `public` repositories and nothing else (as Docker Hub does for private
    repositories), or a 401 when `refuse_anonymous`. `token_fields` are the fields of the
    answer that carry the token (the spec allows `token`, `access_token` or both)."""

    directory: str
    users: dict[str, str] = field(default_factory=dict)
    refuse_anonymous: bool = False
    expires_in: int = 300
    public: tuple[str, ...] = ()
    token_fields: tuple[str, ...] = ("token", "access_token")
    requests: list[TokenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        from tests.support import certs

        self.keys: KeyPair = certs.self_signed(
            self.directory, "token-signer", "caisson test token issuer"
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def rootcertbundle(self) -> str:
        return self.keys.cert_path

    def token(self, scopes: list[str], subject: str) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                access.append(
                    {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}
                )
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.keys.cert_der).decode()],
        }
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        sig = self.keys.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(sig)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(handler.path)
        if url.path != "/token":
            handler.send_error(404)
            return
        query = urllib.parse.parse_qs(url.query)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        account = ""
        authorized = False
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                user, password = "", ""
            if self.users.get(user) != password or not user:
                self.requests.append(TokenRequest(scopes, user, False, header))
                self._send(handler, 401, {"details": "incorrect username or password"})
                return
            account, authorized = user, True
        self.requests.append(TokenRequest(scopes, account, authorized, header))
        if not authorized and self.refuse_anonymous:
            self._send(handler, 401, {"details": "authentication required"})
            return
        token = self.token(scopes if authorized else self._public_pulls(scopes), account)
        answer: dict[str, Any] = {name: token for name in self.token_fields}
        answer["expires_in"] = self.expires_in
        answer["issued_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._send(handler, 200, answer)

    def _public_pulls(self, scopes: list[str]) -> list[str]:
        """What an anonymous client may have of `scopes`: pull on public repositories."""
        granted = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and name in self.public and "pull" in actions.split(","):
                granted.append(f"repository:{name}:pull")
        return granted

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        if status == 401:
            handler.send_header("WWW-Authenticate", 'Basic realm="caisson test issuer"')
        handler.end_headers()
        handler.wfile.write(data)

    def start(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                issuer._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class Credentials:
    username: str
    password: str


class Registry:
    """One distribution registry process. `auth` is "none", "basic" or "token" (`public`:
    repositories the token issuer lets anonymous clients pull). `tls` serves HTTPS with a
    self-signed certificate; `client_certs` also demands a client certificate signed by it.
    Stop and start again keep the port and the storage (to simulate a registry going away
    mid-pull)."""

    def __init__(
        self,
        directory: str,
        auth: str = "none",
        users: dict[str, str] | None = None,
        tls: bool = False,
        refuse_anonymous: bool = False,
        public: tuple[str, ...] = (),
        client_certs: bool = False,
    ) -> None:
        if auth not in ("none", "basic", "token"):
            raise ValueError(f"unknown auth {auth!r}")
        if client_certs and not tls:
            raise ValueError("client certificates need tls")
        self.directory = directory
        self.auth = auth
        self.users = dict(users or {})
        self.tls = tls
        self.port = free_port()
        self.storage = os.path.join(directory, "storage")
        self.config_path = os.path.join(directory, "config.yml")
        self.log_path = os.path.join(directory, "registry.log")
        os.makedirs(self.storage, exist_ok=True)
        self.tls_keys: KeyPair | None = None
        self.client_keys: KeyPair | None = None
        if tls:
            from tests.support import certs

            self.tls_keys = certs.self_signed(directory, "registry", "127.0.0.1")
            if client_certs:
                self.client_keys = certs.client_cert(directory, self.tls_keys)
        self.issuer: TokenIssuer | None = None
        if auth == "token":
            self.issuer = TokenIssuer(
                directory, users=self.users, refuse_anonymous=refuse_anonymous, public=public
            )
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    # -- addresses ---------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """HOST:PORT as it goes in an image reference."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def ca_path(self) -> str:
        """The CA certificate a client needs to trust this registry (TLS only)."""
        if self.tls_keys is None:
            raise ValueError("registry has no TLS")
        return self.tls_keys.cert_path

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.tls_keys is None:
            return None
        context = ssl.create_default_context(cafile=self.tls_keys.cert_path)
        if self.client_keys is not None:
            context.load_cert_chain(self.client_keys.cert_path, self.client_keys.key_path)
        return context

    def client_files(self) -> list[str]:
        """What a Docker-style client puts in certs.d/HOST:PORT/ for this registry: the CA
        (*.crt) and, when the registry wants one, the client certificate and key."""
        files = [self.ca_path]
        if self.client_keys is not None:
            files += [self.client_keys.cert_path, self.client_keys.key_path]
        return files

    def credentials(self) -> Credentials | None:
        if not self.users:
            return None
        user, password = next(iter(self.users.items()))
        return Credentials(user, password)

    # -- configuration -----------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        http: dict[str, Any] = {
            "addr": self.host,
            "secret": secrets.token_hex(16),
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        }
        if self.tls_keys is not None:
            http["tls"] = {
                "certificate": self.tls_keys.cert_path,
                "key": self.tls_keys.key_path,
            }
            if self.client_keys is not None:
                http["tls"]["clientcas"] = [self.tls_keys.cert_path]
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "info", "formatter": "json", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": self.storage},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
            # Foreign (non-distributable) layers must name URLs the registry allows.
            "validation": {"manifests": {"urls": {"allow": ["^https?://"]}}},
        }
        if self.auth == "basic":
            import bcrypt

            htpasswd = os.path.join(self.directory, "htpasswd")
            with open(htpasswd, "w") as f:
                for user, password in self.users.items():
                    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5))
                    f.write(f"{user}:{hashed.decode()}\n")
            config["auth"] = {"htpasswd": {"realm": "caisson-test", "path": htpasswd}}
        elif self.auth == "token":
            assert self.issuer is not None
            config["auth"] = {
                "token": {
                    "realm": self.issuer.realm,
                    "service": SERVICE,
                    "issuer": ISSUER,
                    "rootcertbundle": self.issuer.rootcertbundle,
                }
            }
        return config

    # -- life cycle --------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        if self.issuer is not None and self.issuer.port == 0:
            self.issuer.start()
        with open(self.config_path, "w") as f:
            json.dump(self._config(), f, indent=1)  # YAML is a superset of JSON
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [REGISTRY_BIN, "serve", self.config_path],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.directory,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        try:
            wait_for(self._ready, timeout, what=f"registry on {self.host}")
        except BaseException:
            self.stop()
            raise RuntimeError(f"registry did not start:\n{tail(self.log_path)}") from None

    def _ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"registry exited:\n{tail(self.log_path)}")
        try:
            with urllib.request.urlopen(
                f"{self.url}/v2/", timeout=1, context=self.ssl_context()
            ) as resp:
                return int(resp.status) == 200
        except urllib.error.HTTPError as e:
            return e.code == 401
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=10)
            self.proc = None

    def close(self) -> None:
        """Stops the registry and the token issuer."""
        self.stop()
        if self.issuer is not None:
            self.issuer.stop()

    def __enter__(self) -> Registry:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the registry saw ---------------------------------------------------------------
    def mark_log(self) -> None:
        """Later `requests()` calls only return what was logged after this point."""
        try:
            self._log_offset = os.path.getsize(self.log_path)
        except OSError:
            self._log_offset = 0

    def requests(self, since_mark: bool = True) -> list[dict[str, Any]]:
        """The completed HTTP requests distribution logged: method, uri, status, written."""
        out: list[dict[str, Any]] = []
        try:
            with open(self.log_path, "rb") as f:
                if since_mark:
                    f.seek(self._log_offset)
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return out
        for line in lines:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if "http.request.uri" in entry and "http.response.status" in entry:
                    out.append(
                        {
                            "method": entry.get("http.request.method", ""),
                            "uri": entry["http.request.uri"],
                            "status": int(entry["http.response.status"]),
                            "written": int(entry.get("http.response.written", 0) or 0),
                        }
                    )
        return out

    def blob_gets(self, since_mark: bool = True) -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests(since_mark)
            if r["method"] == "GET" and "/blobs/sha256:" in r["uri"]
        ]

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)
