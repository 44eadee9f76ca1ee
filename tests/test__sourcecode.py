"""Checks over the source code itself, run inside the suite so that `make test` alone
catches them (asyncpg runs its linters the same way): ruff with the project's rules, mypy
with its settings, and the vocabulary scan.

The vocabulary scan: a NATS subject, a JetStream or KV prefix, a header name or a KV key
prefix is written in the one module that owns it and named everywhere else, so that a
rename is one edit and a reader finds every name in one place.

The seam scan: nats-py's private names (what its own sources define with one leading
underscore) and picows' unexported protocol and parser are touched in one module each,
chargebus/bus/_natspy.py and chargebus/services/edge/_picows.py, which pyproject.toml's
upper bounds and their contract tests (test_bus.py, test_picows.py) guard; an upgrade
that changes them then breaks one module and its test, not code anywhere. seam_touches
says what it counts as a touch.
"""
import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from chargebus.state.stores import (ACTIVE_PREFIX, CLAIM_PREFIX, COMPONENT_PREFIX,
                                    REMOTE_START_PREFIX, REPORT_PREFIX, TRANSACTION_PREFIX)

ROOT = Path(__file__).resolve().parent.parent
# The compiled core's generated modules hold no vocabulary and are rewritten by generators.
GENERATED = re.compile(r"^(schemas|scanners)_")

SUBJECTS_OWNER = "src/chargebus/bus/subjects.py"
HEADERS_OWNER = "src/chargebus/bus/events.py"
KEYS_OWNER = "src/chargebus/state/stores.py"

# A subject of ours (cb.<word>.), the JetStream API and acknowledgements, KV subjects and
# the streams behind buckets, and inboxes.
SUBJECT = re.compile(r"\bcb\.\w+\.|\$JS\b|\$KV\b|\bKV_|_INBOX\b")
HEADER = re.compile(r"^(Chargebus|Nats)-")
KEY_PREFIXES = frozenset({ACTIVE_PREFIX, CLAIM_PREFIX, COMPONENT_PREFIX, REMOTE_START_PREFIX,
                          REPORT_PREFIX, TRANSACTION_PREFIX})
# The store methods that take a key's parts, and the keyword that takes a key prefix.
KEY_METHODS = frozenset({"get", "get_with_revision", "put", "create", "modify", "delete",
                         "all"})


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
             *(ROOT / "codegen").rglob("*.py")]
    return sorted(found)


