"""Collection snapshots (Qdrant's): one file per snapshot, recoverable under any name.

    <storage>/snapshots/<collection>/<collection>-<YYYY-MM-DD-HH-MM-SS>-<random>.snapshot
    <storage>/snapshots/<collection>/<that name>.checksum      its sha256, in hex
    <storage>/snapshots/<collection>/shards/0/<collection>-shard-0-<...>.snapshot

Shard snapshots are Qdrant's too. A vqdb collection is one local shard, id 0, so a snapshot of
shard 0 is a snapshot of the collection in this same format, kept in the shard's own folder;
recovering one replaces the collection's data (and config, which the snapshot carries). Any
other shard id is not found. Qdrant's partial snapshots (only the files a replica lacks) are
whole shard snapshots here: recovering everything gives the state a partial one would.

A snapshot is a plain tar of the collection directory (manifest and segments) taken right after
a checkpoint, so it holds every acknowledged write and needs no WAL: it has none, and the
restored collection starts with an empty one. Its segment files are the original ones, so the
restored collection has the same segments, codes and graphs, and answers every search as the
original did when the snapshot was taken; nothing is rebuilt.

    collection.json             the manifest (storage.py)
    segments/<segment>/<file>   the segment files
    checksums.json              {"format_version": 1,
                                 "files": {"<member>": {"size": bytes, "sha256": hex}, ...}}

Recovery unpacks into a scratch directory beside `collections/`, opens it there (a broken
archive fails before anything is replaced), then swaps it in for the collection of that name.
Nothing in the archive is trusted (an uploaded snapshot is whatever its sender wrote):

- Members: only the layout above; every part of every name is one plain file name (no absolute
  names, no `..`, at most 255 bytes); only regular files and folders (no symbolic or hard
  links, devices, fifos or sparse files); no name twice. Checked on the headers, before
  anything is written.
- Contents: every file is hashed as it is unpacked and must have its entry in checksums.json
  with the same size and sha256; every entry must be a file of the archive. A flipped bit
  anywhere is refused, whether or not the caller gave a `checksum`.
- The manifest: storage.check_manifest refuses segment names that are not plain folder names
  and generations that are not integers (they make paths), when the unpacked collection is
  opened the first time, still in the scratch directory.

Snapshots without checksums.json were written by vqdb before the list existed. They are
recovered only with the whole file's sha256 given as `checksum` (the `.checksum` file beside
the snapshot, or the `checksum` that list_snapshots shows): the file is then verified as a
whole, which proves as much as the list would. Without it they are refused, saying so.

Recovering from an http(s) URL downloads through `Downloads` (the server's `snapshots`
settings): allowed schemes and hosts, checked again at every redirect; a size limit counted on
the bytes received; a deadline for the whole download. The `api_key` goes only to the origin
(scheme, host and port) of the URL given: a redirect elsewhere is followed without it.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import secrets
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import urljoin, urlparse
from urllib.request import url2pathname

from vqdb.collection import storage
from vqdb.collection.collection import Collection
from vqdb.errors import BadInput, BadRequest, Forbidden, NotFound
from vqdb.storage.files import fsync_dir, read_json, write_json

if TYPE_CHECKING:
    from vqdb.database import Database

SUFFIX = ".snapshot"
CHECKSUM = ".checksum"  # appended to the snapshot's file name, as Qdrant does
CHECKSUMS = "checksums.json"  # inside the archive: each file's size and sha256
CHECKSUMS_VERSION = 1
SEGMENTS = "segments"
MAX_MEMBERS = 100_000  # files and folders in one archive (a collection has tens to hundreds)
MAX_CHECKSUMS_BYTES = 64 << 20
# the longest name create() adds to a collection's name: "-<stamp>-<random>.snapshot.checksum"
_ADDED = len("-2000-01-01-00-00-00-01234567" + SUFFIX + CHECKSUM)
_REDIRECTS = (301, 302, 303, 307, 308)
_IDLE_TIMEOUT = 60.0  # seconds one read of a download may wait


@dataclass(frozen=True)
class Downloads:
    """How recovery downloads a snapshot from an http(s) URL (the server's `snapshots`
    settings). `hosts` empty: any host; otherwise host names (or IP addresses) exactly, or
    `*.example.com` for its subdomains. Checked for the URL given and every redirect."""

    max_bytes: int = 8192 << 20
    timeout: float = 3600.0  # seconds for the whole download
    schemes: tuple[str, ...] = ("http", "https")
    hosts: tuple[str, ...] = ()
    max_redirects: int = 5


def create(db: Database, collection_name: str, *, shard: int | None = None) -> dict[str, Any]:
    """Takes a snapshot of the collection (or of its shard `shard`: the same); returns its
    SnapshotDescription."""
    folder = folder_for(db, collection_name, shard)
    collection = db.collection(collection_name)
    folder.mkdir(parents=True, exist_ok=True)
    if not isinstance(collection, Collection):  # distributed: per shard, or gathered
        from vqdb.cluster import snapshots as cluster_snapshots

        return cluster_snapshots.take(collection, folder, shard)
    return take(collection, folder, shard)


def take(collection: Collection, folder: Path, shard: int | None = None) -> dict[str, Any]:
    """Snapshots `collection` into a new file in `folder` (its snapshot folder, or a scratch
    folder of a full snapshot); returns its SnapshotDescription."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
    of_shard = "" if shard is None else f"-shard-{shard}"
    name = f"{_prefix(collection.name, len(of_shard))}{of_shard}-{stamp}-{random_tag()}"
    # the scratch directory is in the same folder, so the finished archive is renamed into
    # place, never copied: a snapshot file is complete or absent
    with tempfile.TemporaryDirectory(dir=folder, prefix=".") as scratch:
        pinned = Path(scratch) / "collection"
        _pin(collection, pinned)
        archive = Path(scratch) / "archive.tar"
        _write_archive(pinned, archive)
        return publish(archive, folder / f"{name}{SUFFIX}")


