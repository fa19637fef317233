"""Which ``Host`` headers the explorer answers: a guard against DNS rebinding.

A page on ``evil.example`` can make its own name resolve to 127.0.0.1 and then read the
explorer as same-origin; the only thing that tells such a request apart is its ``Host``
header (``evil.example:8765``). So, as Jupyter (``allow_origin``/local hostnames) and
Starlette's ``TrustedHostMiddleware`` do, only the names the server is meant to be reached by
are answered: the loopback names (``localhost``, ``*.localhost``, ``127.0.0.1``, ``[::1]``),
the bound address, and those of the ``allowed_hosts`` setting (``XDEG_ALLOWED_HOSTS``:
comma-separated names, ``.example.org`` for a domain and its subdomains, ``*`` for any).
Bound to every interface (``0.0.0.0``, ``::``), an IP address literal is also answered (no
DNS name, so nothing to rebind). Anything else gets 421 with a one-line JSON error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from xdeg_pipeline.explorer.responses import error

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def split_hosts(text: str | None) -> tuple[str, ...]:
    """The names of a comma- or space-separated ``allowed_hosts`` setting, lower case."""
    return tuple(h.strip().lower() for h in (text or "").replace(",", " ").split() if h.strip())


def host_name(header: str) -> str:
    """The host of a ``Host`` header without its port: ``[::1]:8765`` -> ``::1``."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else ""
    name, _, _port = text.partition(":") if text.count(":") == 1 else (text, "", "")
    return name.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostPolicy:
    """Decides whether a request's host is one this server is meant to be reached by."""

    def __init__(self, bound: str = "127.0.0.1", extra: Iterable[str] = ()) -> None:
        self.bound = host_name(f"[{bound}]" if ":" in bound else bound)
        self.extra = tuple(e.strip().lower().rstrip(".") for e in extra if e.strip())
        self.names = {*LOOPBACK_NAMES, self.bound, *self.extra} - {""}

    def allows(self, header: str | None) -> bool:
        name = host_name(header or "")
        if not name:
            return False
        if name in self.names or name.endswith(".localhost") or "*" in self.extra:
            return True
        if any(e.startswith(".") and (name.endswith(e) or name == e[1:]) for e in self.extra):
            return True
        return self.bound in WILDCARD_BINDS and _is_ip(name)


class TrustedHosts:
    """ASGI middleware: requests whose ``Host`` the policy refuses are answered 421."""

    def __init__(self, app, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if self.policy.allows(host):
            await self.app(scope, receive, send)
            return
        shown = " ".join(host.split())[:100] or "(none)"
        response = error(421, f"host {shown!r} is not one this explorer answers; add it to "
                              "XDEG_ALLOWED_HOSTS if it is yours")
        await response(scope, receive, send)
