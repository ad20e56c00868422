"""Distributed collections' settings and what happens without Ray (no cluster needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import vqdb
from vqdb.server import settings


def test_the_ray_address_setting_in_every_layer(tmp_path: Path) -> None:
    assert settings.load(None, {}).cluster.ray_address is None  # one process, as before
    file = tmp_path / "config.yaml"
    file.write_text("cluster:\n  ray_address: head:6379\n")
    assert settings.load(file, {}).cluster.ray_address == "head:6379"
    from_env = settings.load(file, {"VQDB__CLUSTER__RAY_ADDRESS": "auto"})
    assert from_env.cluster.ray_address == "auto"
    flag = settings.load(file, {}, {"cluster.ray_address": "ray://head:10001"})
    assert flag.cluster.ray_address == "ray://head:10001"
    with pytest.raises(ValueError, match="cluster.ray_adress"):
        settings.load(None, {"VQDB__CLUSTER__RAY_ADRESS": "auto"})


def test_without_ray_a_ray_address_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vqdb.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(RuntimeError, match=r"pip install 'vqdb\[cluster\]'"):
        vqdb.Client(":memory:", ray_address="auto")
    assert main(["serve", "--storage", str(tmp_path), "--ray-address", "auto"]) == 2
    assert "vqdb[cluster]" in capsys.readouterr().err
    with vqdb.Client(":memory:") as client:  # without an address nothing needs Ray
        client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
        assert client.count("c").count == 0
