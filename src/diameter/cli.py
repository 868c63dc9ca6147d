"""The ``diameter`` command line."""
from __future__ import annotations

import sys

import click


@click.group()
@click.version_option(package_name="diameter")
def main() -> None:
    """Diameter (RFC 6733) tools: codec, dictionary, node."""


@main.command()
def demo() -> None:
    """Build, encode, decode and dump a Gy CCR and its CCA."""
    from .demo import run
    click.echo(run())


@main.command()
@click.argument("hex_or_file")
def decode(hex_or_file: str) -> None:
    """Decode a message given as hex digits or a file of raw bytes ('-' reads stdin) and dump it."""
    from .codec.errors import DecodeError
    from .message import Message, dump
    if hex_or_file == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = bytes.fromhex(hex_or_file)
        except ValueError:
            with open(hex_or_file, "rb") as f:
                data = f.read()
    try:
        click.echo(dump(Message.from_bytes(data)), nl=False)
    except DecodeError as e:
        raise click.ClickException(f"not a valid Diameter message: {e}") from None


if __name__ == "__main__":
    main()
