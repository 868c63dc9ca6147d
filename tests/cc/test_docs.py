"""docs/credit-control.md: its python blocks run as written; every test it names exists."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "credit-control.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)


@pytest.mark.parametrize("n", range(len(BLOCKS)))
def test_python_blocks_run(n, capsys):
    exec(compile(BLOCKS[n], f"credit-control.md block {n}", "exec"), {"__name__": "__doc_block__"})
    assert capsys.readouterr().out  # every example prints what it did


def test_named_tests_exist():
    defined = set()
    for f in (ROOT / "tests" / "cc").glob("test_*.py"):
        defined |= {n.name for n in ast.walk(ast.parse(f.read_text())) if isinstance(n, ast.FunctionDef)}
    named = {m.split("[")[0] for m in re.findall(r"`(test_[a-z0-9_]+(?:\[[^\]]*\])?)`", DOC)}
    assert len(named) > 60 and named <= defined, sorted(named - defined)
