"""The schema of a dataset's YAML (`defs/datasets/<dataset>/defs.yaml`, `attributes:`).

A dataset is what lands in the landing zone and what the data layer makes of it: its landing
contract (sources, columns, keys, references), its first daily partition, the dbt models built
from it, the feature marts they end in and the Feast views served online from them. A wrong
file fails when the code location loads, naming the file, the field and what is allowed
(Dagster adds `file:line` to pydantic's message); the contract's cross-field rules (keys and
event times name columns, references name another source's key, …) are `core.schemas`', the
same rules the dataset's adapter meets when it loads the contract to write the landing zone.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, field_validator, model_validator

from mlops_assets.core import ingest, schemas

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"  # a key prefix, a group / job / sensor prefix
IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
DATASET_TAG = "mlops/dataset"
STAGE_TAG = "mlops/stage"  # shared with the model layer's stages
DATA_STAGE, ONLINE_STAGE = "data", "online"


class ColumnSpec(dg.Model):
    """One column of a landing file (see `core.schemas.Column`)."""

    name: str = Field(pattern=schemas.COLUMN_PATTERN)
    type: schemas.ColumnType = Field(
        description="string | int | float | decimal | date | timestamp"
    )
    nullable: bool = False
    min: float | None = Field(None, description="Lowest allowed value (numeric types).")
    max: float | None = Field(None, description="Highest allowed value (numeric types).")
    allowed: list[str] | None = Field(None, description="Allowed values (string columns).")
    description: str = ""
    scale: int = Field(2, ge=0, le=18, description="Decimal places of a decimal column.")


class SourceSpec(dg.Model):
    """One landing source: `landing/<YYYY-MM-DD>/<name>.csv` with exactly `columns`."""

    name: str = Field(pattern=schemas.NAME_PATTERN, description="File, raw table and asset name.")
    description: str = ""
    columns: list[ColumnSpec] = Field(min_length=1)
    key: list[str] = Field(min_length=1, description="Columns that identify a row (unique).")
    event_time: str | None = Field(None, description="A date or timestamp column.")
    event_time_in_partition: bool = Field(
        False, description="The event time must fall on the partition's day."
    )
    required: bool = Field(True, description="A day without this file is an error.")
    references: dict[str, str] = Field(
        default_factory=dict,
        description="column: source — the column names a key of that source (orphan check).",
    )


class PartitionsSpec(dg.Model):
    start_date: dt.date = Field(description="First daily partition of the dataset's assets.")


class DbtSpec(dg.Model):
    """Which dbt models belong to the dataset (dbt selection syntax, e.g. `path:models/x`)."""

    select: str = Field(min_length=1)
    exclude: str | None = None


class FeatureMartSpec(dg.Model):
    """A dbt mart of features (one row per entity per day): its completeness is checked."""

    dbt_model: str = Field(pattern=IDENT_PATTERN)
    date_column: str = Field("feature_date", pattern=IDENT_PATTERN)
    id_columns: list[str] = Field(
        default_factory=list, description="Columns that are not features (keys, timestamps)."
    )


class FeaturesSpec(dg.Model):
    online_views: list[str] = Field(
        default_factory=list,
        description="Feast feature views loaded into the online store by this dataset's "
        "`online_features` asset (declared in feature_repo/ with online=True).",
    )
    marts: list[FeatureMartSpec] = Field(default_factory=list)


class SchedulesSpec(dg.Model):
    daily_hour: int = Field(2, ge=0, le=23, description="Daily job fallback: yesterday, at H.")


class DatasetSpec(dg.Model):
    """One dataset, declared: everything the component needs to build its data layer."""

    name: str = Field(pattern=NAME_PATTERN, description="Key / group / job prefix.")
    description: str = Field(min_length=1)
    owners: list[str] = Field(default_factory=lambda: ["team:data-platform"], min_length=1)
    partitions: PartitionsSpec
    sources: list[SourceSpec] = Field(min_length=1)
    dbt: DbtSpec | None = None
    features: FeaturesSpec = FeaturesSpec()
    schedules: SchedulesSpec = SchedulesSpec()

    @field_validator("owners")
    @classmethod
    def _owners(cls, value: list[str]) -> list[str]:
        bad = [o for o in value if not (o.startswith("team:") or "@" in o)]
        if bad:
            raise ValueError(f"owners must be 'team:<name>' or an e-mail address, got {bad}")
        return value

    @model_validator(mode="after")
    def _contract_holds(self) -> DatasetSpec:
        self.parse_contract()  # raises ContractError (a ValueError) naming the field
        if self.features.online_views and self.dbt is None:
            raise ValueError("features.online_views: a dataset serves features only from dbt")
        return self

    def parse_contract(self) -> schemas.DatasetContract:
        docs = [s.model_dump(exclude_unset=True) for s in self.sources]
        return schemas.DatasetContract(
            name=self.name,
            start_date=self.partitions.start_date,
            sources=schemas.parse_sources(docs, "sources"),
        )

    @property
    def contract(self) -> schemas.DatasetContract:
        return self.parse_contract()

    @property
    def keys(self) -> DatasetKeys:
        return DatasetKeys(self.name)

    def landed_days(self, landing_dir: Path) -> list[dt.date]:
        """The days this dataset has landed (its required files present)."""
        return ingest.landed_days(landing_dir, self.contract.sources)


class DatasetKeys:
    """Asset keys, groups and job / sensor names of one dataset. Raw assets keep the source's
    name (`raw_<source>`: source names are unique across datasets); what is the dataset's as a
    whole is prefixed by it."""

    def __init__(self, dataset: str):
        self.dataset = dataset

    @staticmethod
    def landing(source: str) -> dg.AssetKey:
        return dg.AssetKey(f"landing_{source}")

    @staticmethod
    def raw(source: str) -> dg.AssetKey:
        return dg.AssetKey(f"raw_{source}")

    @property
    def online_features(self) -> dg.AssetKey:
        return dg.AssetKey([self.dataset, "online_features"])

    def group(self, area: str) -> str:
        return f"{self.dataset}_{area}"

    def name(self, what: str) -> str:
        return f"{self.dataset}_{what}"

    def tags(self, stage: str | None = None) -> dict[str, str]:
        return {DATASET_TAG: self.dataset, **({STAGE_TAG: stage} if stage else {})}

    def selection(self, stage: str) -> str:
        """The asset-selection string of the dataset's assets of one stage."""
        return f"tag:{DATASET_TAG}={self.dataset} and tag:{STAGE_TAG}={stage}"


