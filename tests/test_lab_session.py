"""labqueue.lab.session: each kernel's own queue names on a shared server, one name on purpose."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labqueue import connect
from labqueue.lab import session


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv(session.ENV_PREFIX, raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    return monkeypatch


def test_fake_backend_keeps_the_name(env):
    """On the embedded fakeredis (per process) a name is used as written."""
    assert session.qname("nb02_jobs") == "nb02_jobs"
    assert "as written" in session.backend_line(connect())


def test_real_server_prefixes_with_user_and_kernel_id(env):
    """With REDIS_URL set, the name gets '<user>-<4 hex>.' in front, the same on every call."""
    env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    env.setenv("JUPYTERHUB_USER", "Alice Martin")
    name = session.qname("nb02_jobs")
    owner, _, base = name.partition(".")
    user, _, kid = owner.rpartition("-")
    assert (user, len(kid), base) == ("alice-martin", 4, "nb02_jobs"), name
    int(kid, 16)
    assert session.qname("nb02_jobs") == name
    assert name.split(".")[0] in session.backend_line(connect("redis://127.0.0.1:1/0"))


def _name_in_another_process() -> str:
    code = "from labqueue.lab.session import qname; print(qname('q'))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_two_processes_get_two_names(env):
    """Two kernels (processes) on one real server never share a queue name."""
    env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    a, b = _name_in_another_process(), _name_in_another_process()
    assert a != b and a.endswith(".q") and b.endswith(".q"), (a, b)


def test_teacher_prefix_is_shared_on_purpose(env):
    """LABQUEUE_PREFIX=demo gives everybody demo.<name>; =none the names as written."""
    env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    env.setenv(session.ENV_PREFIX, "demo")
    assert session.qname("nb02_jobs") == "demo.nb02_jobs" == _name_in_another_process().replace(".q", ".nb02_jobs")
    assert "shared on purpose" in session.backend_line(connect())
    env.setenv(session.ENV_PREFIX, "none")
    assert session.qname("nb02_jobs") == "nb02_jobs"
    env.setenv(session.ENV_PREFIX, "!!!")
    with pytest.raises(ValueError, match="LABQUEUE_PREFIX"):
        session.qname("x")


def test_empty_name_is_refused(env):
    """qname('') names what was wrong."""
    with pytest.raises(ValueError, match="non-empty queue name"):
        session.qname("")
