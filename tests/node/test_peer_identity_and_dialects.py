"""add_peer takes a DiameterIdentity or an aaa:// URI; built-in dialects are not replaced by accident."""
from __future__ import annotations

from pathlib import Path

import pytest

from diameter.node.aio import DiameterNode
from diameter.validation.dialects import DialectError, dialect, load_dialect_file


def test_add_peer_parses_a_diameter_uri():
    node = DiameterNode("ocs.example.net", "example.net")
    p = node.add_peer("aaa://pcef1.example.net:3870;transport=sctp", addresses=["127.0.0.1"])
    assert (p.identity, p.port, p.transport, p.tls) == ("pcef1.example.net", 3870, "sctp", "none")
    assert node.peers["pcef1.example.net"] is p
    s = node.add_peer("aaas://secure.example.net")
    assert (s.identity, s.port, s.tls) == ("secure.example.net", 5658, "tls")
    q = node.add_peer("plain.example.net", port=3900)
    assert (q.identity, q.port) == ("plain.example.net", 3900)
    assert node.add_peer("aaa://other.example.net", port=4000).port == 4000


@pytest.mark.parametrize("bad", ["http://x.example.net", "host:3868", "a b", "x/y", ""])
def test_add_peer_rejects_what_is_not_an_identity(bad):
    node = DiameterNode("ocs.example.net", "example.net")
    with pytest.raises(ValueError):
        node.add_peer(bad)
    assert not node.peers


def test_a_dialect_file_does_not_replace_a_built_in_unless_asked(tmp_path: Path):
    path = tmp_path / "huawei.toml"
    path.write_text('[dialect]\nname = "huawei"\nbase = "3gpp"\n')
    builtin = dialect("huawei")
    with pytest.raises(DialectError, match="ships with the package"):
        load_dialect_file(path)
    assert dialect("huawei") is builtin
    try:
        replaced = load_dialect_file(path, replace=True)
        assert dialect("huawei") is replaced
    finally:
        from diameter.validation.dialects import register_dialect
        register_dialect(builtin, replace=True)
    assert dialect("huawei") is builtin
    mine = tmp_path / "mine.toml"
    mine.write_text('[dialect]\nname = "my-huawei"\nbase = "huawei"\n')
    assert load_dialect_file(mine).name == "my-huawei"
    assert load_dialect_file(mine).name == "my-huawei"      # a user's own: replaced freely
