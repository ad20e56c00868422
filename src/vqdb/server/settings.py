"""The server's settings: defaults, then a YAML file, then VQDB__* environment variables, then
command-line flags, each overriding the one before (as Qdrant's config and QDRANT__* do).

    log_level: INFO
    service:
      host: 127.0.0.1
      http_port: 6333
      api_key: secret               # every request needs it (the api-key header or a Bearer token)
      read_only_api_key: reader     # may search and read, never write (403)
      reader_processes: auto        # processes answering searches beside the writer (0)
    storage:
      storage_path: ./storage
      async_scorer: true            # rescore on-disk originals through io_uring when cold
    snapshots:
      max_upload_size_mb: 8192      # a larger upload is cut off with 413 (bytes received)
      max_download_size_mb: 8192    # recovering from a URL: a larger download is refused (400)
      download_timeout_sec: 3600    # the whole download
      download_schemes: [http, https]
      download_hosts: []            # empty: any host; else names, IPs or *.example.com
    cluster:
      ray_address: auto             # new collections live in Ray actors (vqdb.cluster)

    VQDB__SERVICE__API_KEY=secret vqdb serve --config config.yaml
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "VQDB__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default


class Service(_Section):
    host: str = "127.0.0.1"
    http_port: Annotated[int, Field(ge=0, le=65535)] = 6333
    api_key: str | None = None
    read_only_api_key: str | None = None
    max_request_size_mb: Annotated[int, Field(ge=1)] = 32
    # Qdrant's name: event loops serving connections, and threads running the reads a busy
    # loop hands over (server/loops.py); 0: one per core
    max_workers: Annotated[int, Field(ge=0)] = 0
    # processes that serve the searches of the storage beside this one, which writes it
    # (server/readers.py): more interpreters than one GIL allows; 0: none; "auto": one a core
    reader_processes: Annotated[int, Field(ge=0)] | Literal["auto"] = 0
    # Qdrant's staging operations (POST /collections/{name}/debug, a delay): for tests only
    staging: bool = False


class Storage(_Section):
    storage_path: Path = Path("./storage")
    # true: io_uring when the candidates are not in the page cache ("auto"); or one path
    async_scorer: bool | Literal["mmap", "auto", "io_uring", "pread"] = False
    optimizer_threads: Annotated[int, Field(ge=0)] = 0


class Snapshots(_Section):
    """Limits on snapshot uploads and on recovering from a URL (collection/snapshots.py). The
    defaults allow any host, as Qdrant does (recovering from another node's download URL is
    its documented workflow, and only a key that may write can ask for it); the api key in a
    recover request is never sent past the URL's own origin, whatever the hosts allowed."""

    max_upload_size_mb: Annotated[int, Field(ge=1)] = 8192
    max_download_size_mb: Annotated[int, Field(ge=1)] = 8192
    download_timeout_sec: Annotated[float, Field(gt=0)] = 3600.0
    download_schemes: Annotated[tuple[Literal["http", "https"], ...], Field(min_length=1)] = (
        "http",
        "https",
    )
    download_hosts: tuple[str, ...] = ()

    @field_validator("download_schemes", "download_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """A VQDB__SNAPSHOTS__DOWNLOAD_HOSTS=a,b variable is a list of two."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class Cluster(_Section):
    """Distributed collections on Ray (vqdb.cluster): None serves every collection from this
    process; "auto", "host:port" or "ray://host:port" joins that Ray cluster, and collections
    created from then on live in its actors (shard_number x replication_factor of them)."""

    ray_address: str | None = None


class Settings(_Section):
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"] = "INFO"
    service: Service = Field(default_factory=Service)
    storage: Storage = Field(default_factory=Storage)
    snapshots: Snapshots = Field(default_factory=Snapshots)
    cluster: Cluster = Field(default_factory=Cluster)


def load(
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """overrides: dotted keys ("service.http_port") from the command line; None values are
    ignored. Raises ValueError naming the key that is wrong."""
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ValueError(f"cannot read the config file {file}: {e}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"config file {file}: expected a mapping at the top level")
        raw = loaded or {}
    for key, value in sorted((environ or {}).items()):
        if key.startswith(ENV_PREFIX):
            _put(raw, key[len(ENV_PREFIX) :].lower().split("__"), value)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _put(raw, dotted.split("."), value)
    if isinstance(raw.get("log_level"), str):
        raw["log_level"] = raw["log_level"].upper()
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise ValueError(f"bad settings: {problems}") from None


def _put(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        child = tree.setdefault(key, {})
        if not isinstance(child, dict):
            raise ValueError(f"settings: {key} is not a section")
        tree = child
    tree[keys[-1]] = value
