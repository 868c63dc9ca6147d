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


def _read_message_input(hex_or_file: str) -> bytes:
    """Bytes from hex digits, a file of raw bytes, or stdin ('-')."""
    if hex_or_file == "-":
        return sys.stdin.buffer.read()
    try:
        return bytes.fromhex(hex_or_file)
    except ValueError:
        try:
            with open(hex_or_file, "rb") as f:
                return f.read()
        except OSError as e:
            raise click.ClickException(f"neither hex nor a readable file: {e}") from None


@main.command("json")
@click.argument("hex_or_file")
@click.option("--to-hex", is_flag=True,
              help="Read JSON (file or '-') and print the message's bytes as hex.")
def json_(hex_or_file: str, to_hex: bool) -> None:
    """Print a message (hex, raw-bytes file or '-') as JSON, or JSON back as hex (docs/json.md)."""
    from .codec.errors import DiameterError
    from .jsonview import dict_to_bytes, to_json
    try:
        if to_hex:
            import json as _json
            if hex_or_file == "-":
                text = sys.stdin.read()
            else:
                with open(hex_or_file, encoding="utf-8") as f:
                    text = f.read()
            click.echo(dict_to_bytes(_json.loads(text)).hex())
        else:
            click.echo(to_json(_read_message_input(hex_or_file)))
    except (DiameterError, ValueError, OSError) as e:
        raise click.ClickException(str(e)) from None


@main.command()
@click.argument("hex_or_file")
@click.option("--strict", is_flag=True, help="Also report what RFC 6733 lets receivers accept.")
@click.option("--dialect", default=None,
              help="Check with a dialect's grammars, as a node does for a peer (3gpp, huawei).")
def validate(hex_or_file: str, strict: bool, dialect: str | None) -> None:
    """Check a message against its grammar; print findings, exit 1 when there are any."""
    from .validation import validate as run_validation
    rules = None
    if dialect is not None:
        from .validation.dialects import DialectError
        from .validation.dialects import dialect as get_dialect
        try:
            rules = get_dialect(dialect).rules
        except DialectError as e:
            raise click.ClickException(str(e)) from None
    findings = run_validation(_read_message_input(hex_or_file), rules, strict=strict)
    for f in findings:
        click.echo(str(f))
    if findings:
        sys.exit(1)
    click.echo("valid")


if __name__ == "__main__":
    main()
