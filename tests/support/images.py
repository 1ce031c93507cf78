"""Test images built in Python without internet: layers are tar streams made from
/bin/busybox (busybox-static) plus files, compressed with gzip, zstd or not at all; configs,
Docker schema2 and OCI manifests, multi-platform indexes; the layer cases an unpacker must get
right; one big image of incompressible data; and hostile layers, one per escape."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

import zstandard

BUSYBOX = "/bin/busybox"
MTIME = 1_700_000_000  # a fixed mtime keeps builds reproducible (same digests every run)
CREATED = "2024-01-02T03:04:05Z"

# Media types.
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

BUSYBOX_APPLETS = ("sh", "ls", "cat", "echo", "env", "id", "sleep", "stat", "true", "false")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(1) = DiffID(1); ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else sha256_digest(f"{out[-1]} {diff_id}".encode()))
    return out


def hex_of(digest: str) -> str:
    return digest.split(":", 1)[1]


# -- blobs and images --------------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    """Content as the registry stores it: small blobs in memory, big ones in a file."""

    media_type: str
    digest: str
    size: int
    data: bytes | None = None
    path: str | None = None

    @classmethod
    def of(cls, media_type: str, data: bytes) -> Blob:
        return cls(media_type, sha256_digest(data), len(data), data=data)

    def open(self) -> BinaryIO:
        if self.path is not None:
            return open(self.path, "rb")
        assert self.data is not None
        return io.BytesIO(self.data)

    def read(self) -> bytes:
        with self.open() as f:
            return f.read()

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "size": self.size, "digest": self.digest, **extra}


@dataclass(frozen=True)
class Layer:
    blob: Blob
    diff_id: str
    tar_size: int  # uncompressed
    files_size: int  # sum of regular file sizes (what an unpacked layer holds)
    urls: tuple[str, ...] = ()  # where a foreign layer is fetched from instead of the registry


@dataclass
class Image:
    config: dict[str, Any]
    config_blob: Blob
    layers: list[Layer]
    manifest: Blob

    @property
    def id(self) -> str:
        """Docker's image ID: the config digest."""
        return self.config_blob.digest

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def layer_digests(self) -> list[str]:
        return [layer.blob.digest for layer in self.layers]

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self.layers]

    @property
    def chain_ids(self) -> list[str]:
        return chain_ids(self.diff_ids)

    @property
    def compressed_size(self) -> int:
        return sum(layer.blob.size for layer in self.layers)

    @property
    def tar_size(self) -> int:
        return sum(layer.tar_size for layer in self.layers)

    @property
    def files_size(self) -> int:
        return sum(layer.files_size for layer in self.layers)

    def blobs(self) -> list[Blob]:
        """What a pull stores: the layers, the config and the manifest."""
        return [layer.blob for layer in self.layers] + [self.config_blob, self.manifest]


@dataclass
class Index:
    manifest: Blob
    images: list[tuple[dict[str, str], Image]]

    @property
    def digest(self) -> str:
        return self.manifest.digest

    def for_platform(self, os_: str, arch: str, variant: str = "") -> Image:
        for platform, image in self.images:
            if (
                platform["os"] == os_
                and platform["architecture"] == arch
                and platform.get("variant", "") == variant
            ):
                return image
        raise KeyError(f"{os_}/{arch}/{variant}")


# -- tar layers ------------------------------------------------------------------------------


