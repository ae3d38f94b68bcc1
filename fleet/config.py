"""The fleet manager's configuration: one YAML file, checked by pydantic.

```yaml
server: {host: 127.0.0.1, port: 8080}
store: {path: var/xborder.db}
customs:
  link_timeout_s: 60
  zmq: {router: "tcp://127.0.0.1:5560", pub: "tcp://127.0.0.1:5561"}
  authorities:
    VN_CUSTOMS: {public_key: "<base64 of the raw 32-byte Ed25519 key>", side: VN}
    CN_CUSTOMS: {public_key: "...", side: CN}
auth:
  tokens:
    - {token: "...", role: "customs:VN_CUSTOMS"}
    - {token: "...", role: viewer}
```
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fleet.customs.envelope import AUTHORITY_PATTERN
from fleet.customs.gate import Authority
from fleet.customs.signing import parse_public_key

STAFF_ROLES = ("viewer", "dispatcher", "operator", "admin")
CUSTOMS_ROLE_PREFIX = "customs:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)


class StoreConfig(_Strict):
    path: Path = Path("var/xborder.db")


class AuthorityConfig(_Strict):
    public_key: str
    side: str = Field(pattern=r"^[A-Z]{2}$")

    @field_validator("public_key")
    @classmethod
    def _is_a_key(cls, value: str) -> str:
        parse_public_key(value)
        return value


class ZmqConfig(_Strict):
    router: str = "tcp://127.0.0.1:5560"
    pub: str = "tcp://127.0.0.1:5561"


class CustomsConfig(_Strict):
    link_timeout_s: float = Field(60.0, gt=0)
    zmq: ZmqConfig = ZmqConfig()
    authorities: dict[str, AuthorityConfig]

    @model_validator(mode="after")
    def _two_sides(self) -> CustomsConfig:
        bad = [name for name in self.authorities if not re.match(AUTHORITY_PATTERN, name)]
        if bad:
            raise ValueError(f"authority names must match {AUTHORITY_PATTERN}: {bad}")
        if len({a.side for a in self.authorities.values()}) < 2:
            raise ValueError("customs.authorities must cover both sides of the border")
        return self

    def gate_authorities(self) -> list[Authority]:
        return [Authority(name, a.side, parse_public_key(a.public_key)) for name, a in self.authorities.items()]


class TokenConfig(_Strict):
    token: str = Field(min_length=16)
    role: str


class AuthConfig(_Strict):
    tokens: list[TokenConfig] = []


class Settings(_Strict):
    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    customs: CustomsConfig
    auth: AuthConfig = AuthConfig()

    @model_validator(mode="after")
    def _roles_exist(self) -> Settings:
        for entry in self.auth.tokens:
            authority = entry.role.removeprefix(CUSTOMS_ROLE_PREFIX)
            if entry.role not in STAFF_ROLES and not (entry.role.startswith(CUSTOMS_ROLE_PREFIX)
                                                      and authority in self.customs.authorities):
                raise ValueError(f"unknown role {entry.role!r}: use one of {list(STAFF_ROLES)} or "
                                 f"customs:<one of {sorted(self.customs.authorities)}>")
        return self


class ConfigError(ValueError):
    pass


def load_settings(path: str | Path) -> Settings:
    """Read and check a config file; :class:`ConfigError` says what is wrong and where."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return Settings.model_validate(data or {})
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None
