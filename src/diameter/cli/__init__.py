"""The ``diameter`` command line: one module per subcommand, loaded on first use.

``main`` is a click group whose subcommands are imported only when run (or
listed by ``--help``), so ``diameter decode`` does not pay for ``bench``.
A subcommand whose module is not installed is simply not offered.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Any

import click

__all__ = ["main", "LazyGroup", "SUBCOMMANDS"]

# name -> "module:attribute"; modules missing from this installation are left out.
SUBCOMMANDS: dict[str, str] = {
    "bench": "diameter.cli.bench:bench",
    "decode": "diameter.cli.decode:decode",
    "demo": "diameter.cli.demo:demo",
    "dict": "diameter.cli.dictcmd:dict_",
    "encode": "diameter.cli.encode:encode",
    "json": "diameter.cli.jsoncmd:json_",
    "ocs": "diameter.cli.ocs:ocs",
    "replay": "diameter.cli.replay:replay",
    "send": "diameter.cli.send:send",
    "serve": "diameter.cli.serve:serve",
    "validate": "diameter.cli.validate:validate",
}


def _available(target: str) -> bool:
    module = target.partition(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class LazyGroup(click.Group):
    """A click group whose subcommands are ``"module:attr"`` strings imported on demand."""

    def __init__(self, *args: Any, lazy_subcommands: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = {n: t for n, t in (lazy_subcommands or {}).items()
                                 if _available(t)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_subcommands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, lazy_subcommands=SUBCOMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="diameter")
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv: debug).")
def main(verbose: int) -> None:
    """Diameter (RFC 6733) tools: decode captures, encode, send, serve, bench, dict.

    Exit codes: 0 ok, 1 findings or failed requests, 2 usage.

    \b
    Example:
      diameter decode capture.pcap --stats
    """
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(stream=sys.stderr, level=level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