@dataclass
class Tar:
    """Builds one layer's tar (PAX format) entry by entry. Names are archive names without a
    leading slash unless a test wants exactly that."""

    entries: list[tuple[tarfile.TarInfo, bytes | None]] = field(default_factory=list)

    def _info(
        self, name: str, type_: bytes, mode: int, uid: int, gid: int, mtime: int
    ) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = type_
        info.mode = mode
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        info.mtime = mtime
        return info

    def dir(
        self, name: str, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: int = MTIME
    ) -> Tar:
        self.entries.append((self._info(name, tarfile.DIRTYPE, mode, uid, gid, mtime), None))
        return self

    def file(
        self,
        name: str,
        data: bytes = b"",
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        mtime: int = MTIME,
        xattrs: dict[str, str] | None = None,
    ) -> Tar:
        info = self._info(name, tarfile.REGTYPE, mode, uid, gid, mtime)
        info.size = len(data)
        if xattrs:
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        self.entries.append((info, data))
        return self

    def symlink(self, name: str, target: str, uid: int = 0, gid: int = 0) -> Tar:
        info = self._info(name, tarfile.SYMTYPE, 0o777, uid, gid, MTIME)
        info.linkname = target
        self.entries.append((info, None))
        return self

    def hardlink(self, name: str, target: str) -> Tar:
        info = self._info(name, tarfile.LNKTYPE, 0o644, 0, 0, MTIME)
        info.linkname = target
        self.entries.append((info, None))
        return self

    def chardev(self, name: str, major: int, minor: int, mode: int = 0o666) -> Tar:
        info = self._info(name, tarfile.CHRTYPE, mode, 0, 0, MTIME)
        info.devmajor, info.devminor = major, minor
        self.entries.append((info, None))
        return self

    def blockdev(self, name: str, major: int, minor: int, mode: int = 0o660) -> Tar:
        info = self._info(name, tarfile.BLKTYPE, mode, 0, 6, MTIME)
        info.devmajor, info.devminor = major, minor
        self.entries.append((info, None))
        return self

    def fifo(self, name: str, mode: int = 0o644) -> Tar:
        self.entries.append((self._info(name, tarfile.FIFOTYPE, mode, 0, 0, MTIME), None))
        return self

    def whiteout(self, path: str) -> Tar:
        """Deletes `path` from the layers below: `dir/.wh.name`."""
        head, _, name = path.rpartition("/")
        return self.file(f"{head}/.wh.{name}" if head else f".wh.{name}", mode=0o600)

    def opaque(self, directory: str) -> Tar:
        """Hides everything the layers below have in `directory`."""
        return self.file(f"{directory}/.wh..wh..opq", mode=0o600)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for info, data in self.entries:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()

    @property
    def files_size(self) -> int:
        return sum(len(d) for i, d in self.entries if d is not None and i.isreg())


def compress(tar: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(tar, compresslevel=6, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(tar)
    if compression == "none":
        return tar
    raise ValueError(f"unknown compression {compression!r}")


def layer_media_type(flavour: str, compression: str) -> str:
    if flavour == "docker":
        if compression != "gzip":
            raise ValueError("Docker schema2 layers here are gzip")
        return DOCKER_LAYER_GZIP
    return {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD, "none": OCI_LAYER}[compression]


def make_layer(tar: Tar, flavour: str = "docker", compression: str = "gzip") -> Layer:
    raw = tar.to_bytes()
    blob = Blob.of(layer_media_type(flavour, compression), compress(raw, compression))
    return Layer(blob, sha256_digest(raw), len(raw), tar.files_size)


def files_layer(
    files: dict[str, bytes], flavour: str = "docker", compression: str = "gzip"
) -> Layer:
    """A layer of regular files at the root (names as given), for tests that only need bytes."""
    tar = Tar()
    for name, data in files.items():
        tar.file(name, data)
    return make_layer(tar, flavour, compression)


def foreign_layer(layer: Layer, url: str = "https://example.invalid/") -> Layer:
    """The same layer as a foreign (non-distributable) one, to be fetched from url + digest."""
    blob = replace(layer.blob, media_type=DOCKER_FOREIGN_LAYER_GZIP)
    return replace(layer, blob=blob, urls=(url + blob.digest,))


# -- configs and manifests -------------------------------------------------------------------

DEFAULT_CONFIG: dict[str, Any] = {
    "Env": [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "CAISSON_TEST=1",
    ],
    "Cmd": ["sh"],
    "Entrypoint": None,
    "WorkingDir": "/",
    "User": "",
    "ExposedPorts": {"8080/tcp": {}},
    "Volumes": {"/data": {}},
    "Labels": {"org.example.test": "caisson"},
    "StopSignal": "SIGTERM",
}


def make_config(
    layers: list[Layer],
    architecture: str = "amd64",
    variant: str = "",
    config: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    if history is None:
        history = [
            {"created": CREATED, "created_by": f"/bin/sh -c #(nop) ADD layer {i}"}
            for i in range(len(layers))
        ]
        history.append(
            {"created": CREATED, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True}
        )
    doc: dict[str, Any] = {
        "architecture": architecture,
        "os": "linux",
        "created": CREATED,
        "author": "caisson tests",
        "config": {**DEFAULT_CONFIG, **(config or {})},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": history,
    }
    if variant:
        doc["variant"] = variant
    return doc


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=True).encode()


def make_image(
    layers: list[Layer],
    flavour: str = "docker",
    architecture: str = "amd64",
    variant: str = "",
    config: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> Image:
    doc = make_config(layers, architecture, variant, config, history)
    config_blob = Blob.of(DOCKER_CONFIG if flavour == "docker" else OCI_CONFIG, _json(doc))
    media_type = DOCKER_MANIFEST if flavour == "docker" else OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config_blob.descriptor(),
        "layers": [
            layer.blob.descriptor(**({"urls": list(layer.urls)} if layer.urls else {}))
            for layer in layers
        ],
    }
    return Image(doc, config_blob, layers, Blob.of(media_type, _json(manifest)))


def make_index(images: list[Image], flavour: str = "oci") -> Index:
    platforms = []
    for image in images:
        platform = {"architecture": image.config["architecture"], "os": image.config["os"]}
        if image.config.get("variant"):
            platform["variant"] = image.config["variant"]
        platforms.append(platform)
    media_type = DOCKER_LIST if flavour == "docker" else OCI_INDEX
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            image.manifest.descriptor(platform=platform)
            for image, platform in zip(images, platforms, strict=True)
        ],
    }
    return Index(Blob.of(media_type, _json(doc)), list(zip(platforms, images, strict=True)))


