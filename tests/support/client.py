"""A small registry client for the tests: pushes blobs (monolithic POST + PUT upload),
manifests and indexes with the distribution HTTP API, answering Basic and Bearer challenges."""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.parse
from typing import Any

import urllib3

from tests.support.images import Blob, Image, Index


class PushError(RuntimeError):
    pass


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


class RegistryClient:
    def __init__(
        self,
        base_url: str,
        username: str = "",
        password: str = "",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.http = urllib3.PoolManager(ssl_context=ssl_context, retries=False, timeout=120.0)
        self._auth: dict[str, str] = {}  # scope -> Authorization header

    def _basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _authorize(self, challenge: str, scope: str) -> str:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            return self._basic()
        if scheme != "bearer":
            raise PushError(f"unsupported auth challenge {challenge!r}")
        query = {"service": params.get("service", ""), "scope": scope}
        url = params["realm"] + "?" + urllib.parse.urlencode(query)
        headers = {"Authorization": self._basic()} if self.username else {}
        resp = self.http.request("GET", url, headers=headers)
        if resp.status != 200:
            raise PushError(f"token request failed: {resp.status} {resp.data[:200]!r}")
        body = json.loads(resp.data)
        return "Bearer " + (body.get("token") or body["access_token"])

    def request(
        self,
        method: str,
        path_or_url: str,
        scope: str,
        body: Blob | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        for attempt in range(2):
            hdrs = dict(headers or {})
            if scope in self._auth:
                hdrs["Authorization"] = self._auth[scope]
            payload: Any = None
            if isinstance(body, Blob):
                payload = body.open()
                hdrs["Content-Length"] = str(body.size)
            elif body is not None:
                payload = body
                hdrs["Content-Length"] = str(len(body))
            try:
                resp = self.http.request(
                    method, url, body=payload, headers=hdrs, preload_content=True
                )
            finally:
                if hasattr(payload, "close"):
                    payload.close()
            if resp.status == 401 and attempt == 0 and "WWW-Authenticate" in resp.headers:
                self._auth[scope] = self._authorize(resp.headers["WWW-Authenticate"], scope)
                continue
            return resp
        return resp

    # -- push --------------------------------------------------------------------------------
    def push_blob(self, repo: str, blob: Blob) -> None:
        scope = f"repository:{repo}:pull,push"
        head = self.request("HEAD", f"/v2/{repo}/blobs/{blob.digest}", scope)
        if head.status == 200:
            return
        start = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope)
        if start.status != 202:
            raise PushError(f"starting upload to {repo}: {start.status} {start.data[:300]!r}")
        location = urllib.parse.urljoin(self.base_url + "/", start.headers["Location"])
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}digest={urllib.parse.quote(blob.digest)}"
        put = self.request(
            "PUT", url, scope, body=blob, headers={"Content-Type": "application/octet-stream"}
        )
        if put.status != 201:
            raise PushError(f"uploading {blob.digest} to {repo}: {put.status} {put.data[:300]!r}")

    def push_manifest(self, repo: str, reference: str, manifest: Blob) -> None:
        scope = f"repository:{repo}:pull,push"
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            scope,
            body=manifest.read(),
            headers={"Content-Type": manifest.media_type},
        )
        if resp.status != 201:
            raise PushError(
                f"pushing manifest {repo}:{reference}: {resp.status} {resp.data[:300]!r}"
            )

    def push_image(self, repo: str, tag: str, image: Image) -> Image:
        for layer in image.layers:
            self.push_blob(repo, layer.blob)
        self.push_blob(repo, image.config_blob)
        self.push_manifest(repo, tag, image.manifest)
        return image

    def push_index(self, repo: str, tag: str, index: Index) -> Index:
        for _, image in index.images:
            self.push_image(repo, image.digest, image)
        self.push_manifest(repo, tag, index.manifest)
        return index

    def get_manifest(self, repo: str, reference: str, accept: list[str]) -> tuple[int, bytes]:
        resp = self.request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            f"repository:{repo}:pull",
            headers={"Accept": ", ".join(accept)},
        )
        return resp.status, resp.data
