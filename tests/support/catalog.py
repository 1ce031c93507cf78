"""The set of test images the integration tests pull, built once and pushed to a registry."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tests.support import images
from tests.support.client import RegistryClient
from tests.support.images import Hostile, Image, Index
from tests.support.registry import Registry


def client_for(registry: Registry) -> RegistryClient:
    creds = registry.credentials()
    return RegistryClient(
        registry.url,
        creds.username if creds else "",
        creds.password if creds else "",
        ssl_context=registry.ssl_context(),
    )


@dataclass
class Catalog:
    """repository (without the registry host) -> what was pushed there as :latest."""

    host: str
    images: dict[str, Image] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)

    def ref(self, repo: str, tag: str = "latest") -> str:
        return f"{self.host}/{repo}:{tag}"

    def digest_ref(self, repo: str, digest: str) -> str:
        return f"{self.host}/{repo}@{digest}"


def standard(registry: Registry) -> Catalog:
    """busybox in every flavour and compression, the layer cases, multi-platform indexes."""
    catalog = Catalog(registry.host)
    catalog.images.update(
        {
            "test/busybox": images.busybox_image("docker", "gzip"),
            "test/busybox-oci": images.busybox_image("oci", "gzip"),
            "test/busybox-zstd": images.busybox_image("oci", "zstd"),
            "test/busybox-plain": images.busybox_image("oci", "none"),
            "test/layers-docker": images.layer_cases_image("docker"),
            "test/layers-oci": images.layer_cases_image("oci"),
            "test/run": images.run_image(),
        }
    )
    catalog.indexes.update(
        {
            "test/multi": images.multi_platform_index("oci"),
            "test/multi-docker": images.multi_platform_index("docker"),
        }
    )
    push(registry, catalog)
    return catalog


def push(registry: Registry, catalog: Catalog, tag: str = "latest") -> None:
    client = client_for(registry)
    for repo, image in catalog.images.items():
        client.push_image(repo, tag, image)
    for repo, index in catalog.indexes.items():
        client.push_index(repo, tag, index)


def hostile(registry: Registry, canary_dir: str) -> dict[str, Hostile]:
    """One image per escape as test/hostile-<case>:latest, all aimed at canary_dir."""
    os.makedirs(canary_dir, exist_ok=True)
    with open(os.path.join(canary_dir, "target"), "w") as f:
        f.write("the hardlink escape aims here\n")
    client = client_for(registry)
    cases = {h.name: h for h in images.hostile_images(canary_dir)}
    for name, case in cases.items():
        client.push_image(f"test/hostile-{name}", "latest", case.image)
    return cases


def big(registry: Registry, cache_dir: str, repo: str = "test/big") -> Image:
    image = images.big_image(cache_dir)
    client_for(registry).push_image(repo, "latest", image)
    return image
