"""Snapshots against a real `vqdb serve`, as an attacker would send them: crafted uploads
(refused with 400, nothing outside the storage read, written or deleted), upload and
download limits from the server's `snapshots` settings (413 for uploads), and recovery from a
URL that redirects (the api key never leaves the URL's origin)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from served import Server
from snapshot_files import plant_foreign_segment, snapshot_files, tree
from web import Answer, Site

POINTS = [{"id": i, "vector": [i, 1, 0, 0]} for i in range(10)]


def make_collection(http: httpx.Client, name: str) -> bytes:
    """A collection of 10 points; returns its snapshot, downloaded."""
    http.delete(f"/collections/{name}")
    assert http.put(f"/collections/{name}", json={"vectors": {"size": 4, "distance": "Dot"}})
    put = http.put(f"/collections/{name}/points?wait=true", json={"points": POINTS})
    assert put.status_code == 200, put.text
    taken = http.post(f"/collections/{name}/snapshots?wait=true").json()["result"]
    file = http.get(f"/collections/{name}/snapshots/{taken['name']}")
    assert file.status_code == 200
    return file.content


def count(http: httpx.Client, name: str) -> int:
    found = http.post(f"/collections/{name}/points/count", json={})
    assert found.status_code == 200, found.text
    return int(found.json()["result"]["count"])


def upload(http: httpx.Client, name: str, data: bytes, query: str = "") -> httpx.Response:
    return http.post(
        f"/collections/{name}/snapshots/upload{query}",
        files={"snapshot": ("s.snapshot", data)},
    )


def archive(files: dict[str, bytes], *extra: tarfile.TarInfo) -> bytes:
    """A tar of `files` with a correct checksum list (anyone can write one), then `extra`
    headers without data (links, devices)."""
    listed = {
        n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()
    }
    body = json.dumps({"format_version": 1, "files": listed}).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in {**files, "checksums.json": body}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return out.getvalue()


def link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_crafted_uploads_are_refused(http: httpx.Client, server: Server, tmp_path: Path) -> None:
    snapshot = make_collection(http, "crafted")
    files = snapshot_files(snapshot)
    manifest = json.loads(files["collection.json"])
    segment = manifest["segments"][0]["name"]
    own = {n: d for n, d in files.items() if n.startswith(f"segments/{segment}/")}
    # a foreign folder holding a copy of that segment, outside the server's storage
    sentinel = tmp_path / "sentinel"
    foreign = plant_foreign_segment(sentinel, own)
    untouched = tree(sentinel)
    manifest["segments"][0]["name"] = str(foreign)
    absolute = {**files, "collection.json": json.dumps(manifest).encode()}
    some_file = next(iter(own))
    flipped = bytearray(snapshot)
    with tarfile.open(fileobj=io.BytesIO(snapshot)) as tar:
        member = tar.getmember(some_file)
    flipped[member.offset_data + member.size - 1] ^= 0x01

    bad = {
        "absolute segment in the manifest": (archive(absolute), "segment name"),
        "`..` member": (archive({**files, "segments/../../../x": b"x"}), "unsafe path"),
        "absolute member": (archive({**files, str(sentinel / "new"): b"x"}), "unsafe path"),
        "symlink member": (
            archive(files, link(f"segments/{segment}/x", tarfile.SYMTYPE, str(foreign))),
            "not a plain file",
        ),
        "hardlink member": (
            archive(
                files, link(f"segments/{segment}/y", tarfile.LNKTYPE, str(sentinel / "secret.txt"))
            ),
            "not a plain file",
        ),
        "flipped bit in a segment file": (bytes(flipped), "is damaged"),
    }
    for case, (data, message) in bad.items():
        for name in ("crafted", "crafted-new"):
            refused = upload(http, name, data)
            assert refused.status_code == 400, (case, refused.text)
            assert message in refused.json()["status"]["error"], case
        assert tree(sentinel) == untouched, case
    assert count(http, "crafted") == 10
    assert http.get("/collections/crafted-new/exists").json()["result"] == {"exists": False}
    assert not list(server.storage.glob(".recover-*"))
    assert upload(http, "crafted-new", snapshot).status_code == 200  # the real one still works
    assert count(http, "crafted-new") == 10
    http.delete("/collections/crafted")
    http.delete("/collections/crafted-new")


def test_long_names_are_4xx(http: httpx.Client) -> None:
    long = "n" * 255
    assert make_collection(http, long)  # its snapshot's name is cut to fit
    listed = http.get(f"/collections/{long}/snapshots").json()["result"]
    assert len(listed) == 1 and len(listed[0]["name"].encode()) <= 255 - len(".checksum")
    for path in (f"/collections/{'n' * 256}", f"/collections/{'é' * 128}"):
        created = http.put(path, json={"vectors": {"size": 4, "distance": "Dot"}})
        assert created.status_code == 422, created.text  # Qdrant's validation error
        assert "255 characters" in created.text or "255 bytes" in created.text
    for snapshot in ("s" * 300 + ".snapshot", "é" * 200 + ".snapshot"):
        for method in ("GET", "DELETE"):
            answer = http.request(method, f"/collections/{long}/snapshots/{snapshot}")
            assert answer.status_code == 400, answer.text
    http.delete(f"/collections/{long}")


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    yield served
    served.close()


def test_redirects_never_carry_the_api_key_away(http: httpx.Client, site: Site) -> None:
    """The recover request's api_key goes to the URL's own origin (a redirect there keeps it)
    and never to another one: here another host name and port, a second real server."""
    snapshot = make_collection(http, "moved")
    http.post("/collections/moved/points/delete?wait=true", json={"points": [1, 2]})
    elsewhere = Site()
    try:
        elsewhere.at("/s", Answer(body=snapshot))
        site.at("/s", Answer(body=snapshot))
        site.at("/here", Answer(302, headers={"Location": "/s"}))
        site.at("/away", Answer(307, headers={"Location": elsewhere.url("/s", "localhost")}))
        for path in ("/here", "/away"):
            body = {"location": site.url(path), "api_key": "the-key"}
            recovered = http.put("/collections/moved/snapshots/recover", json=body)
            assert recovered.status_code == 200, recovered.text
            assert count(http, "moved") == 10
            http.post("/collections/moved/points/delete?wait=true", json={"points": [1, 2]})
        assert [h.get("api-key") for h in site.headers_at("/here")] == ["the-key"]
        assert [h.get("api-key") for h in site.headers_at("/s")] == ["the-key"]
        assert [h.get("api-key") for h in site.headers_at("/away")] == ["the-key"]
        arrived = elsewhere.headers_at("/s")
        assert len(arrived) == 1 and arrived[0]["host"] == f"localhost:{elsewhere.port}"
        assert "api-key" not in arrived[0] and "authorization" not in arrived[0]
    finally:
        elsewhere.close()
        http.delete("/collections/moved")


@pytest.fixture(scope="module")
def limited(start_server: Callable[..., Server]) -> Iterator[httpx.Client]:
    """A server with tiny snapshot limits, downloading only from 127.0.0.1."""
    server = start_server(
        {
            "VQDB__SNAPSHOTS__MAX_UPLOAD_SIZE_MB": "1",
            "VQDB__SNAPSHOTS__MAX_DOWNLOAD_SIZE_MB": "1",
            "VQDB__SNAPSHOTS__DOWNLOAD_TIMEOUT_SEC": "1",
            "VQDB__SNAPSHOTS__DOWNLOAD_HOSTS": "127.0.0.1",
        }
    )
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def multipart(data: bytes, boundary: str = "b0undary") -> tuple[dict[str, str], bytes]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="snapshot"; '
        'filename="s.snapshot"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    return headers, head + data + f"\r\n--{boundary}--\r\n".encode()


def test_upload_limit(limited: httpx.Client) -> None:
    snapshot = make_collection(limited, "up")
    big = snapshot + bytes(2 << 20)
    refused = upload(limited, "up", big)  # with Content-Length: refused before it is read
    assert refused.status_code == 413, refused.text
    assert "snapshots.max_upload_size_mb" in refused.json()["status"]["error"]
    headers, body = multipart(big)

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off on the bytes received
        for start in range(0, len(body), 64 << 10):
            yield body[start : start + (64 << 10)]

    chunked = limited.post("/collections/up/snapshots/upload", headers=headers, content=chunks())
    assert chunked.status_code == 413, chunked.text
    headers, body = multipart(snapshot)
    fine = limited.post(
        "/collections/up/snapshots/upload",
        headers=headers,
        content=iter([body[:1000], body[1000:]]),
    )
    assert fine.status_code == 200, fine.text
    assert count(limited, "up") == 10
    limited.delete("/collections/up")


def test_download_limits(limited: httpx.Client, site: Site) -> None:
    site.at("/big", Answer(body=bytes(2 << 20)))
    site.at("/unsized", Answer(body=bytes(2 << 20), length=False))
    site.at("/slow", Answer(body=bytes(400), trickle=0.02))
    site.at("/away", Answer(302, headers={"Location": site.url("/big", "localhost")}))
    refused = {
        site.url("/big"): "snapshots.max_download_size_mb",
        site.url("/unsized"): "snapshots.max_download_size_mb",
        site.url("/slow"): "snapshots.download_timeout_sec",
        site.url("/big", "localhost"): "snapshots.download_hosts",
        site.url("/away"): "snapshots.download_hosts",
    }
    make_collection(limited, "down")
    for location, message in refused.items():
        answer = limited.put("/collections/down/snapshots/recover", json={"location": location})
        assert answer.status_code == 400, answer.text
        assert message in answer.json()["status"]["error"], location
    assert all(h["host"] == f"127.0.0.1:{site.port}" for _, h in site.requests)
    assert count(limited, "down") == 10
    limited.delete("/collections/down")


def test_malformed_upload_forms(http: httpx.Client) -> None:
    snapshot = make_collection(http, "forms")
    headers, body = multipart(snapshot)
    other = body.replace(b'name="snapshot"', b'name="other"')
    malformed = {
        "not a form": ({"content-type": "application/json"}, b"{}"),
        "no snapshot field": (headers, other),
        "two snapshot fields": (
            headers,
            body[: -len(b"--\r\n")] + b"\r\n" + body.split(b"\r\n", 1)[1],
        ),
        "cut short": (headers, body[: len(body) // 2]),
    }
    for case, (sent_headers, sent) in malformed.items():
        answer = http.post(
            "/collections/forms/snapshots/upload", headers=sent_headers, content=sent
        )
        assert answer.status_code == 400, (case, answer.text)
    assert count(http, "forms") == 10
    assert (
        http.post("/collections/forms/snapshots/upload", headers=headers, content=body).status_code
        == 200
    )
    http.delete("/collections/forms")