def take_to_send(db: Database, collection_name: str, shard: int) -> Path:
    """A snapshot of the shard taken only to be sent (Qdrant's shard snapshot stream and its
    partial snapshots), in a scratch folder of its own beside the shard's snapshots: the caller
    removes that folder (the file's parent) once it is sent; a crash leaves it to the next
    start, which removes it."""
    folder = folder_for(db, collection_name, shard)
    collection = db.collection(collection_name)
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder, prefix=".send-"))
    try:
        name: str = take(collection, scratch, shard)["name"]
        return scratch / name
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def sha256_problem(checksum: str) -> str | None:
    """Why `checksum` is not a sha256 in hex, in Qdrant's words, or None if it is one."""
    if len(checksum) != 64:
        return (
            f"Validation error: invalid_sha256_hash [length: {len(checksum)}, expected_length: 64]"
        )
    if any(c not in "0123456789abcdefABCDEF" for c in checksum):
        return "invalid characters, expected 0-9, a-f, A-F"
    return None


def random_tag() -> str:
    """Ends a snapshot's name: two taken in the same second get different names."""
    return secrets.token_hex(4)


def sync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def publish(archive: Path, target: Path) -> dict[str, Any]:
    """Moves a finished archive to `target` (same filesystem) with its `.checksum` beside it;
    returns its SnapshotDescription."""
    with open(f"{target}{CHECKSUM}", "w", encoding="ascii") as f:
        f.write(_sha256(archive))
        f.flush()
        os.fsync(f.fileno())  # durable before the snapshot it describes appears
    os.replace(archive, target)
    fsync_dir(target.parent)
    return _describe(target)


def list_snapshots(
    db: Database, collection_name: str, *, shard: int | None = None
) -> list[dict[str, Any]]:
    """The collection's (or its shard's) snapshots, oldest first."""
    return describe_all(folder_for(db, collection_name, shard))  # NotFound, as Qdrant answers


def describe_all(folder: Path) -> list[dict[str, Any]]:
    """The snapshot files in `folder` (not in its subfolders), oldest first."""
    found = []
    for path in folder.glob(f"*{SUFFIX}") if folder.exists() else ():
        try:
            if path.is_file():
                found.append(_describe(path))
        except FileNotFoundError:  # deleted meanwhile
            continue
    return sorted(found, key=lambda d: (d["creation_time"], d["name"]))


