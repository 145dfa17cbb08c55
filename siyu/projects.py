"""A project's keys, timezone and WeChat callback settings, and the embedded demo project."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from siyu.settings_sections import FROZEN as _FROZEN

__all__ = ["OfficialAccountCallback", "Project", "WeComApi", "WeComCallback", "default_projects"]


class WeComCallback(BaseModel):
    """A WeCom (企业微信) app's callback settings: what Tencent signs and encrypts with."""

    model_config = ConfigDict(**_FROZEN)  # type: ignore[typeddict-item]

    token: SecretStr
    encoding_aes_key: SecretStr
    corp_id: str


class OfficialAccountCallback(BaseModel):
    """An official account's (公众号) server settings; ``encoding_aes_key`` for safe mode."""

    model_config = ConfigDict(**_FROZEN)  # type: ignore[typeddict-item]

    token: SecretStr
    app_id: str
    encoding_aes_key: SecretStr | None = None


class WeComApi(BaseModel):
    """Optional WeCom API access (off by default): fetch each new contact's unionid."""

    model_config = ConfigDict(**_FROZEN)  # type: ignore[typeddict-item]

    fetch_unionid: bool = False
    secret: SecretStr | None = None
    """The secret of the WeCom app allowed to read external contacts (客户联系)."""


class Project(BaseModel):
    model_config = ConfigDict(**_FROZEN)  # type: ignore[typeddict-item]

    write_key: SecretStr
    read_key: SecretStr
    admin_key: SecretStr | None = None
    """Key for the admin routes of the lookup API (segments, subscriptions, privacy requests)."""
    timezone: str = "Asia/Shanghai"
    """IANA zone of every day of this project (funnel entry day, cohorts, "today")."""
    wecom: WeComCallback | None = None
    wxoa: OfficialAccountCallback | None = None
    wecom_api: WeComApi | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value


_DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def default_projects() -> dict[str, Project]:
    return {
        "default": Project(
            write_key=SecretStr("demo-write-key"),
            read_key=SecretStr("demo-read-key"),
            admin_key=SecretStr("demo-admin-key"),
            wecom=WeComCallback(
                token=SecretStr("demo-wecom-token"),
                encoding_aes_key=SecretStr(_DEMO_AES_KEY),
                corp_id="wwdemo0000000001",
            ),
            wxoa=OfficialAccountCallback(
                token=SecretStr("demo-wxoa-token"),
                app_id="wxdemo0000000001",
                encoding_aes_key=SecretStr(_DEMO_AES_KEY),
            ),
        )
    }
