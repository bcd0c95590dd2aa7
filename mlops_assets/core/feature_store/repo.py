"""Apply: load the Feast repo's objects like `feast apply` does and register them."""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_assets.core.feature_store.config import (
    HOME_PATH_TAG,
    REPO_PATH,
    checked_home,
    store_home,
)
from mlops_assets.core.feature_store.feast_import import import_feast
from mlops_assets.core.feature_store.online import forget_service_refs

if TYPE_CHECKING:
    from feast import FeatureStore
    from feast.repo_contents import RepoContents

_IMPORT_LOCK = threading.Lock()


@contextmanager
def _repo_on_path(repo_path: Path) -> Iterator[None]:
    # Repo modules import each other by top-level name (`from entities import user`), the
    # way `feast apply` runs them with the repo as working directory.
    with _IMPORT_LOCK:
        sys.path.insert(0, str(repo_path))
        try:
            yield
        finally:
            sys.path.remove(str(repo_path))


def load_repo(repo_path: Path | str = REPO_PATH) -> RepoContents:
    """Import the repo's definition files and collect their objects, like `feast apply`.

    Uses Feast's own file selection (every *.py except __init__.py and .feastignore matches), but
    not `feast.repo_operations.parse_repo`, which needs the process to `chdir` into the repo:
    we must not change a shared process's working directory. Module names are the same as under
    `feast apply` (path relative to the repo), so `from entities import user` inside the repo
    resolves to the very objects collected here.
    """
    import_feast()
    from feast import Entity, FeatureService, FeatureView, Project
    from feast.data_source import DataSource
    from feast.feature_view import DUMMY_ENTITY
    from feast.on_demand_feature_view import OnDemandFeatureView
    from feast.repo_contents import RepoContents
    from feast.repo_operations import get_repo_files

    repo_path = Path(repo_path).resolve()
    if not (repo_path / "feature_store.yaml").is_file():
        raise FileNotFoundError(f"{repo_path} is not a Feast repo (no feature_store.yaml)")
    found: dict[type, list[Any]] = {
        t: [] for t in (Project, DataSource, Entity, FeatureView, OnDemandFeatureView)
    }
    found[FeatureService] = []
    with _repo_on_path(repo_path):
        for file in get_repo_files(repo_path):
            name = ".".join(file.relative_to(repo_path).with_suffix("").parts)
            module = importlib.import_module(name)
            for obj in vars(module).values():
                for kind, objects in found.items():
                    if isinstance(obj, kind) and not any(obj is o for o in objects):
                        objects.append(obj)
    views = found[FeatureView]
    sources = list(found[DataSource])
    for view in views:
        if view.batch_source is not None and not any(view.batch_source is s for s in sources):
            sources.append(view.batch_source)
    return RepoContents(
        projects=found[Project],
        data_sources=sources,
        feature_views=views,
        on_demand_feature_views=found[OnDemandFeatureView],
        stream_feature_views=[],
        label_views=[],
        entities=[*found[Entity], DUMMY_ENTITY],
        feature_services=found[FeatureService],
        permissions=[],
    )


def _repointed(repo: RepoContents, home: Path) -> RepoContents:
    """A copy of the repo objects whose file sources point below `home`.

    The repo's data_sources.py reads MLOPS_HOME at import because the Feast CLI needs an absolute
    path; a process serving several homes (tests) or a cached module must not depend on that.
    One deepcopy keeps the links between objects (a view and its source stay one object).
    """
    import copy

    from feast import FileSource

    repo = copy.deepcopy(repo)
    for source in repo.data_sources:
        rel = source.tags.get(HOME_PATH_TAG) if isinstance(source, FileSource) else None
        if rel:
            source.file_options.uri = str(home / rel)
    return repo


def apply_repo(
    store: FeatureStore, repo_path: Path | str | None = None, *, home: Path | str | None = None
) -> dict[str, Any]:
    """Register the repo's objects, exactly what `feast apply` would, and return a summary.

    Same diff as the CLI (`extract_objects_for_apply_delete`: objects removed from the repo are
    deleted from the registry), applied with `FeatureStore.apply(partial=False)`, which also
    creates the online tables. File sources are re-pointed at `home` (default: the store's).
    """
    from feast.diff.property_diff import TransitionType
    from feast.repo_operations import extract_objects_for_apply_delete

    repo_path = Path(repo_path or store.repo_path)
    home = store_home(store) if home is None else checked_home(home)
    repo = _repointed(load_repo(repo_path), home)
    for project in repo.projects:
        if project.name != store.project:
            raise ValueError(f"repo project {project.name!r} != config project {store.project!r}")
    with warnings.catch_warnings():  # Feast warns on every apply that ODFVs are experimental
        warnings.filterwarnings("ignore", "On demand feature view is an experimental feature")
        diff, _, _ = store.plan(repo)  # the diff `feast apply` prints (after Feast's inference)
        to_apply, to_delete, _, _ = extract_objects_for_apply_delete(
            store.project, store.registry, repo
        )
        store.apply(list(to_apply), objects_to_delete=to_delete, partial=False)
    forget_service_refs(store)
    changes: dict[str, list[str]] = {"create": [], "update": [], "delete": []}
    for change in diff.feast_object_diffs:
        kind = change.transition_type
        if kind in (TransitionType.CREATE, TransitionType.UPDATE, TransitionType.DELETE):
            changes[kind.name.lower()].append(f"{change.feast_object_type.value}:{change.name}")
    return {**registry_summary(store), "changes": changes}


def registry_summary(store: FeatureStore) -> dict[str, Any]:
    """What the registry holds: views and their features, services and their feature refs."""
    views = {fv.name: [f.name for f in fv.features] for fv in store.list_feature_views()}
    odfvs = {v.name: [f.name for f in v.features] for v in store.list_on_demand_feature_views()}
    services = {
        s.name: [
            f"{p.name_to_use()}:{f.name}" for p in s.feature_view_projections for f in p.features
        ]
        for s in store.list_feature_services()
    }
    return {
        "project": store.project,
        "entities": sorted(e.name for e in store.list_entities()),
        "feature_views": views,
        "on_demand_feature_views": odfvs,
        "feature_services": services,
        "n_features": sum(map(len, views.values())) + sum(map(len, odfvs.values())),
        "sources": {
            fv.name: fv.batch_source.path
            for fv in store.list_feature_views()
            if hasattr(fv.batch_source, "path")
        },
    }