def delete(
    db: Database, collection_name: str, snapshot_name: str, *, shard: int | None = None
) -> bool:
    return remove(path_of(db, collection_name, snapshot_name, shard=shard))


def remove(path: Path) -> bool:
    """Deletes a snapshot file and its checksum."""
    path.unlink()
    Path(f"{path}{CHECKSUM}").unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def path_of(
    db: Database, collection_name: str, snapshot_name: str, *, shard: int | None = None
) -> Path:
    """The snapshot's file (to download it); NotFound if there is no such snapshot."""
    folder = folder_for(db, collection_name, shard)
    return file_in(folder, snapshot_name, f"of collection {collection_name}")


def file_in(folder: Path, snapshot_name: str, whose: str) -> Path:
    """The snapshot file `snapshot_name` in `folder`: one plain file name (never a path: a
    name from a request picks a file of this folder and nothing else), NotFound if there is
    none (`whose` ends the message)."""
    if not storage.plain_name(snapshot_name, room=len(CHECKSUM)):
        raise BadInput(
            f"bad snapshot name {snapshot_name!r}: a snapshot name is one file name of at most "
            f"{storage.NAME_MAX - len(CHECKSUM)} bytes of UTF-8"
        )
    path = folder / snapshot_name
    if not snapshot_name.endswith(SUFFIX) or not path.is_file():
        raise NotFound(f"Snapshot {snapshot_name} {whose} not found")
    return path


def recover_shard(
    db: Database,
    collection_name: str,
    shard: int,
    location: str | Path,
    *,
    checksum: str | None = None,
    api_key: str | None = None,
    downloads: Downloads | None = None,
) -> bool:
    """Qdrant's shard recovery: `location` is an http(s) URL (another server's shard snapshot
    download) or the name of a snapshot in the shard's own folder, never a local path or a
    file:// URL; or, as a Path, a file the server itself holds (an upload). The collection
    must exist."""
    folder = folder_for(db, collection_name, shard)
    name = db.collection(collection_name).name  # an alias recovers the collection it names
    if isinstance(location, Path):
        return recover(db, name, location, checksum=checksum, label="(uploaded)")
    scheme = urlparse(location).scheme
    if scheme in ("http", "https"):
        source: str | Path = location
    elif scheme and "://" in location:
        raise BadInput(
            f"Invalid snapshot URL {location}: URLs with {scheme} scheme are not supported"
        )
    else:
        source = file_in(folder, location, f"of shard {shard} of collection {collection_name}")
    return recover(
        db, name, source, checksum=checksum, api_key=api_key, only_under=folder, downloads=downloads
    )


def partial_manifest(db: Database, collection_name: str, shard: int) -> dict[str, Any]:
    """Qdrant's partial snapshot manifest of the shard: for each segment, its last write and
    each of its files with the last write it holds. What a vqdb segment's generation names of
    each of its files is as of the segment's last write, so every file carries its version;
    the files are those a snapshot taken now would hold (the next checkpoint's names aside)."""
    folder_for(db, collection_name, shard)
    collection = db.collection(collection_name)
    with collection.lock.read():
        if collection.closed or collection.path is None:
            raise BadInput(f"collection {collection.name} is closed")
        manifest = {}
        for segment in collection.segments:
            folder = storage.segment_dir(collection, segment)
            # a segment not yet checkpointed has no folder: the next snapshot writes it
            found = folder.iterdir() if folder.is_dir() else ()
            files = sorted(p.name for p in found if p.is_file() and not p.name.endswith(".tmp"))
            manifest[folder.name] = {
                "segment_id": folder.name,
                "segment_version": segment.version,
                "file_versions": dict.fromkeys(files, segment.version),
            }
    return manifest


