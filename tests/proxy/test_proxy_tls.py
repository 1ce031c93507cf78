"""An HTTPS registry that wants a client certificate: the per-registry certs directory."""

from __future__ import annotations

import os
import shutil
import ssl
from collections.abc import Callable
from typing import Any

import pytest

from caisson import errors
from caisson.content import ContentStore

from .conftest import Pulls
from .registry_env import Certs, Distribution, Pusher, layer, make_certs

# Loopback registries are not verified (like Docker's 127.0.0.0/8); the proxy silences
# urllib3's warning about it, but pytest re-enables warnings per test.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def test_client_certificate_from_the_certs_dir(
    tmp_path: Any,
    new_registry: Callable[..., Distribution],
    pulls: Pulls,
    content: ContentStore,
) -> None:
    certs: Certs = make_certs(str(tmp_path))
    reg = new_registry(tls=certs)
    tls = ssl.create_default_context(cafile=certs.ca)
    tls.load_cert_chain(certs.client_cert, certs.client_key)
    image = Pusher(reg.url, tls=tls).image("tls/img", "v1", [layer({"t": b"tls"})])

    certs_dir = os.path.join(str(tmp_path), "certs.d")
    host_dir = os.path.join(certs_dir, reg.host)
    os.makedirs(host_dir)
    with pytest.raises(errors.Unavailable) as e:
        pulls.run(f"{reg.host}/tls/img:v1", pulls.puller(certs_dir=certs_dir))
    assert f"registry {reg.host} is unreachable: TLS handshake failed" in str(e.value)

    for path in (certs.ca, certs.client_cert, certs.client_key):
        shutil.copy(path, host_dir)
    pulls.run(f"{reg.host}/tls/img:v1", pulls.puller(certs_dir=certs_dir))
    assert content.exists(image.layers[0])
