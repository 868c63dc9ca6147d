"""``diameter replay``: play the requests of a capture to a live peer."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import click

from .send import connection_options

log = logging.getLogger("diameter.cli.replay")

_PEER_LEVEL = (257, 280, 282)
_DROP = {(0, 282), (0, 284), (0, 293)}  # Route-Record, Proxy-Info, Destination-Host
SESSION_ID, ORIGIN_HOST, ORIGIN_REALM, DESTINATION_REALM = 263, 264, 296, 283


@dataclass
class _Item:
    frame: int
    offset: float
    doc: dict[str, Any]
    label: str
    session: str | None
    captured_result: int | None = None
    result: int | None = None
    latency: float | None = None
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


def load_requests(path: str, ports: frozenset[int] | None, commands: tuple[str, ...],
                  session_ids: tuple[str, ...]) -> list[_Item]:
    """The capture's requests (each once: relayed copies and retransmissions share
    Origin-Host and End-to-End id), with the captured answer's Result-Code."""
    from ._input import read_source
    from .capture import CaptureError, read_capture
    from .decode import _Filter
    from .summary import summarize
    data = read_source(path)
    flt = _Filter(commands, (), session_ids, (), ())
    items: list[_Item] = []
    seen: dict[tuple[str | None, int], _Item] = {}
    by_hop: dict[tuple[Any, ...], _Item] = {}
    first: float | None = None
    try:
        messages = list(read_capture(io.BytesIO(data), ports))
    except CaptureError as e:
        raise click.ClickException(f"{path}: {e}") from None
    for m in messages:
        try:
            s = summarize(m.data)
        except Exception as e:  # noqa: BLE001 - a broken message is skipped, not fatal
            log.warning("frame %d skipped: %s", m.frame, e)
            continue
        if s.request:
            if s.command_code in _PEER_LEVEL or (flt and not flt.match(s)):
                continue
            key = (s.origin_host, s.end_to_end)
            item = seen.get(key)
            if item is None:
                first = m.time if first is None else first
                item = _Item(m.frame, m.time - first, s.doc, s.label, s.session_id)
                seen[key] = item
                items.append(item)
            by_hop[(*m.flow, s.hop_by_hop)] = item
        else:
            item = by_hop.get((m.dst, m.dport, m.src, m.sport, s.hop_by_hop))
            if item is not None and item.captured_result is None:
                item.captured_result = s.result_code
    return items


def rewrite(doc: dict[str, Any], origin_host: str, origin_realm: str,
            destination_realm: str | None, sessions: dict[str, str], new_session: Any) -> None:
    """Our identity instead of the captured one; Session-Ids mapped consistently."""
    from ._avpindex import _complete_avp
    avps = [a for a in doc["avps"] if (a["vendor_id"], a["code"]) not in _DROP]
    for a in avps:
        if a["vendor_id"] != 0:
            continue
        if a["code"] == SESSION_ID and "value" in a:
            a["value"] = sessions.setdefault(a["value"], new_session())
        elif a["code"] == ORIGIN_HOST:
            a.pop("raw", None)
            a["value"] = origin_host
        elif a["code"] == ORIGIN_REALM:
            a.pop("raw", None)
            a["value"] = origin_realm
        elif a["code"] == DESTINATION_REALM and destination_realm:
            a.pop("raw", None)
            a["value"] = destination_realm
    doc["avps"] = [_complete_avp(a, 0) if "code" not in a else a for a in avps]
    doc["header"]["flags"]["retransmit"] = False


@click.command()
@click.argument("capture", type=click.Path(exists=True, dir_okay=False))
@connection_options
@click.option("-p", "--port", "ports", multiple=True, type=click.IntRange(1, 65535),
              help="Port carrying Diameter in the capture (repeatable; default 3868).")
@click.option("--any-port", is_flag=True, help="Look for Diameter on every stream.")
@click.option("-c", "--command", "commands", multiple=True, help="Only these commands.")
@click.option("-s", "--session-id", "session_ids", multiple=True,
              help="Only these Session-Ids (wildcards allowed).")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Keep the capture's relative timing, sped up by this factor.")