# What `make lint` checks (the Makefile's LINTED).
LINTED = ("src", "codegen", "tests", "benchmarks", "scripts")
MYPY = Path(sys.executable).with_name("mypy")


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).with_name("ruff")
    checked = subprocess.run([str(ruff), "check", "--no-cache", *LINTED], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_mypy_finds_nothing():
    # The files and settings are pyproject.toml's [tool.mypy], as `make lint` runs it.
    # Incremental: a run after the first reads its cache and checks only what changed.
    checked = subprocess.run([str(MYPY)], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_mypy_settings_refuse_a_planted_module(tmp_path):
    """Each setting that goes beyond mypy's defaults finds its own planted error."""
    (tmp_path / "planted.py").write_text(
        "def double(x):  # disallow_untyped_defs\n"
        "    return '2' + 2  # check_untyped_defs: the body is checked all the same\n"
        "\n"
        "\n"
        "TIMES: int = 2  # type: ignore[assignment]  # warn_unused_ignores\n"
        "NAME: str = 2  # type: ignore  # enable_error_code ignore-without-code\n")
    checked = subprocess.run([str(MYPY), "--config-file", str(ROOT / "pyproject.toml"),
                              "planted.py"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    found = {line.rsplit("[", 1)[-1].rstrip("]") for line in checked.stdout.splitlines()
             if line.startswith("planted.py:") and ": error: " in line}
    assert found == {"no-untyped-def", "operator", "unused-ignore", "ignore-without-code"}, \
        checked.stdout


def test_the_scan_covers_the_sources():
    names = {path.relative_to(ROOT).as_posix() for path in sources()}
    assert {SUBJECTS_OWNER, HEADERS_OWNER, KEYS_OWNER, "src/chargebus/services/edge/outbound.py",
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
    rows = store.all("remote", "CP1")
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
    assert scan('CLAIM = "claim"', "src/chargebus/domain/model.py") == []


# The seams: the one module that may reach past each package's public API. The
# compiled picows.picows holds WSProtocol and the request parser, which picows does not
# export; everything it does export is importable from picows itself.
NATSPY_SEAM = "src/chargebus/bus/_natspy.py"
PICOWS_SEAM = "src/chargebus/services/edge/_picows.py"
SEAMS = {"nats": NATSPY_SEAM, "picows": PICOWS_SEAM}
PRIVATE_MODULES = {"picows.picows"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def natspy_private_names() -> frozenset[str]:
    """The private names nats-py defines (functions, methods, classes, attributes and
    globals beginning with one underscore), read from its installed sources."""
    import nats
    names = set()
    for path in Path(nats.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return frozenset(filter(_private, names))


def module_name(path: str) -> str:
    return path.removeprefix("src/").removesuffix(".py").removesuffix("/__init__").replace(
        "/", ".")


def _imports(tree: ast.AST, module: str) -> dict[str, tuple[str, str]]:
    """Each name a module imports, as (module, name); a module imported whole as (it, "")."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0], "")
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(module.split(".")[:-node.level]) if node.level else ""
            source = ".".join(filter(None, [base, node.module or ""]))
            for alias in node.names:
                names[alias.asname or alias.name] = (source, alias.name)
    return names


def _base_name(base: ast.expr) -> str | None:
    """The name a class base starts with: ``Client``, ``aio`` of ``aio.Client``, ``Seam``
    of ``Seam[Msg]``."""
    while isinstance(base, (ast.Subscript, ast.Attribute)):
        base = base.value
    return base.id if isinstance(base, ast.Name) else None


def natspy_classes(trees: dict[str, ast.AST]) -> set[tuple[str, str]]:
    """(module, class) of every class in ``trees`` (path: parsed source) that derives from
    a nats-py class, directly or through others of ours."""
    found: set[tuple[str, str]] = set()
    while True:
        before = len(found)
        for path, tree in trees.items():
            module = module_name(path)
            imported = _imports(tree, module)
            for node in ast.walk(tree):
                if not isinstance(node, ast.ClassDef):
                    continue
                for base in filter(None, map(_base_name, node.bases)):
                    origin = imported.get(base, (module, base))
                    if origin[0].split(".")[0] == "nats" or origin in found:
                        found.add((module, node.name))
        if len(found) == before:
            return found


def seam_touches(tree: ast.AST, path: str, nats_private: frozenset[str],
                 nats_classes: set[tuple[str, str]]) -> list[Leak]:
    """Where a module other than a seam reaches past nats-py's or picows' public API:
    - an import of a private module (picows.picows) or of a private name or module
      (one leading underscore) of either package;
    - in a class deriving from a nats-py class (through the seam's or not), any
      single-underscore class attribute, method or attribute of self: it reads,
      overrides or could collide with nats-py's own, since the instance is nats-py's;
    - in a module that imports nats-py or chargebus.bus (and so can hold its objects),
      ``x._name`` where ``_name`` is a private name of nats-py and ``x`` is not self."""
    module = module_name(path)
    imported = _imports(tree, module)
    leaks = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                source, name = (alias.name, "") if isinstance(node, ast.Import) else (
                    imported[alias.asname or alias.name][0], alias.name)
                package = source.split(".")[0]
                if package in SEAMS and SEAMS[package] != path and (
                        source in PRIVATE_MODULES or _private(name)
                        or any(map(_private, source.split(".")))):
                    leaks.append(Leak(path, node.lineno, f"{source} {name}".strip(),
                                      SEAMS[package]))
    if path == NATSPY_SEAM:
        return leaks
    holds_nats = any(source.split(".")[0] == "nats" or source.startswith("chargebus.bus")
                     for source, _ in imported.values())
    in_nats_class = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and (module, node.name) in nats_classes:
            for statement in node.body:
                targets = (statement.targets if isinstance(statement, ast.Assign)
                           else [statement.target] if isinstance(statement, ast.AnnAssign)
                           else [])
                leaks.extend(Leak(path, target.lineno, target.id, NATSPY_SEAM)
                             for target in targets
                             if isinstance(target, ast.Name) and _private(target.id))
            for inner in ast.walk(node):
                in_nats_class.add(id(inner))
                if (isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef))
                        and _private(inner.name)):
                    leaks.append(Leak(path, inner.lineno, f"def {inner.name}", NATSPY_SEAM))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _private(node.attr):
            continue
        on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
        if (on_self and id(node) in in_nats_class) or (
                not on_self and holds_nats and node.attr in nats_private):
            leaks.append(Leak(path, node.lineno, ast.unparse(node), NATSPY_SEAM))
    return sorted(leaks)


def _all_touches() -> list[Leak]:
    trees = {path.relative_to(ROOT).as_posix(): ast.parse(path.read_text())
             for path in sources()}
    nats_private, nats_classes = natspy_private_names(), natspy_classes(trees)
    return [leak for path, tree in trees.items()
            for leak in seam_touches(tree, path, nats_private, nats_classes)]


def test_only_the_seams_reach_past_nats_py_and_picows():
    touches = _all_touches()
    assert not touches, "\n".join(map(str, touches))


def test_the_seams_are_where_the_internals_are_touched():
    """The scan sees the internals the seams use (so an empty finding elsewhere means
    something): nats-py's private methods and attributes, picows' private parser."""
    trees = {path: ast.parse((ROOT / path).read_text()) for path in SEAMS.values()}
    touched = {leak.text for path, tree in trees.items()
               for leak in seam_touches(tree, "src/elsewhere.py", natspy_private_names(),
                                        natspy_classes({"src/elsewhere.py": tree}))}
    assert {"_parse_header_lines", "def _process_msg", "def _request_new_style",
            "self._send_command", "self._process_headers",
            "subscription._pending_queue", "subscription._id", "picows.picows WSProtocol",
            "picows.picows _parse_http_request"} <= touched


def test_the_seam_scan_catches_planted_touches():
    planted = '''import nats
from nats.aio.client import Client, _CRLF_
from nats.aio import _private_module
from picows.picows import WSProtocol
from picows import WSListener
from chargebus.bus.client import BusClient

class Mine(Client):
    _parse_header_lines = staticmethod(len)
    def _process_msg(self, sid):
        self._direct = {}

class Further(BusClient):
    def ack(self):
        return self._pending_data_size

class Unrelated:
    def f(self, nc, sub):
        self._subs = nc._subs
        return sub._pending_queue, nc.flush(), self._private_of_ours
'''
    trees = {path: ast.parse((ROOT / path).read_text())
             for path in ("src/chargebus/bus/client.py", NATSPY_SEAM)}
    trees["src/chargebus/planted.py"] = ast.parse(planted)
    leaks = seam_touches(trees["src/chargebus/planted.py"], "src/chargebus/planted.py",
                         natspy_private_names(), natspy_classes(trees))
    assert [(leak.line, leak.text, leak.owner) for leak in leaks] == [
        (2, "nats.aio.client _CRLF_", NATSPY_SEAM),
        (3, "nats.aio _private_module", NATSPY_SEAM),
        (4, "picows.picows WSProtocol", PICOWS_SEAM),
        (9, "_parse_header_lines", NATSPY_SEAM),
        (10, "def _process_msg", NATSPY_SEAM),
        (11, "self._direct", NATSPY_SEAM),
        (15, "self._pending_data_size", NATSPY_SEAM),
        (19, "nc._subs", NATSPY_SEAM),
        (20, "sub._pending_queue", NATSPY_SEAM)]


# The layers, as the README's Layout says them: the tools and the services over the
# library, the library over the compiled core. A module in a layer imports only from
# its own layer or those below it; a service imports no other service.
TOOLS = ("chargebus.cli", "chargebus.simulate", "chargebus.__main__")
SERVICES = "chargebus.services"


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT / "src").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _service_of(module: str) -> str | None:
    if not _within(module, SERVICES) or module == SERVICES:
        return None
    return ".".join(module.split(".")[:3])


def layer_breaches(module: str, tree: ast.AST) -> list[str]:
    """The imports of ``module`` that go up a layer or across to another service."""
    breaches = []
    for line, imported in _imported(tree):
        if not _within(imported, "chargebus"):
            continue
        is_tool = any(_within(imported, tool) for tool in TOOLS)
        service = _service_of(imported)
        if _within(module, "chargebus_core"):
            breach = True
        elif any(_within(module, tool) for tool in TOOLS):
            breach = False
        elif _service_of(module) is not None:
            breach = is_tool or (service is not None and service != _service_of(module))
        else:  # the library
            breach = is_tool or service is not None
        if breach:
            breaches.append(f"{module}:{line} imports {imported}")
    return breaches


def test_imports_go_down_the_layers():
    breaches = [breach for path in sources() if path.is_relative_to(ROOT / "src")
                for breach in layer_breaches(_module_of(path), ast.parse(path.read_text()))]
    assert not breaches, "\n".join(breaches)


def test_the_layer_scan_catches_planted_breaches():
    planted = ast.parse("import chargebus.cli\n"
                        "from chargebus.services.edge.routing import route_of\n"
                        "from chargebus.services.sink import main\n"
                        "from chargebus.bus import subjects\n"
                        "from chargebus_core import frame\n"
                        "import orjson\n")
    assert layer_breaches("chargebus.state.stores", planted) == [
        "chargebus.state.stores:1 imports chargebus.cli",
        "chargebus.state.stores:2 imports chargebus.services.edge.routing",
        "chargebus.state.stores:3 imports chargebus.services.sink"]
    assert layer_breaches("chargebus.services.edge.server", planted) == [
        "chargebus.services.edge.server:1 imports chargebus.cli",
        "chargebus.services.edge.server:3 imports chargebus.services.sink"]
    assert layer_breaches("chargebus.cli.stations", planted) == []
    assert layer_breaches("chargebus_core.frame_py", planted) == [
        f"chargebus_core.frame_py:{line} imports {name}" for line, name in (
            (1, "chargebus.cli"), (2, "chargebus.services.edge.routing"),
            (3, "chargebus.services.sink"), (4, "chargebus.bus"))]
