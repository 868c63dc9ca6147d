"""``diameter validate``: check a message against its grammar."""
from __future__ import annotations

import json
import sys

import click

from ._input import read_message_bytes


@click.command()
@click.argument("hex_or_file")
@click.option("--strict", is_flag=True, help="Also report what RFC 6733 lets receivers accept.")
@click.option("--dialect", default=None,
              help="Check with a dialect's grammars, as a node does for a peer (3gpp, huawei).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def validate(hex_or_file: str, strict: bool, dialect: str | None, as_json: bool) -> None:
    """Check a message against its grammar; print findings, exit 1 when there are any.

    \b
    Example:
      diameter validate ccr.bin --dialect 3gpp
    """
    from ..validation import validate as run_validation
    rules = None
    if dialect is not None:
        from ..validation.dialects import DialectError
        from ..validation.dialects import dialect as get_dialect
        try:
            rules = get_dialect(dialect).rules
        except DialectError as e:
            raise click.ClickException(str(e)) from None
    findings = run_validation(read_message_bytes(hex_or_file), rules, strict=strict)
    if as_json:
        click.echo(json.dumps({"valid": not findings, "findings": [str(f) for f in findings]},
                              indent=2))
    else:
        for f in findings:
            click.echo(str(f))
        if not findings:
            click.echo("valid")
    if findings:
        sys.exit(1)