def recover(
    db: Database,
    collection_name: str,
    location: str | Path,
    *,
    checksum: str | None = None,
    api_key: str | None = None,
    only_under: Path | None = None,
    downloads: Downloads | None = None,
    label: str | None = None,
) -> bool:
    """Restores the snapshot at `location` (a file path, a file:// URL, or an http(s) URL such
    as another server's snapshot download, fetched with `api_key` through `downloads`) as
    `collection_name`, replacing the collection of that name if there is one. The archive's
    own checksum list is always verified; with `checksum` (sha256 hex of the whole file, as
    Qdrant's SnapshotRecover has it) a file that does not match is refused too. With
    `only_under`, so is a local file outside that folder (a server does not read whatever path
    a client names). `label`: how messages name the snapshot (default: `location`)."""
    root = _root(db)
    if not storage.plain_name(collection_name):
        raise BadInput(f"bad collection name {collection_name!r}: {storage.NAME_RULE}")
    label = str(location) if label is None else label
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=".recover-"))
    try:
        if isinstance(location, str) and urlparse(location).scheme in ("http", "https"):
            source = _download(
                location, scratch / "download.snapshot", api_key, downloads or Downloads()
            )
        else:
            # the path that was checked is the one read, whatever a link changes meanwhile
            source = _local_file(location).resolve()
            if only_under is not None and not source.is_relative_to(only_under.resolve()):
                raise Forbidden(
                    "Snapshot file path must be inside the snapshots directory "
                    f'"{only_under.resolve()}"'
                )
        if checksum is not None:
            actual = _sha256(source)
            if actual != checksum.strip().lower():
                raise BadInput(f"Snapshot checksum mismatch: expected {checksum}, got {actual}")
        staged = scratch / "collection"
        found, listed = _unpack(source, staged, label)
        _verify(found, listed, label, whole_file_checked=checksum is not None)
        _rename(staged, collection_name, label)
        try:
            # opened once here only to prove the archive loads (opening again after the swap
            # costs a second load, which recovery can afford; a half-swapped state it cannot);
            # this is also where the manifest's names are checked (storage.check_manifest)
            probe = storage.open_collection(staged)
        except BadInput as e:
            raise BadInput(f"Snapshot {label}: {e}") from None
        except Exception as e:  # whatever fails to load: the archive is not a sound collection
            raise BadInput(f"Snapshot {label} cannot be opened: {type(e).__name__}: {e}") from e
        if probe.wal is not None:
            probe.wal.close()
        target = root / "collections" / collection_name
        with db._lock:  # no create_collection of this name between the delete and the start
            db.remove(collection_name)
            shutil.rmtree(target, ignore_errors=True)  # a leftover without a manifest
            os.replace(staged, target)
            fsync_dir(target.parent)
            db._start(storage.open_collection(target, db.read_path))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return True


# ---- taking a snapshot ------------------------------------------------------------------------


def _prefix(collection_name: str, more: int = 0) -> str:
    """The collection's name as the start of its snapshots' names, cut (at a character) so
    that the longest file take() makes fits in a file name (`more`: bytes added after it)."""
    room = storage.NAME_MAX - _ADDED - more
    return collection_name.encode("utf-8")[:room].decode("utf-8", errors="ignore")


