"""Platform code names no dataset, model, entity, view, service or feature (DESIGN §1).

The names are read from where they are declared, never listed here: every object declared in
feature_repo/ (parsed with `ast`, feast is not imported) and the model / dataset folders under
mlops_assets/defs/. Each platform module is then parsed and every string literal (docstrings
aside) is checked: one that equals a declared name, or embeds a declared snake_case name as an
identifier (SQL in a string: `SELECT customer_id ...`), fails with file:line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mlops_assets"
FEATURE_REPO = ROOT / "feature_repo"
PLATFORM_DIRS = ("core", "components", "serving")  # those that exist are scanned
NAME_DIRS = ("defs/models", "defs/datasets")  # one folder per model / dataset

# Platform files still naming a declared object, being reworked in a parallel change. Each is
# expected to fail (strict xfail): once a file is clean its test XPASSes, which fails the run
# until its entry is removed here. The lead empties this list; never add to it.
DATA_LAYER_PENDING: dict[str, str] = {}

# Feast constructors whose `name=` declares an object; entity `join_keys` and the tags that
# name a model, dataset or dbt model are declared names too.
_DECLARING = {
    "Entity",
    "FeatureView",
    "BatchFeatureView",
    "StreamFeatureView",
    "OnDemandFeatureView",
    "on_demand_feature_view",
    "FeatureService",
    "FileSource",
    "PushSource",
    "RequestSource",
    "Field",
}
_NAMING_TAGS = {"model", "dataset", "dbt_model"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _callee(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _strings(node: ast.expr | None) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.List | ast.Tuple):
        for item in node.elts:
            yield from _strings(item)


def feature_repo_names(repo: Path = FEATURE_REPO) -> set[str]:
    """Every name declared in the Feast repo's Python files."""
    names: set[str] = set()
    for path in sorted(repo.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef) and any(  # @on_demand_feature_view def <name>
                _callee(d) == "on_demand_feature_view" for d in node.decorator_list
            ):
                names.add(node.name)
            if not isinstance(node, ast.Call) or _callee(node) not in _DECLARING:
                continue
            for kw in node.keywords:
                if kw.arg in ("name", "join_keys"):
                    names.update(_strings(kw.value))
                elif kw.arg == "tags" and isinstance(kw.value, ast.Dict):
                    for key, value in zip(kw.value.keys, kw.value.values, strict=True):
                        if next(_strings(key), None) in _NAMING_TAGS:
                            names.update(_strings(value))
    return names


def folder_names(package: Path = PACKAGE) -> set[str]:
    """Model and dataset names: the folders under mlops_assets/defs/{models,datasets}."""
    return {
        p.name
        for d in NAME_DIRS
        if (package / d).is_dir()
        for p in (package / d).iterdir()
        if p.is_dir() and not p.name.startswith(("_", "."))
    }


def declared_names() -> set[str]:
    return feature_repo_names() | folder_names()


def _docstrings(tree: ast.Module) -> set[int]:
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, owners)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
        and isinstance(node.body[0].value.value, str)
    }


def named_literals(source: str, names: set[str], filename: str = "<src>") -> list[str]:
    """`line: 'literal' -> name` for each string literal that equals or embeds a name."""
    tree = ast.parse(source, filename)
    skip = _docstrings(tree)
    embedded = {n for n in names if "_" in n}  # snake_case: never an English word in a message
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in skip:
            continue
        text = node.value
        found = {text} & names or set(_IDENT.findall(text)) & embedded
        if found:
            shown = text if len(text) <= 60 else text[:57] + "..."
            hits.append(f"{node.lineno}: {shown!r} -> {', '.join(sorted(found))}")
    return hits


def platform_files() -> list[Path]:
    return sorted(
        p
        for d in PLATFORM_DIRS
        if (PACKAGE / d).is_dir()
        for p in (PACKAGE / d).rglob("*.py")
        if "__pycache__" not in p.parts
    )


def _param(path: Path):
    rel = path.relative_to(ROOT).as_posix()
    if rel in DATA_LAYER_PENDING:
        why = f"allow-listed until the data-layer change: {DATA_LAYER_PENDING[rel]}"
        return pytest.param(path, id=rel, marks=pytest.mark.xfail(strict=True, reason=why))
    return pytest.param(path, id=rel)


@pytest.mark.parametrize("path", [_param(p) for p in platform_files()])
def test_platform_code_names_nothing_declared(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    hits = named_literals(path.read_text(), declared_names(), rel)
    assert not hits, (
        "platform code names dataset/model/feature objects (pass them from YAML or read them "
        "from the registry):\n" + "\n".join(f"{rel}:{h}" for h in hits)
    )


def test_allow_list_only_holds_existing_platform_files() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in platform_files()}
    stale = sorted(set(DATA_LAYER_PENDING) - files)
    assert not stale, f"moved or deleted: remove from DATA_LAYER_PENDING: {stale}"


def test_names_are_read_from_their_declarations() -> None:
    """The scanner's own inputs: a parser regression must not make the check pass vacuously."""
    repo = feature_repo_names()
    # at least one of each kind the repo declares: entity, join key, view, ODFV, service, field
    from_repo = ast.parse((FEATURE_REPO / "feature_services.py").read_text())
    services = {
        kw.value.value
        for node in ast.walk(from_repo)
        if isinstance(node, ast.Call) and _callee(node) == "FeatureService"
        for kw in node.keywords
        if kw.arg == "name" and isinstance(kw.value, ast.Constant)
    }
    assert services and services <= repo
    assert len(repo) > 20  # entities, keys, views, services, sources and every field
    folders = folder_names()
    assert folders, "no model folder under mlops_assets/defs/models"
    assert all((PACKAGE / "defs/models" / n).is_dir() or (PACKAGE / "defs/datasets" / n).is_dir()
               for n in folders)  # fmt: skip


def test_the_scanner_flags_literals_and_skips_docstrings() -> None:
    source = '''"""Module doc naming thing_one."""
def f():
    """Function doc: thing_one."""
    x = "thing_one"  # flagged (line 4)
    y = "SELECT thing_one FROM t"  # flagged: embedded snake_case name (line 5)
    z = "thingy"  # not a name
    w = "a widget"  # a plain word embedded in prose is fine
    return f"{x}-widget"  # an f-string part equal to a name is flagged (line 8)
'''
    hits = named_literals(source, {"thing_one", "widget", "-widget"})
    assert [h.split(":")[0] for h in hits] == ["4", "5", "8"]
