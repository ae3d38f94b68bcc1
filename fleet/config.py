"""The fleet manager's configuration: one YAML file, checked by pydantic.

```yaml
server: {host: 127.0.0.1, port: 8080}   # bounds: max_connections, header_timeout_s, keep_alive_s, max_body_bytes, ...
store: {path: var/xborder.db, busy_timeout_s: 5}   # or {url: "postgresql+psycopg://...", election: {node: fm-a}}
map: maps/bac_luan_ii                              # a corridor folder; default: the bundled Bac Luan II map
fleet:
  link: ros                                        # ros (DDS, the default), mqtt (VDA 5050), ros+mqtt, inprocess
  mqtt: {host: 127.0.0.1, port: 1883, manufacturer: xborder}   # the broker of VDA 5050 vehicles (link: *mqtt)
  #   and on a site's broker: username: xborder-fleet, password_file: keys/mqtt.password, tls_ca: keys/ca.pem
  namespace: xborder                               # vehicle topics under /<namespace>/<vehicle_id>/
  heartbeat_s: 1                                   # the fleet link's heartbeat to each vehicle
  dispatch: {tick_hz: 2, load_s: 60, unload_s: 60}  # and thresholds: fleet/dispatch/loop.py DispatchSettings
  vehicles:                                        # or `simulated: 10`: that many at the map's parking spots
    - {id: agv_001, home: VN, may_cross: true, start_node: <a node of the map>}
customs:
  link_timeout_s: 60
  zmq: {router: "tcp://127.0.0.1:5560", pub: "tcp://127.0.0.1:5561"}
  fleet:                       # the fleet's own keys (xborder keys generate --fleet)
    signing_key: keys/fleet.key        # Ed25519 (PEM): signs replies, everything published, checkpoints
    curve_key: keys/fleet.curve.key    # CURVE secret (Z85): the ROUTER's and PUB's server key
  checkpoint: {every_records: 100, every_s: 10}
  snapshot: {every_events: 10000, every_s: 300}   # clearance snapshots: a restart applies only what follows
  authorities:
    VN_CUSTOMS: {public_key: "<base64 of the raw 32-byte Ed25519 key>", side: VN,
                 curve_public_key: "<Z85 of the authority's CURVE public key>"}
    CN_CUSTOMS: {public_key_file: keys/CN_CUSTOMS.pub, side: CN, curve_public_key: "..."}
auth:
  tokens:
    - {token: "...", role: "customs:VN_CUSTOMS"}
    - {token: "...", role: viewer}
```

Relative paths (``map``, ``public_key_file``, ``customs.fleet`` keys) are read from the config file's folder;
the store's path is relative to the working directory, like ``var/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from fleet.customs.envelope import AUTHORITY_PATTERN
from fleet.customs.gate import Authority
from fleet.customs.signing import load_private_key, parse_public_key
from fleet.dispatch.settings import DispatchSettings
from fleet.roles import CUSTOMS_ROLE_PREFIX, STAFF_ROLES
from fleet.transports.curve import CurvePair, LinkSecurity, check_curve_key
from fleet.vehicles.registry import VehicleConfig

#: The bundled maps, found from the package (an editable install or a checkout), never from the cwd.
MAPS_DIR = Path(__file__).resolve().parent.parent / "maps"
DEFAULT_MAP = MAPS_DIR / "bac_luan_ii"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Strict):
    """The HTTP server, bounded so that no client can starve it (see fleet/api/server.py)."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_connections: int = Field(256, ge=1)  # open connections at once; more are closed on accept
    header_timeout_s: float = Field(10.0, gt=0)  # a request's line and headers must arrive within this
    keep_alive_s: float = Field(5.0, gt=0)  # an idle keep-alive connection is closed after this
    max_body_bytes: int = Field(1024 * 1024, ge=1024)  # any request body over this is refused (413)
    body_timeout_s: float = Field(30.0, gt=0)  # a request's body must have arrived within this of its first read
    stop_limit_s: float = Field(30.0, gt=0, le=600, description="after SIGTERM or Ctrl-C the process ends within "
                                "this even if stopping hangs (every thread's stack on stderr first, exit code 1)")
    read_workers: int = Field(0, ge=0, le=16, description="processes that take the port and answer the read routes "
                              "from the loop's views, passing the rest on to it; 0: the loop's process serves all "
                              "(fleet/api/read_workers.py)")


