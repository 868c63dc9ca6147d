"""Every code block of README.md and docs/*.md runs as written (docs/testing.md, "Docs").

- ```python: run in a fresh interpreter (this checkout's package first), in an empty
  temporary folder; blocks that need a peer start one themselves.
- ```json / ```toml: must parse.
- ```sh (bash, shell, console): run with bash in the same kind of folder, ``diameter``
  being this checkout's CLI; a block that cannot run here (it installs packages, runs
  the whole suite) is marked on the line before it: ``<!-- not run: <reason> -->``.
- ```text and other languages: not checked. A fence without a language is an error.

New files under docs/ are picked up without editing this test.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+)(?P<info>[^`\n]*)$")
NOT_RUN = re.compile(r"<!--\s*not run:\s*\S.*-->")
SHELLS = {"sh", "bash", "shell", "console"}


class Block:
    def __init__(self, path: Path, line: int, lang: str, code: str, marked: bool) -> None:
        self.path, self.line, self.lang, self.code, self.marked = path, line, lang, code, marked

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}:{self.lang or 'none'}"


def blocks(path: Path) -> list[Block]:
    out: list[Block] = []
    lines = path.read_text("utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, fence = i, m.group("fence")
        lang = m.group("info").strip().split(" ")[0].lower()
        indent = len(m.group("indent"))
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        marked = start > 0 and bool(NOT_RUN.search(lines[start - 1]))
        out.append(Block(path, start + 1, lang, "\n".join(body) + "\n", marked))
        i += 1
    return out


ALL = [b for p in DOCS for b in blocks(p)]


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC)
    shim = tmp / "_bin"
    shim.mkdir(exist_ok=True)
    cli = shim / "diameter"
    cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m diameter "$@"\n')
    cli.chmod(0o755)
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_docs_have_code_blocks():
    assert len(DOCS) >= 9 and sum(b.lang == "python" for b in ALL) >= 8


@pytest.mark.parametrize("block", ALL, ids=lambda b: b.id)
def test_code_block(block: Block, tmp_path: Path) -> None:
    where = f"{block.id}\n{block.code}"
    if not block.lang:
        pytest.fail(f"fence without a language (use ```text for output): {where}")
    if block.lang == "python":
        assert not block.marked, f"python blocks always run: {where}"
        out = subprocess.run([sys.executable, "-"], input=block.code, capture_output=True,
                             text=True, cwd=tmp_path, env=_env(tmp_path), timeout=120)
        assert out.returncode == 0, f"{where}\n--- stderr:\n{out.stderr[-4000:]}"
    elif block.lang == "json":
        json.loads(block.code)
    elif block.lang == "toml":
        tomllib.loads(block.code)
    elif block.lang in SHELLS:
        if block.marked:
            return          # marked: shown, not run (the reason is in the document)
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], capture_output=True,
                             text=True, cwd=tmp_path, env=_env(tmp_path), timeout=120)
        assert out.returncode == 0, f"{where}\n--- output:\n{out.stdout[-2000:]}{out.stderr[-4000:]}"
