"""``diameter decode``: decode messages from hex, base64, files, stdin."""
from __future__ import annotations

import click

from ._input import read_message_bytes


@click.command()
@click.argument("source")
def decode(source: str) -> None:
    """Decode a message given as hex, base64, a file or '-' (stdin) and dump it."""
    from ..codec.errors import DecodeError
    from ..message import Message, dump
    data = read_message_bytes(source)
    try:
        click.echo(dump(Message.from_bytes(data)), nl=False)
    except DecodeError as e:
        raise click.ClickException(f"not a valid Diameter message: {e}") from None
