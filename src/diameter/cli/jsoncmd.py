"""``diameter json``: a message as JSON, or JSON back as hex (docs/json.md)."""
from __future__ import annotations

import click

from ._input import read_document, read_message_bytes


@click.command("json")
@click.argument("hex_or_file")
@click.option("--to-hex", is_flag=True,
              help="Read JSON/YAML (file or '-') and print the message's bytes as hex.")
def json_(hex_or_file: str, to_hex: bool) -> None:
    """Print a message (hex, base64, file or '-') as JSON, or JSON back as hex.

    \b
    Example:
      diameter json 010000...   > m.json
      diameter json --to-hex m.json
    """
    from ..codec.errors import DiameterError
    from ..jsonview import dict_to_bytes, to_json
    try:
        if to_hex:
            doc = read_document(hex_or_file)
            if not isinstance(doc, dict):
                raise click.ClickException("the document is not a JSON object")
            click.echo(dict_to_bytes(doc).hex())
        else:
            click.echo(to_json(read_message_bytes(hex_or_file)))
    except (DiameterError, ValueError) as e:
        raise click.ClickException(str(e)) from None
