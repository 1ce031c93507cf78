"""Endpoints, mirrors, insecure registries and the per-registry certificates directory."""

from __future__ import annotations

import os
import ssl

import pytest

from caisson import errors
from caisson.registry_proxy.hosts import Endpoint, Hosts, is_loopback, registry_name, split_host
from caisson.registry_proxy.transport import origin


def test_docker_hub_goes_to_registry_1_and_mirrors_first() -> None:
    h = Hosts(mirrors=["https://mirror.example", "http://127.0.0.1:5001/"])
    assert h.endpoints("docker.io") == [
        Endpoint("mirror.example", ("https",), mirror=True),
        Endpoint("127.0.0.1:5001", ("http",), mirror=True),
        Endpoint("registry-1.docker.io", ("https",)),
    ]
    assert h.endpoints("quay.io") == [Endpoint("quay.io", ("https",))]


def test_loopback_and_insecure_registries_may_use_http() -> None:
    h = Hosts(insecure=["reg.example:5000", "10.1.0.0/16"])
    assert h.endpoints("127.0.0.1:5000")[0].schemes == ("https", "http")
    assert h.endpoints("localhost:5000")[0].schemes == ("https", "http")
    assert h.endpoints("[::1]:5000")[0].schemes == ("https", "http")
    assert h.endpoints("reg.example:5000")[0].schemes == ("https", "http")
    assert h.endpoints("reg.example:6000")[0].schemes == ("https",)
    assert h.endpoints("10.1.2.3:5000")[0].schemes == ("https", "http")
    assert h.endpoints("10.2.0.1")[0].schemes == ("https",)


@pytest.mark.parametrize("bad", ["", "a/b/c", "http://x/path"])
def test_bad_insecure_entry(bad: str) -> None:
    with pytest.raises(errors.InvalidArgument, match="invalid insecure registry"):
        Hosts(insecure=[bad])


@pytest.mark.parametrize("bad", ["mirror.example", "ftp://m", "https://m/v2/", "https://m?q"])
def test_bad_mirror(bad: str) -> None:
    with pytest.raises(errors.InvalidArgument, match="invalid registry mirror"):
        Hosts(mirrors=[bad])


def test_split_host_and_loopback() -> None:
    assert split_host("127.0.0.1:5000") == ("127.0.0.1", 5000)
    assert split_host("[::1]:80") == ("::1", 80)
    assert split_host("quay.io") == ("quay.io", None)
    assert is_loopback("127.3.4.5:1") and is_loopback("localhost") and is_loopback("[::1]:5")
    assert not is_loopback("10.0.0.1:5000")


def test_origin_drops_default_ports() -> None:
    assert origin("https://Reg.example:443/v2/") == ("https", "reg.example")
    assert origin("http://127.0.0.1:5000/x") == ("http", "127.0.0.1:5000")
    assert origin("https://u:p@h/x") == ("https", "h")


def test_ssl_context_verifies_unless_insecure(tmp_path: str) -> None:
    h = Hosts(insecure=["insecure.example"], certs_dir=str(tmp_path))
    assert h.ssl_context("reg.example").verify_mode == ssl.CERT_REQUIRED
    assert h.ssl_context("reg.example").check_hostname
    assert h.ssl_context("insecure.example").verify_mode == ssl.CERT_NONE


def test_certs_dir_errors_are_clear(tmp_path: str) -> None:
    d = os.path.join(str(tmp_path), "reg.example:5000")
    os.makedirs(d)
    with open(os.path.join(d, "ca.crt"), "w") as f:
        f.write("not a certificate")
    h = Hosts(certs_dir=str(tmp_path))
    with pytest.raises(errors.InvalidArgument, match="bad certificate in .*reg.example:5000"):
        h.ssl_context("reg.example:5000")
    os.unlink(os.path.join(d, "ca.crt"))
    open(os.path.join(d, "client.cert"), "w").close()
    with pytest.raises(errors.InvalidArgument, match="no matching key file"):
        Hosts(certs_dir=str(tmp_path)).ssl_context("reg.example:5000")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
        ("Quay.IO", "quay.io"),
    ],
)
def test_registry_name(text: str, name: str) -> None:
    assert registry_name(text) == name


def test_empty_registry_name() -> None:
    with pytest.raises(errors.InvalidArgument):
        registry_name("https://")
