"""Each jq_*.lua script receives only the keys it uses (issue 14), named once in the script itself."""

from __future__ import annotations

import re

import pytest

from labqueue import scripts
from labqueue.jobqueue import SCRIPTS
from labqueue.jobspec import ALL_KEYS, LUA_NAMES, JobQueueKeys

LUA_KEY_NAMES = {next((lua for lua, py in LUA_NAMES.items() if py == k), k) for k in ALL_KEYS}
HELPERS = {  # what each jq_lib.lua helper touches (its header says so too)
    "ready": {"wait", "prio", "meta"}, "wake": {"marker"}, "emit": {"events"},
    "drop": {"jobs", "runs", "made", "stalls", "progress", "results", "errors"},
}
HELPERS["trim"] = HELPERS["drop"]


def code_of(text: str) -> str:
    """Lua code without comments and string literals (a word in a string is not a key used)."""
    text = re.sub(r"--[^\n]*", "", text)
    return re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "''", text)


def body(name: str) -> str:
    text = scripts.source(name)
    return code_of(text[scripts.KEYS_LINE.search(text).end():])


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_declares_exactly_the_keys_it_uses(script):
    declared = set(scripts.key_names(f"jq_{script}"))
    code = body(f"jq_{script}")
    lib = code_of(scripts.source("jq_lib").rstrip("\n"))
    own = code.replace(lib, "")  # the script's own lines, jq_lib's definitions left out
    used = {k for k in LUA_KEY_NAMES if re.search(rf"\b{k}\b", own)}
    for helper, needs in HELPERS.items():
        if re.search(rf"\b{helper}\(", own):
            used |= needs
    assert declared <= LUA_KEY_NAMES
    assert used == declared, f"jq_{script}.lua: declared {sorted(declared)}, uses {sorted(used)}"


def test_keys_for_a_script_are_its_declared_keys_in_order_in_one_slot():
    keys = JobQueueKeys("emails")
    assert keys.for_script("add") == [keys.jobs, keys.wait, keys.prio, keys.delayed, keys.meta, keys.marker,
                                      keys.repeat, keys.repeat_copy, keys.metrics]
    assert keys.for_script("progress") == [keys.active, keys.runs, keys.progress, keys.events]
    assert all("{emails}" in k for s in SCRIPTS for k in keys.for_script(s))
    assert sorted({k for s in SCRIPTS for k in keys.for_script(s)}) == sorted(keys.all())


def test_a_script_that_names_no_keys_is_refused():
    with pytest.raises(ValueError, match="names no KEYS"):
        scripts.key_names("clock")


def test_every_key_a_script_checks_has_the_type_its_declaration_gives_quarantine():
    """The types jq_*.lua check before writing (wrong_type) are the ones JobQueueKeys declares, which
    quarantine moves a key aside by: a script refusing a key quarantine thinks right would spin a worker."""
    declared = JobQueueKeys.types()
    checked = set()
    for script in SCRIPTS:
        pairs = re.findall(r"\[(\w+)\] = '(\w+)'", scripts.source(f"jq_{script}"))
        assert all(declared[LUA_NAMES.get(lua, lua)] == kind for lua, kind in pairs), (script, pairs)
        checked |= {LUA_NAMES.get(lua, lua) for lua, _ in pairs}
    assert checked == set(ALL_KEYS) and set(ALL_KEYS) <= set(declared)


def test_every_key_of_every_queue_kind_has_a_type_for_quarantine():
    """Every key a queue kind deletes on clear()/obliterate() is one quarantine checks, with a type."""
    from labqueue.keys import Keys

    for keys in (Keys("q"), JobQueueKeys("q")):
        typed = {key: kind for _, key, kind in keys.typed()}
        assert set(keys.all()) <= set(typed)
        assert set(typed.values()) <= {"hash", "list", "zset", "string", "stream"}
        assert [name for name, _, _ in keys.typed()][:2] == ["dlq", "dlq_meta"]  # where the others are recorded