# -- the catalogue ---------------------------------------------------------------------------


def busybox_tar(extra: Iterable[tuple[str, bytes]] = ()) -> Tar:
    """A minimal busybox root: /bin/busybox with a few applet links, /etc/passwd, /tmp."""
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    tar = Tar()
    for d in ("bin", "etc", "root", "usr", "usr/bin", "var"):
        tar.dir(d, mode=0o700 if d == "root" else 0o755)
    tar.dir("tmp", mode=0o1777)
    tar.file("bin/busybox", busybox, mode=0o755)
    for applet in BUSYBOX_APPLETS:
        tar.symlink(f"bin/{applet}", "busybox")
    tar.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    tar.file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    for name, data in extra:
        tar.file(name, data)
    return tar


def busybox_image(flavour: str = "docker", compression: str = "gzip") -> Image:
    return make_image([make_layer(busybox_tar(), flavour, compression)], flavour)


RUN_PASSWD = (
    b"root:x:0:0:root:/root:/bin/sh\n"
    b"app:x:1000:1000:app user:/home/app:/bin/sh\n"
    b"nobody:x:65534:65534::/:/bin/false\n"
)
RUN_GROUP = b"root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n"
# Seeded into a new named or anonymous volume mounted on /data.
RUN_VOLUME_FILE = ("data/seed.txt", b"seeded from the image\n")


