"""Where job-end callbacks may go.

A key holder names the callback URL, and the service then makes an HTTP request to it from
inside the network it runs in. The OA system that usually receives callbacks lives on the
same intranet, so private and loopback addresses stay allowed by default; link-local,
unspecified, multicast and reserved addresses never are (169.254.169.254 is where cloud
metadata services answer). `DECISION_SCREEN_CALLBACK_ALLOW` narrows callbacks further to a
list of host names (`oa.example.gov.cn`), name suffixes (`*.example.gov.cn`) and networks
(`10.20.0.0/16`); a network entry is also how a blocked range is let in on purpose.

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


def _never_allowed(ip: Address) -> bool:
    return ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip.is_reserved


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
        if _never_allowed(ip):
            return f"address {ip} is link-local, unspecified, multicast or reserved"
        return None

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
