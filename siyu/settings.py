"""The one settings object, read from ``SIYU_*`` environment variables.

Only entrypoints (the ``siyu`` CLI and the processes it starts) build ``Settings()``.
Everything else receives a section or plain keyword arguments. Tests build
``Settings(...)`` directly. The sections live in :mod:`siyu.settings_sections`, a project's
settings in :mod:`siyu.projects`; both are exported from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from siyu.projects import (
    OfficialAccountCallback,
    Project,
    WeComApi,
    WeComCallback,
    default_projects,
)
from siyu.settings_sections import (
    ClickHouseSettings,
    CollectorSettings,
    IdentitySettings,
    KafkaSettings,
    LogSettings,
    LookupSettings,
    PrivacySettings,
    SegmentSettings,
    SinkSettings,
    SqlSettings,
    TagSettings,
    WebhookSettings,
    WorkerSettings,
)

__all__ = [
    "ClickHouseSettings",
    "CollectorSettings",
    "IdentitySettings",
    "KafkaSettings",
    "LogSettings",
    "LookupSettings",
    "OfficialAccountCallback",
    "PrivacySettings",
    "Project",
    "SegmentSettings",
    "Settings",
    "SinkSettings",
    "SqlSettings",
    "TagSettings",
    "WeComApi",
    "WeComCallback",
    "WebhookSettings",
    "WorkerSettings",
]


class Settings(BaseSettings):
    """Everything a siyu process needs. Sections read their own ``SIYU_<SECTION>_*`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="SIYU_",
        frozen=True,
        extra="ignore",
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
    )

    data_dir: Path = Path("data")
    """chDB data, the collector's spool, the webhook outbox and the logs of the embedded stack."""
    projects: dict[str, Project] = Field(default_factory=default_projects)
    """JSON in ``SIYU_PROJECTS``: ``{"name": {"write_key": "…", "read_key": "…"}}``."""
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    sql: SqlSettings = Field(default_factory=SqlSettings)
    lookup: LookupSettings = Field(default_factory=LookupSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    tags: TagSettings = Field(default_factory=TagSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    segments: SegmentSettings = Field(default_factory=SegmentSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.projects:
            raise ValueError("at least one project must be configured")
        keys = [p.write_key.get_secret_value() for p in self.projects.values()]
        reads = [p.read_key.get_secret_value() for p in self.projects.values()]
        if len(set(keys)) != len(keys) or set(keys) & set(reads):
            raise ValueError("write keys must be unique and differ from every read key")
        return self

    @property
    def chdb_path(self) -> Path:
        return (self.clickhouse.chdb_path or self.data_dir / "chdb").resolve()

    @property
    def spool_dir(self) -> Path:
        return (self.collector.spool_dir or self.data_dir / "spool").resolve()

    def project_for_write_key(self, key: str) -> str | None:
        for name, project in self.projects.items():
            if project.write_key.get_secret_value() == key:
                return name
        return None

    def project_for_admin_key(self, key: str) -> str | None:
        for name, project in self.projects.items():
            admin = project.admin_key
            if admin is not None and admin.get_secret_value() == key:
                return name
        return None

    def project_for_read_key(self, key: str) -> str | None:
        for name, project in self.projects.items():
            if project.read_key.get_secret_value() == key:
                return name
        return None

    def child_env(self) -> dict[str, Any]:
        """Environment that makes a child process build equal settings."""
        env: dict[str, Any] = {"SIYU_DATA_DIR": str(self.data_dir)}
        env["SIYU_PROJECTS"] = _projects_json(self.projects)
        for section in (
            "kafka",
            "clickhouse",
            "collector",
            "sql",
            "lookup",
            "identity",
            "tags",
            "worker",
            "sink",
            "privacy",
            "segments",
            "webhooks",
            "log",
        ):
            model = getattr(self, section)
            for name, value in model.model_dump().items():
                if value is None:
                    continue
                if isinstance(value, SecretStr):
                    value = value.get_secret_value()
                if isinstance(value, dict):
                    import orjson

                    value = orjson.dumps(value).decode()
                env[f"SIYU_{section.upper()}_{name.upper()}"] = str(value)
        return env


def _projects_json(projects: dict[str, Project]) -> str:
    import orjson

    return orjson.dumps(
        {name: _reveal(p.model_dump(exclude_none=True)) for name, p in projects.items()}
    ).decode()


def _reveal(value: Any) -> Any:
    """A dumped model with its secrets in clear, for a child's environment only."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    return value