def run_image() -> Image:
    """What the `run` tests run: busybox with every applet (ps, top, hostname, ...), a user
    and groups to resolve, a VOLUME with content to seed, and two layers (an overlay)."""
    base = busybox_tar()
    base.dir("sbin")
    base.dir("usr/sbin")
    applets = subprocess.run(
        [BUSYBOX, "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    for path in applets:
        if path.startswith(("bin/", "sbin/", "usr/bin/", "usr/sbin/")) and path not in (
            f"bin/{a}" for a in (*BUSYBOX_APPLETS, "busybox")
        ):
            base.symlink(path, "/bin/busybox")
    top = Tar()
    top.file("etc/passwd", RUN_PASSWD)
    top.file("etc/group", RUN_GROUP)
    top.dir("home")
    top.dir("home/app", uid=1000, gid=1000)
    top.dir("data", mode=0o750, uid=1000, gid=1000)
    top.file(RUN_VOLUME_FILE[0], RUN_VOLUME_FILE[1], uid=1000, gid=1000)
    layers = [make_layer(base, "docker", "gzip"), make_layer(top, "docker", "gzip")]
    config = {"Volumes": {"/data": {}}, "Labels": {"org.caisson.test": "run"}}
    return make_image(layers, "docker", config=config)


# Expected contents of the layer-cases image, checked against the unpacked snapshots.
LONG_NAME = "cases/long/" + "d" * 60 + "/" + "f" * 80 + ".txt"
UNICODE_NAME = "cases/ünïcödé-名前.txt"
CASE_MTIME = 1_234_567_890


def layer_cases_tars() -> tuple[Tar, Tar]:
    """Layer 1: a busybox root plus every kind of entry; layer 2 deletes a file (whiteout)
    and makes a directory opaque."""
    one = busybox_tar()
    one.dir("cases")
    one.file("cases/owned", b"owned by 1000\n", mode=0o640, uid=1000, gid=1000)
    one.file("cases/setuid", b"#!/bin/sh\n", mode=0o4755)
    one.file("cases/setgid", b"#!/bin/sh\n", mode=0o2755)
    one.dir("cases/sticky", mode=0o1777)
    one.file("cases/hardlink-a", b"same inode\n")
    one.hardlink("cases/hardlink-b", "cases/hardlink-a")
    one.symlink("cases/symlink-abs", "/bin/busybox")
    one.symlink("cases/symlink-rel", "../bin/busybox")
    one.chardev("cases/chardev", 1, 3)
    one.blockdev("cases/blockdev", 7, 0)
    one.fifo("cases/fifo")
    one.file("cases/xattr", b"has xattrs\n", xattrs={"user.x": "hello"})
    one.file("cases/mtime", b"old\n", mtime=CASE_MTIME)
    one.dir("cases/long")
    one.dir("cases/long/" + "d" * 60)
    one.file(LONG_NAME, b"long name\n")
    one.file(UNICODE_NAME, b"non-ascii\n")
    one.dir("deleted")
    one.file("deleted/file", b"deleted in layer 2\n")
    one.file("deleted/kept", b"kept\n")
    one.dir("opaque")
    one.file("opaque/old-a", b"hidden by layer 2\n")
    one.file("opaque/old-b", b"hidden by layer 2\n")

    two = Tar()
    two.dir("deleted")
    two.whiteout("deleted/file")
    two.dir("opaque")
    two.opaque("opaque")
    two.file("opaque/new", b"added in layer 2\n")
    two.file("layer2", b"layer 2\n")
    return one, two


def layer_cases_image(flavour: str = "docker") -> Image:
    one, two = layer_cases_tars()
    if flavour == "docker":
        layers = [make_layer(one, "docker", "gzip"), make_layer(two, "docker", "gzip")]
    else:
        # OCI flavour exercises the other compressions: zstd, then an uncompressed tar.
        layers = [make_layer(one, "oci", "zstd"), make_layer(two, "oci", "none")]
    return make_image(layers, flavour, config={"User": "1000:1000", "WorkingDir": "/cases"})


PLATFORMS = (("amd64", ""), ("arm64", "v8"), ("arm", "v7"))


def platform_name(arch: str, variant: str) -> str:
    return f"linux/{arch}/{variant}" if variant else f"linux/{arch}"


def multi_platform_index(flavour: str = "oci") -> Index:
    """amd64 + arm64 + arm/v7; each platform's image has /platform holding its name."""
    base = make_layer(busybox_tar(), flavour, "gzip")
    images = []
    for arch, variant in PLATFORMS:
        tag = Tar().file("platform", platform_name(arch, variant).encode() + b"\n")
        images.append(make_image([base, make_layer(tag, flavour, "gzip")], flavour, arch, variant))
    return make_index(images, flavour)


# -- the big image ---------------------------------------------------------------------------

BIG_LAYERS = 3
BIG_LAYER_BYTES = 105_000_000  # 3 x 105 MB = 315 MB, as the reference measurement


class _HashingWriter(io.RawIOBase):
    """Hashes and counts what passes through to `out`."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.sha.update(data)
        self.count += len(data)
        self.out.write(data)
        return len(data)


class _RandomReader(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def _gzip_writer(out: BinaryIO) -> BinaryIO:
    try:
        from isal import igzip  # ISA-L: gzip level 1 several times faster than zlib

        return igzip.IGzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0)  # type: ignore[return-value]
    except ImportError:
        return gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0)  # type: ignore[return-value]


def _big_layer(directory: str, index: int, size: int) -> Layer:
    tmp = os.path.join(directory, f"layer{index}.tmp")
    with open(tmp, "wb") as out:
        compressed = _HashingWriter(out)
        gz = _gzip_writer(compressed)  # type: ignore[arg-type]
        uncompressed = _HashingWriter(gz)
        with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            info = tarfile.TarInfo("big")
            info.type = tarfile.DIRTYPE
            info.mode, info.mtime = 0o755, MTIME
            tar.addfile(info)
            info = tarfile.TarInfo(f"big/random-{index}.bin")
            info.size, info.mode, info.mtime = size, 0o644, MTIME
            tar.addfile(info, _RandomReader(size))
        gz.close()
    digest = "sha256:" + compressed.sha.hexdigest()
    path = os.path.join(directory, hex_of(digest))
    os.replace(tmp, path)
    blob = Blob(DOCKER_LAYER_GZIP, digest, compressed.count, path=path)
    return Layer(blob, "sha256:" + uncompressed.sha.hexdigest(), uncompressed.count, size)


def big_image(
    directory: str, layers: int = BIG_LAYERS, layer_bytes: int = BIG_LAYER_BYTES
) -> Image:
    """>= 300 MB of incompressible data in `layers` gzip layers (level 1), blobs kept as files
    in `directory`. Built once: a second call with the same directory reuses the blobs."""
    meta = os.path.join(directory, f"big-{layers}x{layer_bytes}.json")
    built: list[Layer] = []
    if os.path.exists(meta):
        with open(meta) as f:
            for d in json.load(f):
                blob = Blob(DOCKER_LAYER_GZIP, d["digest"], d["size"], path=d["path"])
                built.append(Layer(blob, d["diff_id"], d["tar_size"], d["files_size"]))
    if not built or not all(layer.blob.path and os.path.exists(layer.blob.path) for layer in built):
        os.makedirs(directory, exist_ok=True)
        built = [_big_layer(directory, i, layer_bytes) for i in range(layers)]
        with open(meta, "w") as f:
            json.dump(
                [
                    {
                        "digest": layer.blob.digest,
                        "size": layer.blob.size,
                        "path": layer.blob.path,
                        "diff_id": layer.diff_id,
                        "tar_size": layer.tar_size,
                        "files_size": layer.files_size,
                    }
                    for layer in built
                ],
                f,
            )
    return make_image(built, "docker")


# -- hostile layers --------------------------------------------------------------------------

# Enough `..` to climb from any snapshot directory to / (extra ones stay at /).
_UP = "../" * 40


@dataclass(frozen=True)
class Hostile:
    name: str  # short case name, used in the repository name
    offending: str  # the entry the error must name
    image: Image


def hostile_images(canary_dir: str) -> list[Hostile]:
    """One single-layer image per escape. Every escape aims at `canary_dir` (absolute), where
    the test checks nothing appeared; `canary_dir/target` is the file a hardlink aims at and
    must exist beforehand."""
    c = canary_dir.strip("/")
    cases: list[tuple[str, str, Tar]] = []

    name = f"{_UP}{c}/escape-dotdot"
    cases.append(("dotdot", name, busybox_tar().file(name, b"escaped\n")))

    name = f"/{_UP}{c}/escape-absolute"
    cases.append(("absolute", name, busybox_tar().file(name, b"escaped\n")))

    tar = busybox_tar().symlink("link", "/" + c).file("link/escape-symlink", b"escaped\n")
    cases.append(("symlink", "link/escape-symlink", tar))

    tar = busybox_tar().hardlink("escape-hardlink", f"{_UP}{c}/target")
    cases.append(("hardlink", "escape-hardlink", tar))

    tar = (
        busybox_tar()
        .dir("chain")
        .symlink("chain/one", "../two")
        .symlink("two", f"{_UP}{c}")
        .file("chain/one/escape-chain", b"escaped\n")
    )
    cases.append(("symlink-chain", "chain/one/escape-chain", tar))

    return [
        Hostile(case, offending, make_image([make_layer(tar)], "docker"))
        for case, offending, tar in cases
    ]
