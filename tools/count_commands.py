"""Count the generated typed command classes: applications, commands,
Request/Answer classes and their attributes.

    PYTHONPATH=src python3 tools/count_commands.py
"""
from __future__ import annotations

from diameter.dictionary.source import load_all
from diameter.message import commands as C
from diameter.message._base import DefinedMessage


def counts() -> dict[str, int]:
    bases = {cls for cls in C.all_commands.values()
             if isinstance(cls, type) and issubclass(cls, DefinedMessage)
             and hasattr(cls, "__module__") and cls.__module__.count(".") == 3}
    msgs = [getattr(__import__(b.__module__, fromlist=["_"]), b.__name__ + suffix)
            for b in bases for suffix in ("Request", "Answer")
            if hasattr(__import__(b.__module__, fromlist=["_"]), b.__name__ + suffix)]
    return {
        "applications in the dictionary": len(load_all().applications),
        "applications with typed commands": len({a for a, _ in C.commands_by_application}),
        "(application, command) bindings": len(C.commands_by_application),
        "command modules": len({b.__module__ for b in bases}),
        "Request/Answer classes": len(msgs),
        "attributes (avp_def entries)": sum(len(m.avp_def) for m in msgs),
    }


if __name__ == "__main__":
    for k, v in counts().items():
        print(f"{k}: {v}")