def _pin(collection: Collection, into: Path) -> None:
    """Hard-links the files of a fresh checkpoint of the collection into `into`.

    Why links: every collection file but the WAL is written once under a temporary name and
    renamed into place (storage/files.py), never changed in place, so a link keeps exactly this
    checkpoint's bytes even after the optimizer swaps a segment in and the next checkpoint
    deletes the old files. Only the linking needs the write lock, a moment per file; the archive
    is then written with no lock held while searches and writes go on. Copying under the lock
    would stall writes for as long as the copy takes. Where a link is refused (say another
    filesystem), the file is copied, still under the lock.

    Only what the manifest names is taken: segments the optimizer is still building stay out,
    and the WAL is left behind (a checkpoint has just emptied it).
    """
    with collection.lock.write():
        if collection.closed or collection.path is None:
            raise BadInput(f"collection {collection.name} is closed")
        storage.checkpoint(collection)
        source = collection.path
        (into / SEGMENTS).mkdir(parents=True)
        _link(source / storage.MANIFEST, into / storage.MANIFEST)
        for segment in collection.segments:
            folder = storage.segment_dir(collection, segment)
            (into / SEGMENTS / folder.name).mkdir()
            for path in folder.iterdir():
                if path.is_file() and not path.name.endswith(".tmp"):
                    _link(path, into / SEGMENTS / folder.name / path.name)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class _Hashing:
    """A file read through it is hashed on the way (tarfile reads what it archives with
    read(n)), so each file is read once for both."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.file.read(n)
        self.digest.update(data)
        return data


def _write_archive(folder: Path, archive: Path) -> None:
    """Folders and files of `folder` as plain members (no owners, no links), then the
    checksum list of the files, hashed as they were archived."""
    listed: dict[str, dict[str, Any]] = {}
    with open(archive, "wb") as f:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(folder.rglob("*")):
                info = tarfile.TarInfo(path.relative_to(folder).as_posix())
                if path.is_dir():
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, path.stat().st_mtime
                    tar.addfile(info)
                    continue
                with open(path, "rb") as data:
                    stat = os.fstat(data.fileno())
                    info.size, info.mode, info.mtime = stat.st_size, 0o644, stat.st_mtime
                    reader = _Hashing(data)
                    tar.addfile(info, cast(IO[bytes], reader))
                listed[info.name] = {"size": info.size, "sha256": reader.digest.hexdigest()}
            body = json.dumps(
                {"format_version": CHECKSUMS_VERSION, "files": listed}, separators=(",", ":")
            ).encode()
            info = tarfile.TarInfo(CHECKSUMS)
            info.size, info.mode, info.mtime = len(body), 0o644, time.time()
            tar.addfile(info, io.BytesIO(body))
        f.flush()
        os.fsync(f.fileno())


def _describe(path: Path) -> dict[str, Any]:
    """Qdrant's SnapshotDescription; the time is UTC without a zone, as Qdrant writes it."""
    stat = path.stat()
    created = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
    stored = Path(f"{path}{CHECKSUM}")
    checksum = stored.read_text(encoding="ascii").strip() if stored.exists() else _sha256(path)
    return {
        "name": path.name,
        "creation_time": created.strftime("%Y-%m-%dT%H:%M:%S"),
        "size": stat.st_size,
        "checksum": checksum,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# ---- downloading ------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect comes back as an HTTPError, for _download to check before following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _download(url: str, into: Path, api_key: str | None, policy: Downloads) -> Path:
    """Fetches `url` into `into` under `policy`. The api key goes with a request only while
    it is to the first URL's origin; each redirect target is checked against the allowed
    schemes and hosts before it is asked for anything."""
    opener = urllib.request.build_opener(_NoRedirects)
    origin = _origin(url)
    deadline = time.monotonic() + policy.timeout
    current = url
    for _ in range(policy.max_redirects + 1):
        _check_allowed(current, policy)
        same_origin = _origin(current) == origin
        headers = {"api-key": api_key} if api_key and same_origin else {}
        wait = max(0.001, min(_IDLE_TIMEOUT, deadline - time.monotonic()))
        try:
            response = opener.open(urllib.request.Request(current, headers=headers), timeout=wait)
        except urllib.error.HTTPError as e:
            target = e.headers.get("Location") if e.code in _REDIRECTS else None
            e.close()
            if target is None:
                raise BadInput(f"cannot download the snapshot at {url}: {e}") from None
            current = urljoin(current, target)
            continue
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
            raise BadInput(f"cannot download the snapshot at {url}: {e}") from None
        with response:
            _receive(response, into, url, policy, deadline)
        return into
    raise BadInput(
        f"cannot download the snapshot at {url}: more than {policy.max_redirects} redirects"
    )


def _receive(response: Any, into: Path, url: str, policy: Downloads, deadline: float) -> None:
    def too_large() -> BadInput:
        return BadInput(
            f"the snapshot at {url} is larger than the download limit of "
            f"{_mb(policy.max_bytes)} (snapshots.max_download_size_mb)"
        )

    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise too_large()
    received = 0
    try:
        with open(into, "wb") as out:
            # read1: whatever one read brings, so a server that trickles bytes meets the
            # deadline between reads (read(n) would wait for all n)
            while chunk := response.read1(1 << 20):
                received += len(chunk)
                if received > policy.max_bytes:
                    raise too_large()
                if time.monotonic() > deadline:
                    raise BadInput(
                        f"the snapshot at {url} did not arrive within {policy.timeout:g} s "
                        f"(snapshots.download_timeout_sec)"
                    )
                out.write(chunk)
    except (OSError, http.client.HTTPException) as e:  # a read timed out, the peer hung up
        raise BadInput(f"cannot download the snapshot at {url}: {e!r}") from None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlparse(url)
    try:
        port = parts.port
    except ValueError:
        raise BadInput(f"snapshot location {url}: bad port") from None
    return parts.scheme, parts.hostname or "", port or {"http": 80, "https": 443}.get(parts.scheme)


def _check_allowed(url: str, policy: Downloads) -> None:
    parts = urlparse(url)
    if parts.scheme not in policy.schemes:
        raise BadInput(
            f"snapshot location {url}: the scheme {parts.scheme or '(none)'} is not allowed "
            f"(snapshots.download_schemes: {', '.join(policy.schemes)})"
        )
    host = parts.hostname or ""
    if not host:
        raise BadInput(f"snapshot location {url}: no host")
    if policy.hosts and not any(_host_matches(host, allowed) for allowed in policy.hosts):
        raise BadInput(
            f"snapshot location {url}: the host {host} is not allowed "
            f"(snapshots.download_hosts: {', '.join(policy.hosts)})"
        )


def _host_matches(host: str, allowed: str) -> bool:
    allowed = allowed.strip().lower().strip("[]")
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    return host == allowed


def _mb(size: int) -> str:
    return f"{size / (1 << 20):g} MB"


# ---- unpacking and checking -------------------------------------------------------------------


def _local_file(location: str | Path) -> Path:
    """A file path, or a file:// URL without a host (or with localhost), as Qdrant reads it."""
    if isinstance(location, str) and "://" in location:
        url = urlparse(location)
        if url.scheme != "file":
            raise BadRequest(f"URL {location} with scheme {url.scheme} is not supported")
        if url.netloc not in ("", "localhost"):
            raise BadRequest("Invalid snapshot URI, file path must be absolute or on localhost")
        location = url2pathname(url.path)
    path = Path(location)
    if not path.is_file():
        raise BadRequest(f'Snapshot file "{path}" does not exist')
    return path


def _check_member(member: tarfile.TarInfo, label: str) -> None:
    """Refuses a member that is not a plain file or folder of the snapshot layout."""
    name = member.name
    parts = name.split("/")
    if not all(storage.plain_name(part) for part in parts):
        raise BadInput(f"Snapshot {label}: unsafe path {name!r}")
    if member.isdir():
        if parts[0] == SEGMENTS and len(parts) <= 2:
            return
    elif member.isreg() and not member.issparse():
        if len(parts) == 1 and name in (storage.MANIFEST, CHECKSUMS):
            return
        if len(parts) == 3 and parts[0] == SEGMENTS:
            return
    else:
        raise BadInput(
            f"Snapshot {label}: {name!r} is not a plain file (links, devices, fifos and sparse "
            "files are refused)"
        )
    raise BadInput(f"Snapshot {label}: unexpected member {name!r} (not a snapshot's layout)")


def _unpack(
    archive: Path, into: Path, label: str
) -> tuple[dict[str, tuple[int, str]], bytes | None]:
    """Extracts the archive's folders and files by hand under `into`, once every header has
    passed `_check_member` (nothing is written before). Returns each extracted file's size and
    sha256 (hashed while copied), and the checksum list's bytes (kept out of `into`), if any."""
    found: dict[str, tuple[int, str]] = {}
    listed = None
    try:
        with tarfile.open(archive, mode="r:") as tar:
            members: list[tarfile.TarInfo] = []
            names: set[str] = set()
            for member in tar:
                _check_member(member, label)
                if member.name in names:
                    raise BadInput(f"Snapshot {label}: {member.name!r} is in it twice")
                names.add(member.name)
                members.append(member)
                if len(members) > MAX_MEMBERS:
                    raise BadInput(f"Snapshot {label}: more than {MAX_MEMBERS} members")
            into.mkdir()
            for member in members:
                target = into.joinpath(*member.name.split("/"))
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                data = tar.extractfile(member)
                assert data is not None  # a regular file always has data
                if member.name == CHECKSUMS:
                    if member.size > MAX_CHECKSUMS_BYTES:
                        raise BadInput(f"Snapshot {label}: {CHECKSUMS} is too large")
                    with data:
                        listed = data.read()
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with data, open(target, "wb") as out:
                    while chunk := data.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                found[member.name] = (member.size, digest.hexdigest())
    except (tarfile.TarError, EOFError) as e:
        raise BadInput(f"Snapshot {label} is not a readable snapshot archive: {e}") from None
    return found, listed


def _verify(
    found: dict[str, tuple[int, str]],
    listed: bytes | None,
    label: str,
    *,
    whole_file_checked: bool,
) -> None:
    """Every unpacked file against its entry in the checksum list, and the list against the
    files. A snapshot without a list passes only when the caller's checksum of the whole file
    has matched (see the module's docstring)."""
    if listed is None:
        if whole_file_checked:
            return
        raise BadInput(
            f"Snapshot {label} has no checksum list ({CHECKSUMS}): it was taken by a vqdb "
            "older than the list, so its contents cannot be verified. Recover it with its "
            "sha256 as `checksum` (the .checksum file beside it) to accept it"
        )
    try:
        parsed = json.loads(listed)
    except ValueError as e:
        raise BadInput(f"Snapshot {label}: unreadable {CHECKSUMS}: {e}") from None
    files = parsed.get("files") if isinstance(parsed, dict) else None
    version = parsed.get("format_version") if isinstance(parsed, dict) else None
    if version != CHECKSUMS_VERSION or not isinstance(files, dict):
        raise BadInput(
            f"Snapshot {label}: {CHECKSUMS} of format {version} is not a checksum list this "
            f"vqdb reads (format {CHECKSUMS_VERSION})"
        )
    for name, (size, digest) in sorted(found.items()):
        entry = files.get(name)
        if not isinstance(entry, dict):
            raise BadInput(f"Snapshot {label}: {name} is not in its checksum list ({CHECKSUMS})")
        if entry.get("size") != size:
            raise BadInput(
                f"Snapshot {label}: {name} is damaged: {size} bytes, its checksum list says "
                f"{entry.get('size')}"
            )
        if entry.get("sha256") != digest:
            raise BadInput(
                f"Snapshot {label}: {name} is damaged: its sha256 is {digest}, its checksum "
                f"list says {entry.get('sha256')}"
            )
    missing = sorted(set(files) - set(found))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BadInput(
            f"Snapshot {label}: {missing[0]}{more} is in its checksum list but not in the archive"
        )


def _rename(folder: Path, name: str, label: str) -> None:
    """Checks the unpacked manifest's format and writes the new collection name into it."""
    path = folder / storage.MANIFEST
    if not path.is_file():
        raise BadInput(f"Snapshot {label} holds no collection (no {storage.MANIFEST})")
    try:
        manifest = read_json(path)
    except ValueError as e:
        raise BadInput(f"Snapshot {label}: unreadable {storage.MANIFEST}: {e}") from None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version not in storage.READABLE_FORMATS:
        raise BadInput(
            f"Snapshot {label} has storage format {version}; this vqdb reads "
            f"{storage.FORMAT_VERSION}"
        )
    manifest["name"] = name
    write_json(path, manifest)


# ---- names and folders ------------------------------------------------------------------------


def folder_of(db: Database) -> Path:
    """Where snapshots are kept."""
    return _root(db) / "snapshots"


def _root(db: Database) -> Path:
    if db.path is None:
        raise BadInput(
            "snapshots need a storage folder: this database keeps everything in memory "
            "(open it with a path to use snapshots)"
        )
    return db.path


def folder_for(db: Database, collection_name: str, shard: int | None = None) -> Path:
    """The snapshot folder of the collection (NotFound if there is none of that name or
    alias), or of its shard `shard` (NotFound but for 0, the one shard)."""
    collection = db.collection(collection_name)
    folder = folder_of(db) / collection.name
    if shard is None:
        return folder
    if isinstance(collection, Collection):
        shards = [0]
    else:  # distributed (vqdb.cluster)
        from vqdb.cluster import snapshots as cluster_snapshots

        shards = cluster_snapshots.shard_ids(collection)
    if shard not in shards:
        raise NotFound(f"shard {shard} not found")
    return folder / "shards" / str(shard)
