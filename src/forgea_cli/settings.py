"""Configuration from the environment, then `.env`, then defaults. Built on demand, never at import."""

from __future__ import annotations

import getpass
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("forgea", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORGEA_", env_file=".env", extra="ignore")

    database_url: SecretStr | None = None
    replica_url: SecretStr | None = None  # read-only reports read from it when set (DESIGN §10)
    github_token: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    github_web_url: str = "https://github.com"
    github_org: str | None = None
    actor: str = Field(default_factory=_default_actor)
    data_dir: Path = Field(default_factory=_default_data_dir)
    repo_prefix: str = "forgea-"
    creations_per_minute: int = Field(default=80, ge=1, le=80)
    creations_per_hour: int = Field(default=500, ge=1, le=500)

    def database_url_value(self) -> str | None:
        return self.database_url.get_secret_value() if self.database_url else None

    def replica_url_value(self) -> str | None:
        return self.replica_url.get_secret_value() if self.replica_url else None