class ElectionConfig(_Strict):
    """Active/standby on one PostgreSQL store (fleet/store/leadership.py, docs/deployment.md)."""

    node: str = Field(min_length=1, max_length=128, description="this fleet manager's name, in logs and the store")
    poll_s: float = Field(0.5, gt=0, le=10, description="how often a standby tries for the lock")
    lease_s: float = Field(3.0, gt=0, le=60, description="a leader that cannot confirm its lock this long steps down")
    views_s: float = Field(1.0, gt=0, le=60, description="how often the leader stores its vehicle and gate views "
                           "for the standby's reads: how stale those may be (fleet/live_views.py)")


class StoreConfig(_Strict):
    path: Path = Path("var/xborder.db")
    url: str | None = Field(None, description="a SQLAlchemy URL; when given it wins over path")
    busy_timeout_s: float = Field(5.0, gt=0)
    election: ElectionConfig | None = None

    @model_validator(mode="after")
    def _election_needs_postgresql(self) -> StoreConfig:
        if self.election is not None and not (self.url or "").startswith("postgresql"):
            raise ValueError("store.election: needs a PostgreSQL store.url (postgresql+psycopg://...)")
        return self

    @property
    def location(self) -> str | Path:
        return self.url or self.path


def _relative_to_config(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    return path if path.is_absolute() or base is None else Path(base) / path


def _readable_file(value: Path | None, info: ValidationInfo, read: Callable[[Path], object]) -> Path | None:
    """The file named (relative to the config's folder), once ``read`` could read it."""
    if value is None:
        return None
    path = _relative_to_config(value, info)
    try:
        read(path)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    return path


def _each_a_public_key(values: list[str]) -> list[str]:
    """``values`` if each is an Ed25519 public key as ``NAME.pub`` holds it; ValueError naming why not."""
    for value in values:
        parse_public_key(value)
    return values


class AuthorityConfig(_Strict):
    """The key inline (``public_key``) or in a file (``public_key_file``, as ``xborder keys generate`` writes it).
    ``previous_public_keys``: the keys it signed with before rotating to this one (each as ``public_key``): they
    verify its stored events on a restart, never a new event."""

    public_key: str = ""
    public_key_file: Path | None = None
    previous_public_keys: list[str] = []
    side: str = Field(pattern=r"^[A-Z]{2}$")
    # the authority's CURVE public key (Z85, NAME.curve.pub): the only key its ZeroMQ DEALER may connect with
    curve_public_key: str | None = None

    @field_validator("public_key")
    @classmethod
    def _is_a_key(cls, value: str) -> str:
        if value:
            parse_public_key(value)
        return value

    @field_validator("previous_public_keys")
    @classmethod
    def _are_keys(cls, values: list[str]) -> list[str]:
        return _each_a_public_key(values)

    @field_validator("public_key_file")
    @classmethod
    def _key_file_readable(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _readable_file(value, info, lambda path: parse_public_key(path.read_text(encoding="utf-8")))

    @model_validator(mode="after")
    def _one_key(self) -> AuthorityConfig:
        if bool(self.public_key) == (self.public_key_file is not None):
            raise ValueError("give exactly one of public_key and public_key_file")
        return self

    def key(self) -> str:
        return self.public_key or (self.public_key_file.read_text(encoding="utf-8") if self.public_key_file else "")

    @field_validator("curve_public_key")
    @classmethod
    def _is_a_curve_key(cls, value: str | None) -> str | None:
        return None if value is None else check_curve_key(value).decode()


def _signing_keys(authority: AuthorityConfig) -> set[bytes]:
    """The raw bytes of every Ed25519 key the authority signs or signed with."""
    return {parse_public_key(key).public_bytes_raw() for key in (authority.key(), *authority.previous_public_keys)}


def _curve_keys(authority: AuthorityConfig) -> set[bytes]:
    return {authority.curve_public_key.encode()} if authority.curve_public_key else set()


class FleetKeysConfig(_Strict):
    """The fleet's own key files. Without them the ZeroMQ link runs in plaintext and unsigned (tests only).
    ``previous_public_keys``: the public keys (``fleet.pub``) of the signing keys it used before rotating to
    ``signing_key``: its clearance snapshots signed with one are still its own on a restart."""

    signing_key: Path  # Ed25519 private key (PEM): replies, PUB messages and audit checkpoints are signed with it
    curve_key: Path  # CURVE secret key (Z85): the ROUTER and PUB sockets' server key
    previous_public_keys: list[str] = []

    @field_validator("previous_public_keys")
    @classmethod
    def _are_keys(cls, values: list[str]) -> list[str]:
        return _each_a_public_key(values)

    def previous_keys(self) -> list[Ed25519PublicKey]:
        return [parse_public_key(key) for key in self.previous_public_keys]

    @field_validator("signing_key", "curve_key")
    @classmethod
    def _from_config_folder(cls, value: Path, info: ValidationInfo) -> Path:
        return _relative_to_config(value, info)


class CheckpointConfig(_Strict):
    """A signed audit checkpoint at least every ``every_records`` records or ``every_s`` seconds."""

    every_records: int = Field(100, ge=1)
    every_s: float = Field(10.0, gt=0)


class SnapshotConfig(_Strict):
    """A clearance snapshot after ``every_events`` accepted events, or ``every_s`` after the first since the last."""

    every_events: int = Field(10_000, ge=1)
    every_s: float = Field(300.0, gt=0)


class ZmqConfig(_Strict):
    router: str = "tcp://127.0.0.1:5560"
    pub: str = "tcp://127.0.0.1:5561"


class CustomsConfig(_Strict):
    link_timeout_s: float = Field(60.0, gt=0)
    zmq: ZmqConfig = ZmqConfig()
    fleet: FleetKeysConfig | None = None
    checkpoint: CheckpointConfig = CheckpointConfig()
    snapshot: SnapshotConfig = SnapshotConfig()
    authorities: dict[str, AuthorityConfig]

    @model_validator(mode="after")
    def _two_sides(self) -> CustomsConfig:
        bad = [name for name in self.authorities if not re.match(AUTHORITY_PATTERN, name)]
        if bad:
            raise ValueError(f"authority names must match {AUTHORITY_PATTERN}: {bad}")
        if len({a.side for a in self.authorities.values()}) < 2:
            raise ValueError("customs.authorities must cover both sides of the border")
        return self

    @model_validator(mode="after")
    def _a_key_per_authority(self) -> CustomsConfig:
        """No key speaks for two authorities: with one signing key each could sign the other's events; with one
        CURVE key the link would name every sender by one of them."""
        for kind, keys_of in (("signing", _signing_keys), ("CURVE", _curve_keys)):
            owner: dict[bytes, str] = {}
            for name, authority in self.authorities.items():
                for key in keys_of(authority):
                    if owner.setdefault(key, name) != name:
                        raise ValueError(f"{owner[key]} and {name} share a {kind} key: each needs its own")
        return self

    def gate_authorities(self) -> list[Authority]:
        return [Authority(name, a.side, parse_public_key(a.key()), tuple(map(parse_public_key, a.previous_public_keys)))
                for name, a in self.authorities.items()]

    def link_security(self) -> LinkSecurity | None:
        """The fleet's keys and the admitted authorities' CURVE keys, or None when no fleet keys are configured.

        Raises :class:`ConfigError` when a key file is missing or not a key.
        """
        if self.fleet is None:
            return None
        try:
            server = CurvePair.from_secret_file(self.fleet.curve_key)
            signing_key = load_private_key(self.fleet.signing_key)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"customs.fleet: {exc}") from None
        clients = {a.curve_public_key.encode(): name for name, a in self.authorities.items() if a.curve_public_key}
        return LinkSecurity(server, clients, signing_key)


class TokenConfig(_Strict):
    token: str = Field(min_length=16)
    role: str


class AuthConfig(_Strict):
    tokens: list[TokenConfig] = []


class MqttConfig(_Strict):
    """The MQTT broker VDA 5050 vehicles speak through (``uagv/v2/<manufacturer>/<serialNumber>/<topic>``)."""

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    manufacturer: str = Field("xborder", min_length=1, pattern=r"^[^/#+]+$",
                              description="for vehicles not heard yet; learnt from each vehicle's topics")
    #: the fleet's login, on a broker that lets no one in anonymously (docs/vehicle-protocol.md: its access list)
    username: str | None = Field(None, min_length=1, pattern=r"^[^/#+]+$")
    password_file: Path | None = None  # the password alone, in a file only the service reads
    tls_ca: Path | None = None  # a CA file: speak TLS with the broker, which must show a certificate it signed

    @field_validator("password_file", "tls_ca")
    @classmethod
    def _readable(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _readable_file(value, info, Path.read_bytes)

    @model_validator(mode="after")
    def _password_with_a_user(self) -> MqttConfig:
        if (self.username is None) != (self.password_file is None):
            raise ValueError("give username and password_file together (or neither, for an anonymous broker)")
        return self

    def password(self) -> str | None:
        return self.password_file.read_text(encoding="utf-8").strip() if self.password_file else None


class FleetConfig(_Strict):
    link: Literal["ros", "mqtt", "ros+mqtt", "inprocess"] = "ros"
    mqtt: MqttConfig = MqttConfig()
    namespace: str = Field("xborder", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    heartbeat_s: float = Field(1.0, gt=0, le=10, description="the fleet link's heartbeat to every vehicle")
    dispatch: DispatchSettings = DispatchSettings()
    vehicles: list[VehicleConfig] = []
    simulated: int = Field(0, ge=0, description="when no vehicles are listed: this many at the map's parking spots")

    @model_validator(mode="after")
    def _one_fleet(self) -> FleetConfig:
        if self.vehicles and self.simulated:
            raise ValueError("give vehicles or simulated, not both")
        ids = [v.id for v in self.vehicles]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"vehicle ids listed twice: {twice}")
        return self


class Settings(_Strict):
    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    map: Path = DEFAULT_MAP
    fleet: FleetConfig = FleetConfig()
    customs: CustomsConfig
    auth: AuthConfig = AuthConfig()

    @field_validator("map")
    @classmethod
    def _map_from_config(cls, value: Path, info: ValidationInfo) -> Path:
        return _relative_to_config(value, info)

    @model_validator(mode="after")
    def _roles_exist(self) -> Settings:
        for i, entry in enumerate(self.auth.tokens):
            authority = entry.role.removeprefix(CUSTOMS_ROLE_PREFIX)
            if entry.role not in STAFF_ROLES and not (entry.role.startswith(CUSTOMS_ROLE_PREFIX)
                                                      and authority in self.customs.authorities):
                raise ValueError(f"auth.tokens.{i}.role: unknown role {entry.role!r}: use one of {list(STAFF_ROLES)}"
                                 f" or customs:<one of {sorted(self.customs.authorities)}>")
        return self


class ConfigError(ValueError):
    pass


def load_settings(path: str | Path) -> Settings:
    """Read and check a config file; :class:`ConfigError` says what is wrong and where."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:  # a folder, a file the service's user may not read
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}") from None
    try:
        settings = Settings.model_validate(data or {}, context={"base": Path(path).resolve().parent})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_invalid(exc)}") from None
    settings.customs.link_security()  # the fleet's key files exist and hold keys
    return settings


def describe_invalid(exc: ValidationError) -> str:
    """Each problem as ``field.path: message`` (a model-level check names its field in the message), in the
    check's own words: pydantic's "Value error, " before them is dropped."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {_words(e)}" if e["loc"] else _words(e)
                     for e in exc.errors())


def _words(error: ErrorDetails) -> str:
    return error["msg"].removeprefix("Value error, ")
