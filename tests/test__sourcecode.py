"""Checks over the source code itself, run inside the suite so that `make test` alone
catches them (asyncpg runs its linters the same way): ruff with the project's rules, and
the vocabulary scan.

The vocabulary scan: a NATS subject, a JetStream or KV prefix, a header name or a KV key
prefix is written in the one module that owns it and named everywhere else, so that a
rename is one edit and a reader finds every name in one place.
"""
import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from chargebus.stores import ACTIVE_PREFIX, CLAIM_PREFIX, TRANSACTION_PREFIX

ROOT = Path(__file__).resolve().parent.parent
# The compiled core's generated modules hold no vocabulary and are rewritten by generators.
GENERATED = re.compile(r"^(schemas|scanners)_")

SUBJECTS_OWNER = "src/chargebus/subjects.py"
HEADERS_OWNER = "src/chargebus/events.py"
KEYS_OWNER = "src/chargebus/stores.py"

# A subject of ours (cb.<word>.), the JetStream API and acknowledgements, KV subjects and
# the streams behind buckets, and inboxes.
SUBJECT = re.compile(r"\bcb\.\w+\.|\$JS\b|\$KV\b|\bKV_|_INBOX\b")
HEADER = re.compile(r"^(Chargebus|Nats)-")
KEY_PREFIXES = frozenset({ACTIVE_PREFIX, CLAIM_PREFIX, TRANSACTION_PREFIX})
# The store methods that take a key's parts, and the keyword that takes a key prefix.
KEY_METHODS = frozenset({"get", "get_with_revision", "put", "create", "modify", "delete"})


class Leak(NamedTuple):
    path: str
    line: int
    text: str
    owner: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r} belongs in {self.owner}"


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string statements (docstrings, and prose set down as a statement)."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)}


def _rendered(node: ast.JoinedStr) -> str:
    """An f-string with each placeholder as a word, so that f"cb.{x}.y" reads as a subject."""
    return "".join(part.value if isinstance(part, ast.Constant) else "x"
                   for part in node.values)


def _key_parts(tree: ast.AST) -> Iterator[ast.Constant]:
    """The string constants written where a KV key or key prefix goes: a key tuple, a
    store method's positional parts, a prefix= keyword."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple):
            yield from (e for e in node.elts if isinstance(e, ast.Constant))
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in KEY_METHODS:
                yield from (a for a in node.args if isinstance(a, ast.Constant))
            yield from (k.value for k in node.keywords
                        if k.arg == "prefix" and isinstance(k.value, ast.Constant))


def scan(source: str, path: str) -> list[Leak]:
    """The vocabulary written in ``source`` (the file at ``path``, relative to the
    repository) outside the module that owns it."""
    tree = ast.parse(source, path)
    prose = _docstrings(tree)
    inside_fstring = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                      for part in node.values}
    leaks = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = _rendered(node)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in prose and id(node) not in inside_fstring):
            text = node.value
        else:
            continue
        if SUBJECT.search(text) and path != SUBJECTS_OWNER:
            leaks.append(Leak(path, node.lineno, text, SUBJECTS_OWNER))
        if HEADER.match(text) and path != HEADERS_OWNER:
            leaks.append(Leak(path, node.lineno, text, HEADERS_OWNER))
    if path != KEYS_OWNER:
        leaks.extend(Leak(path, node.lineno, node.value, KEYS_OWNER)
                     for node in _key_parts(tree) if node.value in KEY_PREFIXES)
    return sorted(leaks)


def sources() -> list[Path]:
    found = [*(path for path in (ROOT / "src").rglob("*.py")
               if not GENERATED.match(path.name)),
             *(ROOT / "services").rglob("*.py"), *(ROOT / "codegen").rglob("*.py")]
    return sorted(found)


# What `make lint` checks (the Makefile's LINTED).
LINTED = ("src", "services", "codegen", "tests", "benchmarks", "scripts")


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).with_name("ruff")
    checked = subprocess.run([str(ruff), "check", "--no-cache", *LINTED], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_scan_covers_the_sources():
    names = {path.relative_to(ROOT).as_posix() for path in sources()}
    assert {SUBJECTS_OWNER, HEADERS_OWNER, KEYS_OWNER, "services/edge/outbound.py",
            "src/chargebus_core/frame.py", "codegen/scanners.py"} <= names
    assert not any(GENERATED.match(Path(name).name) for name in names)


def test_the_vocabulary_is_written_only_where_it_is_owned():
    leaks = [leak for path in sources()
             for leak in scan(path.read_text(), path.relative_to(ROOT).as_posix())]
    assert not leaks, "\n".join(map(str, leaks))


def test_the_scan_catches_a_planted_leak():
    planted = '''"""Prose may say cb.sys.ready.<service> and Chargebus-Station."""
SUBJECT = "cb.sys.ready.edge"
def f(service, js, store):
    """A docstring naming $JS.ACK is prose."""
    js.subscribe(f"cb.{service}.calls")
    headers = {"Chargebus-Station": "CP1", "Nats-Msg-Id": "x"}
    ack = reply.startswith("$JS.ACK.")
    js.stream_info("KV_" + "tokens")
    inbox = f"_INBOX.{service}"
    key = ("active", "token")
    rows = store.all(prefix="tx")
    row = store.get("claim", "CP1", "7")
    return "$KV.tokens.>"
'''
    leaks = scan(planted, "services/planted.py")
    assert [(leak.line, leak.owner) for leak in leaks] == [
        (2, SUBJECTS_OWNER), (5, SUBJECTS_OWNER), (6, HEADERS_OWNER), (6, HEADERS_OWNER),
        (7, SUBJECTS_OWNER), (8, SUBJECTS_OWNER), (9, SUBJECTS_OWNER), (10, KEYS_OWNER),
        (11, KEYS_OWNER), (12, KEYS_OWNER), (13, SUBJECTS_OWNER)]
    assert str(leaks[0]) == ("services/planted.py:2: 'cb.sys.ready.edge' belongs in "
                             f"{SUBJECTS_OWNER}")


def test_the_owners_may_write_their_vocabulary():
    assert scan('SUBJECT = "cb.sys.ready.edge"', SUBJECTS_OWNER) == []
    assert scan('STATION = "Chargebus-Station"', HEADERS_OWNER) == []
    assert scan('KEY = ("active", "token")', KEYS_OWNER) == []
    # A word that is also a key prefix, not written where a key goes, is no key.
    assert scan('CLAIM = "claim"', "src/chargebus/model.py") == []
