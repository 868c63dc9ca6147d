"""Generate the typed grouped-AVP classes and command classes.

`generate_classes(dictionary)` returns {path: source text} for
`message/avp/grouped/` (one module per specification) and `message/commands/*.py`. Inputs:

- the dictionary (AVP types and grammars, commands, applications);
- `data/python-api.toml`: python-diameter 0.9.0's class and attribute names,
  produced by tools/extract_pydiameter_api.py. Its names, attributes, list
  attributes and defaults are kept as they are (they are API); the
  dictionary's grammars add further members after them.

Members that name an AVP the dictionary lacks are skipped with a warning.

The work is split by what is generated: :mod:`.gen_model` (names, members),
:mod:`.gen_grouped` (grouped AVP classes), :mod:`.gen_commands` (command classes).
"""
from __future__ import annotations

from pathlib import Path

from .gen_commands import build_commands, render_command, render_init
from .gen_grouped import build_grouped, render_grouped, render_grouped_stub, shard_names
from .gen_model import (API_FILE, COMMANDS_DIR, GROUPED_PATH, HEADER, PACKAGE_DIR, Warn, camel,
                        load_api, snake)
from .source import Dictionary

__all__ = ["API_FILE", "COMMANDS_DIR", "GROUPED_PATH", "HEADER", "PACKAGE_DIR", "camel",
           "generate_classes", "load_api", "snake"]


def generate_classes(dictionary: Dictionary, api: dict | None = None,
                     warn: Warn | None = None) -> dict[Path, str]:
    """Source text of the grouped and command modules, keyed by absolute path."""
    if api is None:
        api = load_api()
    if warn is None:
        def warn(msg: str) -> None:
            print(f"warning: {msg}")
    classes, class_for = build_grouped(dictionary, api, warn)
    known = {c.name for c in classes} | {a for c in classes for a in c.aliases}
    modules = build_commands(dictionary, api, class_for, known, warn)
    out: dict[Path, str] = {GROUPED_PATH.with_name(f"{mod}.py"): text for mod, text
                            in render_grouped(classes, shard_names(dictionary, classes)).items()}
    out[GROUPED_PATH.with_suffix(".pyi")] = render_grouped_stub(classes)
    for cm in modules:
        out[COMMANDS_DIR / f"{cm.module}.py"] = render_command(cm, dictionary, known)
    out[COMMANDS_DIR / "__init__.py"] = render_init(modules, api)
    return out