# --------------------------------------------------------------------------------------------
# beyond the YAML at load: a static scan of feature_repo/ (nothing imported, no registry read)


class DatasetSpecError(ValueError):
    """A dataset YAML that parses but cannot work (the message names the file and the field)."""


def declared_feature_views(repo: Path) -> dict[str, bool | None]:
    """`FeatureView(name=..., online=...)` objects declared in a Feast repo's Python files:
    name → online flag (None when not a literal), found by parsing them."""
    views: dict[str, bool | None] = {}
    for path in sorted(Path(repo).glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "FeatureView" not in text:
            continue
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called != "FeatureView":
                continue
            kw = {k.arg: k.value for k in node.keywords}
            name = kw.get("name")
            if not isinstance(name, ast.Constant):
                continue
            online = kw.get("online")
            if online is None:
                views[str(name.value)] = True  # Feast's default
            elif isinstance(online, ast.Constant):
                views[str(name.value)] = bool(online.value)
            else:
                views[str(name.value)] = None
    return views


def check_online_views(spec: DatasetSpec, repo: Path, source: str) -> None:
    """Every online view is declared in the Feast repo, and not as offline-only."""
    wanted = spec.features.online_views
    if not wanted:
        return
    if not Path(repo).is_dir():
        raise DatasetSpecError(
            f"{source}: attributes.features.online_views: the Feast repo {repo} does not exist"
        )
    declared = declared_feature_views(repo)
    for i, view in enumerate(wanted):
        where = f"{source}: attributes.features.online_views.{i}"
        if view not in declared:
            raise DatasetSpecError(
                f"{where}: feature view {view!r} is not declared in {repo}; available: "
                f"{', '.join(sorted(declared)) or 'none'}"
            )
        if declared[view] is False:
            raise DatasetSpecError(
                f"{where}: feature view {view!r} is declared with online=False in {repo}"
            )


def check_unique_sources(spec: DatasetSpec, datasets_dir: Path, source: str) -> None:
    """No other dataset in `datasets_dir` declares a source of the same name."""
    others = []
    for path in sorted(Path(datasets_dir).glob("*/defs.yaml")):
        try:
            other = schemas.load_contract(path)
        except schemas.ContractError:
            continue  # that file's own load reports it
        if other.name != spec.name:
            others.append((f"{other.name} ({path})", other.sources))
    try:
        schemas.unique_source_names([(spec.name, spec.contract.sources), *others])
    except schemas.ContractError as err:
        raise DatasetSpecError(f"{source}: attributes.sources: {err}") from err


# --------------------------------------------------------------------------------------------
# reading dataset YAMLs outside Dagster's loader (the runner, tests, tooling)

DATASETS_DIR = Path(__file__).resolve().parents[2] / "defs" / "datasets"


def load_dataset_spec(path: Path | str) -> DatasetSpec:
    """The `attributes:` of a dataset's `defs.yaml`, validated like the component loader does;
    a `DatasetSpecError` names the file, each wrong field and what is allowed."""
    import yaml
    from pydantic import ValidationError

    path = Path(path)
    doc: Any = yaml.safe_load(path.read_text()) or {}
    attributes = doc.get("attributes") if isinstance(doc, dict) else None
    if not isinstance(attributes, dict):
        raise DatasetSpecError(f"{path}: `attributes:` must be a mapping of the dataset's fields")
    try:
        return DatasetSpec.model_validate(attributes)
    except ValidationError as err:
        problems = "; ".join(
            f"attributes.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}".replace(
                "attributes.: ", "attributes: "
            )
            for e in err.errors()
        )
        raise DatasetSpecError(f"{path}: {problems}") from err


def dataset_specs(datasets_dir: Path = DATASETS_DIR) -> list[DatasetSpec]:
    """Every declared dataset (`<datasets_dir>/<dataset>/defs.yaml`), in name order; raises
    when two declare the same source."""
    specs = [load_dataset_spec(p) for p in sorted(Path(datasets_dir).glob("*/defs.yaml"))]
    schemas.unique_source_names((s.name, s.contract.sources) for s in specs)
    return specs
