"""Each notebook kernel's own queue names, so a class can share one Redis server.

A notebook names its queues ``qname("nb02_jobs")`` instead of ``"nb02_jobs"``:

- on the embedded fakeredis (no ``REDIS_URL``) the server lives inside this kernel, nobody else can
  see it, and the name is returned unchanged;
- on a real server (``REDIS_URL`` set) the name gets this kernel's prefix, the user name plus a short
  id of the kernel (``alice-3f2a.nb02_jobs``), so two students, or one student with two kernels, never
  clear or consume each other's jobs. The id comes from the kernel's connection file, so it survives a
  kernel restart (the same queues again) and differs between two kernels;
- a teacher who wants everybody on one queue on purpose (a demo the class watches) sets
  ``LABQUEUE_PREFIX`` in every kernel's environment: ``LABQUEUE_PREFIX=demo`` gives ``demo.nb02_jobs``
  to everyone, ``LABQUEUE_PREFIX=none`` the names exactly as written.

``use_language("fr")`` (from labqueue.lab.i18n) makes everything the lab shows French; every notebook's
first cell names its language.

``backend_line(r)`` is the notebooks' "backend:" line: where Redis is, and whose queue names these are.
Redis structures touched: none (names only).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import sys
from functools import lru_cache
from typing import Any

from .i18n import N_, _, translate, use_language

__all__ = ["ENV_PREFIX", "backend_line", "prefix", "qname", "shared_on_purpose", "shown_backend", "use_language"]

ENV_PREFIX = "LABQUEUE_PREFIX"
_NONE = "none"
_SEPARATOR = "."


def _clean(text: str, limit: int) -> str:
    """Lower-case letters, digits, '-' and '_' only, at most `limit` characters."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")[:limit]


@lru_cache(maxsize=1)
def _kernel_id() -> str:
    """Four hex digits naming this kernel: from its connection file, else from the process id."""
    seed = f"pid-{os.getpid()}"
    if "ipykernel" in sys.modules:
        try:
            from ipykernel.connect import get_connection_file

            seed = get_connection_file()
        except Exception:  # not inside a running kernel after all (e.g. imported by a test)
            pass
    return hashlib.blake2s(seed.encode(), digest_size=2).hexdigest()


def _user() -> str:
    name = os.environ.get("JUPYTERHUB_USER") or ""
    if not name:
        try:
            name = getpass.getuser()
        except Exception:  # no user name in this environment (some containers)
            name = ""
    return _clean(name, 12) or "student"


def shared_on_purpose() -> bool:
    """True when the teacher chose the names for everybody ($LABQUEUE_PREFIX is set)."""
    return bool(os.environ.get(ENV_PREFIX, "").strip())


def _real_server() -> bool:
    return bool(os.environ.get("REDIS_URL"))


def prefix() -> str:
    """This kernel's prefix ('' when names are used as written), without the separator."""
    chosen = os.environ.get(ENV_PREFIX, "").strip()
    if chosen:
        if chosen.lower() == _NONE:
            return ""
        cleaned = _clean(chosen, 32)
        if not cleaned:
            raise ValueError(f"{ENV_PREFIX}={chosen!r} has no letter or digit; use e.g. {ENV_PREFIX}=demo "
                             f"(or {ENV_PREFIX}={_NONE} for the names as written)")
        return cleaned
    if not _real_server():
        return ""
    return f"{_user()}-{_kernel_id()}"


def qname(base: str) -> str:
    """The name this kernel uses for the queue called `base` in the notebook (see the module doc)."""
    if not isinstance(base, str) or not base:
        raise ValueError(f"qname() needs a non-empty queue name, got {base!r}")
    p = prefix()
    return f"{p}{_SEPARATOR}{base}" if p else base


# labqueue.connection.describe()'s lines (the core's, English), as the lab shows them in the language in use.
_BACKENDS = [
    (re.compile(r"embedded fakeredis (?:(?P<version>\S+) )?\(in-process, no server\)"),
     N_("embedded fakeredis {version} (in-process, no server)")),
    (re.compile(r"real Redis (?P<version>\S+) at (?P<where>\S+) db (?P<db>\d+)"),
     N_("real Redis {version} at {where} db {db}")),
    (re.compile(r"Redis Cluster (?P<version>\S+), (?P<masters>\d+) masters \+ (?P<replicas>\d+) replicas, "
                r"state (?P<state>\S+), via (?P<where>\S+)"),
     N_("Redis Cluster {version}, {masters} masters + {replicas} replicas, state {state}, via {where}")),
]


def shown_backend(description: str) -> str:
    """A `labqueue.connection.describe()` line in the lab's language (itself in English, or when unknown)."""
    for pattern, message in _BACKENDS:
        m = pattern.fullmatch(description)
        if m:
            fields = {k: v or "" for k, v in m.groupdict().items()}
            return translate(message).format(**fields).replace("  ", " ")
    return description


def backend_line(client: Any) -> str:
    """Where Redis is, and whose queue names this kernel uses: the notebooks' "backend:" line."""
    from ..connection import describe, is_fake

    where = shown_backend(describe(client))
    p = prefix()
    if shared_on_purpose():
        whose = (_("queue names shared on purpose: {names} ({setting})").format(
                     names=f"{p}{_SEPARATOR}" + _("<name>"), setting=f"{ENV_PREFIX}={os.environ[ENV_PREFIX]}")
                 if p else _("queue names as written, shared on purpose ({setting})").format(
                     setting=f"{ENV_PREFIX}={_NONE}"))
    elif p:
        whose = _("this kernel's queues are {names}").format(names=f"{p}{_SEPARATOR}" + _("<name>"))
    elif is_fake(client):
        whose = _("queue names as written (this kernel's own server)")
    else:
        whose = _("queue names as written")
    return f"{where} | {whose}"