@click.option("--fast", is_flag=True,
              help="As fast as possible (each session's requests still in order).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def replay(capture: str, target: str, transport: str | None, origin_host: str | None,
           origin_realm: str | None, destination_realm: str | None, ca: str | None,
           cert: str | None, key: str | None, insecure: bool, timeout: float,
           ports: tuple[int, ...], any_port: bool, commands: tuple[str, ...],
           session_ids: tuple[str, ...], speed: float, fast: bool, as_json: bool) -> None:
    """Play the requests of a pcap/pcapng capture to a live peer.

    Each request is sent once (relayed copies and T-flag retransmissions in
    the capture are recognised), with our Origin-Host/Realm, new Session-Ids
    (one per captured session), new Hop-by-Hop and End-to-End ids, and without
    Route-Record, Proxy-Info and Destination-Host. A session's requests go in
    order, each after the previous answer. Exit status: 0 every request got the
    Result-Code seen in the capture, 1 otherwise, 2 usage error.

    \b
    Example:
      diameter replay gy.pcapng --to 127.0.0.1:3868 --origin-host cli.example --fast
    """
    port_set = None if any_port else frozenset(ports or (3868,))
    items = load_requests(capture, port_set, commands, session_ids)
    if not items:
        click.echo("no requests to replay in the capture", err=True)
        sys.exit(1)
    apps = tuple(sorted({int(i.doc["header"]["application_id"]) for i in items} - {0}))
    results = asyncio.run(_run(items, target, transport, origin_host, origin_realm,
                               destination_realm, ca, cert, key, insecure, timeout, apps,
                               0.0 if fast else speed))
    if results is None:
        sys.exit(1)
    same = sum(1 for i in items if i.result == i.captured_result and i.error is None)
    summary: dict[str, Any] = {"requests": len(items), "answered": sum(1 for i in items if i.error is None),
               "same_result_as_captured": same,
               "results": [{"frame": i.frame, "message": i.label, "session_id": i.session,
                            "result_code": i.result, "captured_result_code": i.captured_result,
                            "latency_ms": None if i.latency is None else round(i.latency * 1e3, 3),
                            "error": i.error} for i in items]}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        for r in summary["results"]:
            mark = "" if r["result_code"] == r["captured_result_code"] else "  <-- differs"
            outcome = r["error"] or f"result={r['result_code']} ({r['latency_ms']:.3f} ms)"
            click.echo(f"frame {r['frame']:<6} {r['message']:<8} {r['session_id'] or '':<40} "
                       f"{outcome}, captured {r['captured_result_code']}{mark}")
        click.echo(f"{summary['answered']}/{summary['requests']} answered, "
                   f"{same} with the captured Result-Code")
    if same != len(items):
        sys.exit(1)


async def _run(items: list[_Item], target: str, transport: str | None, origin_host: str | None,
               origin_realm: str | None, destination_realm: str | None, ca: str | None,
               cert: str | None, key: str | None, insecure: bool, timeout: float,
               apps: tuple[int, ...], speed: float) -> bool | None:
    from ..jsonview import dict_to_bytes
    from ._client import ClientError
    from .send import open_connection
    try:
        conn = await open_connection(target, transport, origin_host, origin_realm, ca, cert, key,
                                     insecure, timeout, apps)
    except ClientError as e:
        click.echo(f"Error: {e}", err=True)
        return None
    sessions: dict[str, str] = {}
    previous: dict[str | None, _Item] = {}
    start = time.perf_counter()

    async def play(item: _Item, before: _Item | None) -> None:
        try:
            if before is not None:
                await before.done.wait()
            if speed > 0:
                delay = start + item.offset / speed - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            rewrite(item.doc, conn.identity.origin_host, conn.identity.origin_realm,
                    destination_realm, sessions, conn.identity.session_id)
            hbh, e2e = conn.next_ids()
            item.doc["header"]["hop_by_hop_identifier"] = hbh
            item.doc["header"]["end_to_end_identifier"] = e2e
            answer = await conn.request(dict_to_bytes(item.doc), timeout=timeout,
                                        assign_ids=False)
            item.result, item.latency = answer.result_code, answer.latency
        except (ClientError, asyncio.TimeoutError) as e:
            item.error = f"no answer: {e or 'timeout'}"
        finally:
            item.done.set()

    tasks = []
    for item in items:
        before = previous.get(item.session) if item.session is not None else None
        previous[item.session] = item
        tasks.append(asyncio.create_task(play(item, before)))
    await asyncio.gather(*tasks)
    await conn.close()
    return True
