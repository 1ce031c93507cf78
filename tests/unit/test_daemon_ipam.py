"""ipam.py: docker's checks and words for --subnet/--ip-range/--gateway, the next free subnet,
and address allocation (pure: reservations are passed in)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from caisson import errors
from caisson.daemon import ipam


def net(text: str) -> IPv4Network:
    return IPv4Network(text)


def ip(text: str) -> IPv4Address:
    return IPv4Address(text)


@pytest.mark.parametrize(
    ("text", "address", "network"),
    [
        ("10.0.0.0/24", "10.0.0.0", "10.0.0.0/24"),
        ("10.0.0.7/24", "10.0.0.7", "10.0.0.0/24"),
        ("192.168.1.1/32", "192.168.1.1", "192.168.1.1/32"),
    ],
)
def test_parse_cidr_is_go_parse_cidr(text: str, address: str, network: str) -> None:
    assert ipam.parse_cidr(text) == (ip(address), net(network))


@pytest.mark.parametrize(
    "text", ["10.0.0/24", "10.0.0.0", "10.0.0.0/33", "300.0.0.0/8", "fd00::/64", "a/8", ""]
)
def test_parse_cidr_refuses_with_go_words(text: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=f"^invalid CIDR address: {text}$"):
        ipam.parse_cidr(text)


def test_parse_ip_is_dotted_quads_only() -> None:
    assert ipam.parse_ip("10.1.2.3") == ip("10.1.2.3")
    assert ipam.parse_ip("abc") is None
    assert ipam.parse_ip("10.1.2") is None
    assert ipam.parse_ip("10.1.2.256") is None


@pytest.mark.parametrize(
    ("subnets", "ranges", "gateways", "message"),
    [
        ([], [], ["10.0.0.1"], "every ip-range or gateway must have a corresponding subnet"),
        ([], ["10.0.0.0/25"], [], "every ip-range or gateway must have a corresponding subnet"),
        (
            ["10.0.0.0/16", "10.0.1.0/24"],
            [],
            [],
            "multiple overlapping subnet configuration is not supported",
        ),
        (["10.0.0.0/24"], [], ["10.1.0.1"], "no matching subnet for gateway 10.1.0.1"),
        (["10.0.0.0/24"], [], ["abc"], "no matching subnet for gateway abc"),
        (["10.0.0.0/24"], ["10.9.0.0/25"], [], "no matching subnet for range 10.9.0.0/25"),
        (["10.0.0.0/24"], ["10.0.0.0/33"], [], "invalid CIDR address: 10.0.0.0/33"),
        (
            ["10.0.0/24"],
            [],
            ["10.0.0.1"],
            "invalid subnet: invalid CIDR address: 10.0.0/24",
        ),
        (
            ["10.0.0.0/24", "10.1.0.0/24"],
            ["10.0.0.0/25", "10.0.0.128/25"],
            [],
            "cannot configure multiple ranges (10.0.0.128/25, 10.0.0.0/25) on the same subnet "
            "(10.0.0.0/24)",
        ),
        (
            ["10.0.0.0/24", "10.1.0.0/24"],
            [],
            ["10.0.0.1", "10.0.0.2"],
            "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet "
            "(10.0.0.0/24)",
        ),
    ],
)
def test_consolidate_has_the_docker_clis_words(
    subnets: list[str], ranges: list[str], gateways: list[str], message: str
) -> None:
    with pytest.raises(errors.InvalidArgument) as e:
        ipam.consolidate(subnets, ranges, gateways)
    assert str(e.value) == message


def test_consolidate_accepts_a_coherent_config_and_leaves_a_lone_subnet_to_the_daemon() -> None:
    ipam.consolidate(["10.0.0.0/16"], ["10.0.5.0/24"], ["10.0.5.254"])
    ipam.consolidate(["10.0.0/24"], [], [])


def test_configure_picks_the_first_address_as_gateway() -> None:
    pool = ipam.configure("10.5.0.0/24")
    assert pool == ipam.Pool(net("10.5.0.0/24"), ip("10.5.0.1"), None)
    assert pool.reserved() == {ip("10.5.0.0"), ip("10.5.0.1"), ip("10.5.0.255")}


def test_configure_takes_the_gateway_from_the_range_as_libnetwork() -> None:
    pool = ipam.configure("10.5.0.0/24", "10.5.0.128/25")
    assert pool.gateway == ip("10.5.0.128")
    assert pool.ip_range == net("10.5.0.128/25")


def test_configure_keeps_a_given_gateway() -> None:
    assert ipam.configure("10.5.0.0/24", "", "10.5.0.254").gateway == ip("10.5.0.254")


@pytest.mark.parametrize(
    ("subnet", "ip_range", "gateway", "message"),
    [
        ("10.0.0/24", "", "", "Invalid subnet 10.0.0/24 : invalid CIDR address: 10.0.0/24"),
        ("10.0.0.0/24", "10.0.0.0/16", "", "no matching subnet for range 10.0.0.0/16"),
        (
            "10.0.0.0/24",
            "",
            "10.0.0.255",
            "failed to allocate gateway (10.0.0.255): Address already in use",
        ),
        ("10.0.0.0/24", "", "10.0.1.1", "no matching subnet for gateway 10.0.1.1"),
    ],
)
def test_configure_errors(subnet: str, ip_range: str, gateway: str, message: str) -> None:
    with pytest.raises(errors.InvalidArgument) as e:
        ipam.configure(subnet, ip_range, gateway)
    assert str(e.value) == message


def test_overlap_is_libnetworks_pool_overlap() -> None:
    ipam.check_overlap(net("10.1.0.0/24"), [net("10.0.0.0/24"), net("10.2.0.0/16")])
    with pytest.raises(errors.PermissionDenied) as e:
        ipam.check_overlap(net("10.0.0.0/16"), [net("10.0.3.0/24")])
    assert str(e.value) == "Pool overlaps with other one on this address space"


def test_next_subnet_skips_networks_and_host_routes() -> None:
    assert ipam.next_subnet([]) == net("10.88.0.0/24")
    taken = [net("10.88.0.0/24"), net("10.88.1.0/25"), net("10.88.2.0/23")]
    assert ipam.next_subnet(taken) == net("10.88.4.0/24")
    # A host route covering the pool's start pushes past it.
    assert ipam.next_subnet([net("10.88.0.0/16")]) == net("10.89.0.0/24")


def test_next_subnet_exhausted() -> None:
    with pytest.raises(errors.ResourceExhausted, match="could not find an available"):
        ipam.next_subnet([net("10.0.0.0/8")], pool="10.1.0.0/23", size=24)


def test_first_free_is_lowest_and_skips_reserved_and_used() -> None:
    pool = ipam.Pool(net("10.5.0.0/29"), ip("10.5.0.1"))
    assert ipam.first_free(pool, []) == ip("10.5.0.2")
    assert ipam.first_free(pool, [ip("10.5.0.2"), ip("10.5.0.4")]) == ip("10.5.0.3")
    used = [ip(f"10.5.0.{n}") for n in range(2, 7)]
    assert ipam.first_free(pool, used) is None  # .7 is the broadcast address


def test_first_free_stays_in_the_range() -> None:
    pool = ipam.Pool(net("10.5.0.0/24"), ip("10.5.0.1"), net("10.5.0.248/29"))
    assert ipam.first_free(pool, []) == ip("10.5.0.248")
    used = [ip(f"10.5.0.{n}") for n in range(248, 255)]
    assert ipam.first_free(pool, used) is None


def test_request_checks_like_docker() -> None:
    pool = ipam.Pool(net("10.5.0.0/24"), ip("10.5.0.1"), net("10.5.0.128/25"))
    # Anywhere in the subnet, not only in the range.
    assert ipam.request(pool, "10.5.0.9", []) == ip("10.5.0.9")
    for taken in ("10.5.0.1", "10.5.0.0", "10.5.0.255", "10.5.0.9"):
        with pytest.raises(errors.PermissionDenied, match="^Address already in use$"):
            ipam.request(pool, taken, [ip("10.5.0.9")])
    with pytest.raises(errors.InvalidArgument) as e:
        ipam.request(pool, "10.6.0.9", [])
    assert str(e.value) == (
        "Invalid address 10.6.0.9: It does not belong to any of this network's subnets"
    )
    for bad in ("nope", "0.0.0.0", "fd00::1"):
        with pytest.raises(errors.InvalidArgument, match=f"^invalid IPv4 address: {bad}$"):
            ipam.request(pool, bad, [])


def test_mac_is_dockers_02_42_plus_the_address() -> None:
    assert ipam.mac(ip("10.88.0.2")) == "02:42:0a:58:00:02"
    assert ipam.mac(ip("172.17.255.254")) == "02:42:ac:11:ff:fe"


def test_parse_routes_reads_proc_net_route() -> None:
    text = (
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
        "bad\tzz\n"
    )
    assert ipam.parse_routes(text) == [net("192.168.0.0/24"), net("172.17.0.0/16")]
