"""Where job-end callbacks may go.

A key holder names the callback URL, and the service then makes an HTTP request to it from
inside the network it runs in. The OA system that usually receives callbacks lives on the
same intranet, so private addresses (10/8, 172.16/12, 192.168/16, fc00::/7) stay allowed by
default. Never allowed unless listed on purpose:

- link-local (169.254/16, fe80::/10), unspecified, multicast and reserved addresses;
- the cloud metadata and platform endpoints: 169.254.169.254 (AWS, GCP, Azure, OpenStack),
  100.100.100.200 (Alibaba Cloud; it sits in the carrier-grade NAT range 100.64.0.0/10, which
  is refused whole), fd00:ec2::/32 (AWS over IPv6), 168.63.129.16 (Azure), 192.0.0.0/24;
- loopback, alike for IPv4 (127/8, and 0/8, which Linux routes to the host itself) and IPv6
  (::1). A callback to the service's own host reaches whatever listens there trusting local
  callers (databases' HTTP ports, admin consoles), and the OA receiver is another machine; a
  receiver on the same host is let in by listing `127.0.0.1/32` or `::1` in the allow-list.

IPv6 forms that carry an IPv4 address (::ffff:a.b.c.d, the NAT64 prefix 64:ff9b::/96, 6to4)
are judged by that IPv4 address, so no spelling slips past.

`DECISION_SCREEN_CALLBACK_ALLOW` narrows callbacks further to a list of host names
(`oa.example.gov.cn`), name suffixes (`*.example.gov.cn`) and networks (`10.20.0.0/16`); a
network entry is also how a blocked range is let in on purpose.

The URL is checked when the job is created (literal addresses and names) and again right
before each attempt, on the addresses the name resolves to then, so a name that later
points somewhere else is still caught."""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


# Ranges refused on top of what `ipaddress` calls link-local, unspecified, multicast or reserved.
BLOCKED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8",  # "this host": connecting to 0.x reaches the local machine on Linux
    "127.0.0.0/8", "::1/128",  # loopback
    "100.64.0.0/10",  # carrier-grade NAT; Alibaba Cloud's metadata is 100.100.100.200
    "192.0.0.0/24",  # IETF protocol assignments (Oracle Cloud's old metadata 192.0.0.192)
    "168.63.129.16/32",  # Azure's platform endpoint (wire server)
    "fd00:ec2::/32",  # AWS's IPv6 metadata (fd00:ec2::254) and DNS
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_v4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: Address) -> str | None:
    """Why a callback may not go to this address by default, or None."""
    v4 = _embedded_v4(ip)
    if v4 is not None:
        inner = blocked_reason(v4)
        return f"{inner} (written as {ip})" if inner else None
    if ip.is_loopback or any(ip in net for net in BLOCKED_NETWORKS[:3]):
        return f"address {ip} is loopback (the service's own host)"
    if ip.is_link_local:
        return f"address {ip} is link-local (cloud metadata lives at 169.254.169.254)"
    if any(ip in net for net in BLOCKED_NETWORKS):
        return f"address {ip} is a cloud metadata, carrier-grade NAT or platform address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return f"address {ip} is unspecified, multicast or reserved"
    return None


def _system_resolver(host: str) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})


@dataclass(frozen=True)
class CallbackPolicy:
    allow: tuple[str, ...] = ()

    @classmethod
    def from_setting(cls, raw: str | Iterable[str] | None) -> CallbackPolicy:
        items = raw.split(",") if isinstance(raw, str) else list(raw or ())
        return cls(tuple(i.strip().lower() for i in items if i and i.strip()))

    @property
    def _networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        nets = []
        for entry in self.allow:
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue
        return nets

    def _name_allowed(self, host: str) -> bool:
        for entry in self.allow:
            if entry.startswith("*.") and host.endswith(entry[1:]):
                return True
            if host == entry:
                return True
        return False

    def _address_problem(self, ip: Address) -> str | None:
        if any(ip in net for net in self._networks):
            return None
        return blocked_reason(ip)

    def check_url(self, url: str) -> str | None:
        """Why this URL may not be a callback target, or None. Does not resolve names."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            return "not a full http(s):// URL"
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None:
            problem = self._address_problem(ip)
            if problem:
                return problem
            if self.allow and not any(ip in net for net in self._networks):
                return f"address {ip} is not in the callback allow-list"
            return None
        if (host == "localhost" or host.endswith(".localhost")) and not self._name_allowed(host):
            # Resolved to loopback anyway (checked before each attempt), but say so at once.
            return f"host {host} is loopback (the service's own host)"
        if self.allow and not self._name_allowed(host) and not self._networks:
            return f"host {host} is not in the callback allow-list"
        return None

    def check_resolved(self, url: str, resolver: Callable[[str], list[str]] | None = None) -> str | None:
        """`check_url`, then every address the host resolves to now. A name that does not
        resolve is not refused here: the attempt itself fails and is retried like any other."""
        problem = self.check_url(url)
        if problem:
            return problem
        host = (urlsplit(url).hostname or "").lower()
        try:
            ipaddress.ip_address(host)
            return None  # a literal address was checked above
        except ValueError:
            pass
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in (resolver or _system_resolver)(host)]
        except OSError:
            return None
        for ip in addresses:
            problem = self._address_problem(ip)
            if problem:
                return f"{host} resolves to {problem[len('address '):]}"
        in_networks = bool(addresses) and all(any(ip in net for net in self._networks) for ip in addresses)
        if self.allow and not self._name_allowed(host) and not in_networks:
            return f"host {host} is not in the callback allow-list"
        return None
