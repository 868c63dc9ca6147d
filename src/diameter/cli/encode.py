"""``diameter encode``: a JSON or YAML message document into bytes, hex or base64."""
from __future__ import annotations

import base64
import sys

import click

from ._input import read_document


@click.command()
@click.argument("document", default="-")
@click.option("-f", "--format", "fmt", type=click.Choice(["hex", "base64", "bytes"]),
              default="hex", show_default=True, help="Output form.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of stdout.")
@click.option("--set", "settings", multiple=True, metavar="AVP=VALUE",
              help="Set (or add) a top-level AVP, e.g. --set Session-Id=gw;1 (repeatable).")
def encode(document: str, fmt: str, output: str | None, settings: tuple[str, ...]) -> None:
    """Encode a message document (JSON or YAML, file or '-') into wire bytes.

    The document is the JSON view of docs/json.md; names may replace codes:
    'command: CCR' instead of 'command_code: 272', AVPs as
    '{name: Session-Id, value: ...}', enum values by name.

    \b
    Examples:
      diameter encode ccr.yaml -f base64
      diameter encode ccr.json -f bytes -o ccr.bin --set CC-Request-Number=1
    """
    from ..jsonview import JsonFormatError, dict_to_bytes
    from ._avpindex import complete_document
    from ._fill import apply_settings
    doc = read_document(document)
    try:
        full = complete_document(doc)
        apply_settings(full, settings)
        wire = dict_to_bytes(full)
    except JsonFormatError as e:
        raise click.ClickException(str(e)) from None
    if fmt == "hex":
        data = (wire.hex() + "\n").encode()
    elif fmt == "base64":
        data = (base64.b64encode(wire).decode() + "\n").encode()
    else:
        data = wire
    if output:
        with open(output, "wb") as f:
            f.write(data)
    elif fmt == "bytes" and sys.stdout.isatty():
        raise click.UsageError("refusing to write raw bytes to a terminal; use -o FILE or a pipe")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
