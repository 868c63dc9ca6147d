"""``diameter demo``: build, encode, decode and dump a Gy CCR and its CCA."""
from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Build, encode, decode and dump a Gy CCR and its CCA.

    \b
    Example:
      diameter demo
    """
    from ..demo import run
    click.echo(run())
