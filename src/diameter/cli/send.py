"""``diameter send``: requests to a live peer over TCP, TLS or SCTP; answers printed."""
from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

import click

from ._input import read_document

log = logging.getLogger("diameter.cli.send")

_SUCCESS = range(2000, 3000)


def connection_options(f: Any) -> Any:
    """--to, --transport, identity and TLS options shared by send, replay and bench."""
    opts = [
        click.option("--to", "target", required=True,
                     help="Peer: host[:port] or aaa://host:port;transport=tcp|sctp, aaas:// (TLS)."),
        click.option("--transport", type=click.Choice(["tcp", "tls", "sctp"]), default=None,
                     help="Transport (default tcp, or what the aaa:// URI says)."),
        click.option("--origin-host", default=None, help="Our Origin-Host (default: this host's FQDN)."),
        click.option("--origin-realm", default=None, help="Our Origin-Realm (default: its domain)."),
        click.option("--destination-realm", default=None,
                     help="Destination-Realm for requests that lack one (default: the peer's realm)."),
        click.option("--ca", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="TLS: CA certificates to verify the peer."),
        click.option("--cert", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="TLS: our certificate."),
        click.option("--key", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="TLS: our private key."),
        click.option("--insecure", is_flag=True, help="TLS: do not verify the peer's certificate."),
        click.option("--timeout", type=float, default=10.0, show_default=True,
                     help="Seconds to wait for connection, CEA and each answer."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


async def open_connection(target: str, transport: str | None, origin_host: str | None,
                          origin_realm: str | None, ca: str | None, cert: str | None,
                          key: str | None, insecure: bool, timeout: float,
                          apps: tuple[int, ...]) -> Any:
    from ._client import Connection, Identity, parse_target, ssl_context
    host, port, uri_transport = parse_target(target)
    kind = transport or uri_transport or "tcp"
    ctx = ssl_context(ca, cert, key, insecure) if kind == "tls" else None
    identity = Identity.default(origin_host, origin_realm)
    return await Connection.open(identity, host, port, transport=kind, ssl_context=ctx,
                                 timeout=timeout, apps=apps)


def build_requests(documents: tuple[str, ...], command: str | None, settings: tuple[str, ...],
                   application: str | None) -> list[dict[str, Any]]:
    from ._avpindex import complete_document
    from ._fill import apply_settings
    docs: list[Any] = []
    for d in documents:
        loaded = read_document(d)
        docs += loaded if isinstance(loaded, list) else [loaded]
    if command is not None:
        header: dict[str, Any] = {"command": command}
        if application is not None:
            header["application"] = application
        docs.append({"header": header, "avps": []})
    if not docs:
        raise click.UsageError("give request documents (JSON/YAML) or --command")
    out = []
    for d in docs:
        full = complete_document(d)
        apply_settings(full, settings)
        if not full["header"]["flags"].get("request"):
            raise click.UsageError(f"not a request: {d.get('header')}")
        out.append(full)
    return out


def _show(data: bytes, as_json: bool, brief: bool, extra: list[str]) -> dict[str, Any] | None:
    from .summary import summarize
    from .tree import render_message
    s = summarize(data)
    if as_json:
        return s.doc
    if brief:
        click.echo(f"{s.label} {s.session_id or ''} result={s.result_code} " + " ".join(extra))
    else:
        click.echo(render_message(s, extra))
        click.echo()
    return None


@click.command()
@click.argument("documents", nargs=-1)
@connection_options
@click.option("-c", "--command", default=None,
              help="Send this command (CCR, ULR, DWR, 272...) built from --set values.")
@click.option("-a", "--application", default=None,
              help="Application of --command when its name is ambiguous (gy, gx, 4...).")
@click.option("--set", "settings", multiple=True, metavar="AVP=VALUE",
              help="Set an AVP (Group.Member=VALUE for members of a Grouped AVP; repeatable).")
@click.option("-n", "--count", type=click.IntRange(1), default=1, show_default=True,
              help="Send each request this many times (a new Session-Id each time).")
@click.option("--retransmit", is_flag=True,
              help="Send each request again with the T flag and the same End-to-End id; "
                   "report whether the answer was the same.")
@click.option("--show-request", is_flag=True, help="Print each request before its answer.")
@click.option("-b", "--brief", is_flag=True, help="One line per answer.")
@click.option("--json", "as_json", is_flag=True, help="Print requests and answers as JSON.")
def send(documents: tuple[str, ...], target: str, transport: str | None,
         origin_host: str | None, origin_realm: str | None, destination_realm: str | None,
         ca: str | None, cert: str | None, key: str | None, insecure: bool, timeout: float,
         command: str | None, application: str | None, settings: tuple[str, ...], count: int,
         retransmit: bool, show_request: bool, brief: bool, as_json: bool) -> None:
    """Connect, exchange CER/CEA, send requests, print the answers, DPR.

    DOCUMENTS are JSON or YAML message documents (a file may hold a list);
    missing Session-Id, Origin-Host/Realm, Destination-Realm and
    Auth-Application-Id are filled in. Exit status: 0 every answer 2xxx,
    1 an error answer, a timeout or a failed connection, 2 usage error.

    \b
    Examples:
      diameter send --to 127.0.0.1:3868 ccr-initial.yaml
      diameter send --to aaa://ocs.example:3868;transport=sctp -c CCR \\
          --set CC-Request-Type=INITIAL_REQUEST \\
          --set Multiple-Services-Credit-Control.Rating-Group=10
      diameter send --to 127.0.0.1 -c DWR --retransmit
    """
    from ..jsonview import JsonFormatError
    try:
        requests = build_requests(documents, command, settings, application)
    except JsonFormatError as e:
        raise click.UsageError(str(e)) from None
    apps = tuple(sorted({int(r["header"].get("application_id", 0)) for r in requests} - {0}))
    try:
        ok, out = asyncio.run(_run(requests, target, transport, origin_host, origin_realm,
                                   destination_realm, ca, cert, key, insecure, timeout, apps,
                                   count, retransmit, show_request, brief, as_json))
    except KeyboardInterrupt:
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    if not ok:
        sys.exit(1)


async def _run(requests: list[dict[str, Any]], target: str, transport: str | None,
               origin_host: str | None, origin_realm: str | None, destination_realm: str | None,
               ca: str | None, cert: str | None, key: str | None, insecure: bool, timeout: float,
               apps: tuple[int, ...], count: int, retransmit: bool, show_request: bool,
               brief: bool, as_json: bool) -> tuple[bool, list[dict[str, Any]]]:
    from ..jsonview import dict_to_bytes
    from ._client import ClientError
    from ._fill import fill_request
    try:
        conn = await open_connection(target, transport, origin_host, origin_realm, ca, cert, key,
                                     insecure, timeout, apps)
    except ClientError as e:
        click.echo(f"Error: {e}", err=True)
        return False, []
    ok = True
    out: list[dict[str, Any]] = []
    try:
        for template in requests:
            for _ in range(count):
                doc = json.loads(json.dumps(template))
                added = fill_request(doc, conn.identity.origin_host, conn.identity.origin_realm,
                                     destination_realm or conn.peer_realm,
                                     conn.identity.session_id())
                if added:
                    log.info("filled in %s", ", ".join(added))
                hbh, e2e = conn.next_ids()
                h = doc["header"]
                h["hop_by_hop_identifier"], h["end_to_end_identifier"] = hbh, e2e
                wire = dict_to_bytes(doc)
                if show_request and not as_json:
                    _show(wire, False, brief, ["sent"])
                try:
                    answer = await conn.request(wire, timeout=timeout, assign_ids=False)
                except (ClientError, asyncio.TimeoutError) as e:
                    click.echo(f"Error: no answer: {e or f'timeout after {timeout}s'}", err=True)
                    ok = False
                    out.append({"request": doc, "answer": None, "error": str(e) or "timeout"})
                    continue
                rc = answer.result_code
                ok = ok and rc in _SUCCESS
                record: dict[str, Any] = {"request": doc, "answer": answer.doc,
                                          "latency_ms": round(answer.latency * 1000, 3),
                                          "result_code": rc}
                notes = [f"Response time: {answer.latency * 1000:.3f} ms"]
                if retransmit:
                    same = await _retransmit(conn, wire, answer, timeout)
                    record["retransmission"] = same
                    notes.append("Retransmission (T flag, same End-to-End): " + same["verdict"])
                if as_json:
                    out.append(record)
                else:
                    _show(answer.data, False, brief, notes)
    finally:
        await conn.close()
    return ok, out


async def _retransmit(conn: Any, wire: bytes, first: Any, timeout: float) -> dict[str, Any]:
    import asyncio as _asyncio

    from ._client import ClientError
    again = bytearray(wire)
    again[4] |= 0x10  # T flag
    hbh, _ = conn.next_ids()
    again[12:16] = hbh.to_bytes(4, "big")  # a new hop, the same End-to-End id
    try:
        second = await conn.request(bytes(again), timeout=timeout, assign_ids=False)
    except (ClientError, _asyncio.TimeoutError) as e:
        return {"verdict": f"no answer ({e or 'timeout'})", "same": False}
    a, b = first.data, second.data
    same_body = a[20:] == b[20:]
    same_e2e = a[16:20] == b[16:20]
    if same_body and same_e2e:
        verdict = "same answer"
    else:
        verdict = ("different answer: " + ("AVPs differ" if not same_body else "") +
                   ("" if same_e2e else " End-to-End id differs")).strip()
    return {"verdict": verdict, "same": same_body and same_e2e,
            "result_code": second.result_code, "answer": second.doc}
