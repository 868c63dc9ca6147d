"""``diameter decode``: messages from hex, base64, files, stdin and pcap/pcapng captures."""
from __future__ import annotations

import fnmatch
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ._input import (InputError, content_bytes, looks_like_capture, read_message_bytes,
                     read_source)
from ._names import APPLICATION_ALIASES, norm
from .capture import CaptureCounters, CapturedMessage, CaptureError, read_capture
from .summary import Summary, short_command, summarize

log = logging.getLogger("diameter.cli.decode")


def _split_exact(data: bytes) -> list[bytes]:
    """Concatenated messages whose header lengths add up exactly; else the whole input."""
    out, off = [], 0
    while off + 20 <= len(data) and data[off] == 1:
        length = int.from_bytes(data[off + 1:off + 4], "big")
        if length < 20 or off + length > len(data):
            break
        out.append(data[off:off + length])
        off += length
    return out if out and off == len(data) else [data]


def _sources(args: tuple[str, ...]) -> list[str]:
    if len(args) > 1 and not any(a == "-" or Path(a).is_file() for a in args if len(a) < 4096):
        return [" ".join(args)]  # hex typed with spaces, unquoted
    return list(args)


def _messages(source: str, ports: frozenset[int] | None,
              counters: CaptureCounters) -> Iterator[CapturedMessage]:
    raw = read_source(source) if (source == "-" or _is_file(source)) else None
    if raw is not None and looks_like_capture(raw):
        import io
        try:
            yield from read_capture(io.BytesIO(raw), ports, counters)
        except CaptureError as e:
            raise InputError(f"{source}: {e}") from None
        return
    data = read_message_bytes(source) if raw is None else content_bytes(raw)
    for i, m in enumerate(_split_exact(data), 1):
        yield CapturedMessage(i, 0.0, "", 0, "", 0, "input", m)


def _is_file(arg: str) -> bool:
    try:
        return Path(arg).is_file()
    except (OSError, ValueError):
        return False


class _Filter:
    def __init__(self, commands: tuple[str, ...], applications: tuple[str, ...],
                 session_ids: tuple[str, ...], result_codes: tuple[int, ...],
                 origin_hosts: tuple[str, ...]) -> None:
        self.commands = {norm(c) for c in commands}
        self.applications = applications
        self.session_ids = session_ids
        self.result_codes = set(result_codes)
        self.origin_hosts = origin_hosts

    def __bool__(self) -> bool:
        return bool(self.commands or self.applications or self.session_ids
                    or self.result_codes or self.origin_hosts)

    def match(self, s: Summary) -> bool:
        if self.commands:
            base = short_command(s.command_code, s.command_name).lower()
            names = {str(s.command_code), norm(s.command_name), base, norm(s.label),
                     base + ("r" if s.request else "a")}
            if not names & self.commands:
                return False
        if self.applications and not any(self._app(a, s) for a in self.applications):
            return False
        if self.session_ids and not any(fnmatch.fnmatchcase(s.session_id or "", p)
                                        for p in self.session_ids):
            return False
        if self.result_codes and s.result_code not in self.result_codes:
            return False
        if self.origin_hosts and not any(fnmatch.fnmatchcase(s.origin_host or "", p)
                                         for p in self.origin_hosts):
            return False
        return True

    @staticmethod
    def _app(text: str, s: Summary) -> bool:
        t = norm(text)
        if t.isdigit():
            return int(t) == s.application_id
        if t in APPLICATION_ALIASES:
            return APPLICATION_ALIASES[t] == s.application_id
        return t in norm(s.application_name)


def _record(m: CapturedMessage, s: Summary, extra: dict[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] = {"frame": m.frame}
    if m.transport != "input":
        rec.update(time=m.time, src=m.src, sport=m.sport, dst=m.dst, dport=m.dport,
                   transport=m.transport)
    rec.update(extra)
    rec["message"] = s.doc
    return rec


@click.command()
@click.argument("source", nargs=-1, required=True)
@click.option("-p", "--port", "ports", multiple=True, type=click.IntRange(1, 65535),
              help="TCP/SCTP port carrying Diameter in a capture (repeatable; default 3868).")
@click.option("--any-port", is_flag=True, help="Look for Diameter on every TCP/SCTP stream.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/json.md message form).")
@click.option("-b", "--brief", is_flag=True, help="One line per message instead of the tree.")
@click.option("-c", "--command", "commands", multiple=True,
              help="Only these commands: name, code, CCR/CCA/CCR-I, CER... (repeatable).")
@click.option("-a", "--application", "applications", multiple=True,
              help="Only these applications: id, name or gy/gx/s6a/sy... (repeatable).")
@click.option("-s", "--session-id", "session_ids", multiple=True,
              help="Only this Session-Id (shell wildcards allowed; repeatable).")
@click.option("-r", "--result-code", "result_codes", multiple=True, type=int,
              help="Only answers with this Result-Code / Experimental-Result-Code.")
@click.option("-o", "--origin-host", "origin_hosts", multiple=True,
              help="Only messages from this Origin-Host (wildcards allowed).")
@click.option("--stats", is_flag=True,
              help="Counts, Result-Codes, latency percentiles, unanswered, retransmissions.")
@click.option("--sessions", is_flag=True,
              help="A timeline per Session-Id (credit control: units per rating group).")
def decode(source: tuple[str, ...], ports: tuple[int, ...], any_port: bool, as_json: bool,
           brief: bool, commands: tuple[str, ...], applications: tuple[str, ...],
           session_ids: tuple[str, ...], result_codes: tuple[int, ...],
           origin_hosts: tuple[str, ...], stats: bool, sessions: bool) -> None:
    """Decode Diameter messages and print them as a tree (like tshark -V) or JSON.

    SOURCE is hex (any spacing, 0x prefixes, colons), base64, a file of raw
    bytes or of hex/base64 text, a pcap/pcapng capture, or '-' for stdin.
    Captures: TCP streams are reassembled (split, merged, retransmitted and
    out-of-order segments), SCTP DATA chunks are read; Ethernet, Linux cooked,
    loopback and raw IP link layers; IPv4 and IPv6.

    Exit status: 0 messages shown, 1 nothing matched or some message could
    not be decoded, 2 usage error.

    \b
    Examples:
      diameter decode 0x01:00:00:14:80:00:01:01:00:00:00:00:00:00:00:01:00:00:00:01
      diameter decode capture.pcapng -c CCR -s 'pgw1;*'
      diameter decode capture.pcapng --stats
      diameter decode capture.pcapng --sessions --json
    """
    from ..codec.errors import DecodeError
    from .capstats import CaptureStats
    from .sessions import SessionTimeline
    from .tree import endpoint, frame_line, render_message

    port_set = None if any_port else frozenset(ports or (3868,))
    flt = _Filter(commands, applications, session_ids, result_codes, origin_hosts)
    counters = CaptureCounters()
    stat = CaptureStats()
    timeline = SessionTimeline()
    records: list[dict[str, Any]] = []
    shown = bad = 0
    t0: float | None = None  # time of the first message shown (brief lines are relative)
    for src in _sources(source):
        for m in _messages(src, port_set, counters):
            try:
                s = summarize(m.data)
            except DecodeError as e:
                bad += 1
                stat.undecodable += 1
                if len(source) == 1 and m.transport == "input":
                    raise click.ClickException(f"not a valid Diameter message: {e}") from None
                log.warning("frame %d: not a valid Diameter message: %s", m.frame, e)
                continue
            if flt and not flt.match(s):
                stat.add(m, s, count=False)
                continue
            shown += 1
            latency = stat.add(m, s)
            if sessions:
                timeline.add(m, s, latency)
            if stats or sessions:
                continue
            extra: dict[str, Any] = {}
            if latency is not None:
                extra["latency_ms"] = round(latency * 1000, 3)
            if as_json:
                records.append(_record(m, s, extra))
            elif brief:
                t0 = m.time if t0 is None else t0
                where = (f"{m.frame:>6} {m.time - t0:10.6f} {endpoint(m.src, m.sport)} -> "
                         f"{endpoint(m.dst, m.dport)} " if m.transport != "input" else "")
                rc = f" {s.result_code}" if s.result_code is not None else ""
                lat = f" ({extra['latency_ms']:.3f} ms)" if "latency_ms" in extra else ""
                click.echo(f"{where}{s.label} hbh=0x{s.hop_by_hop:08x} "
                           f"{s.session_id or ''}{rc}{lat}")
            else:
                notes = [f"Response time: {extra['latency_ms']:.3f} ms"] if extra else []
                if m.transport != "input":
                    click.echo(frame_line(m.frame, m.time, m.src, m.sport, m.dst, m.dport,
                                          m.transport))
                click.echo(render_message(s, notes))
                click.echo()
    for note in counters.notes:
        log.warning("%s", note)
    if stats and sessions and as_json:
        click.echo(json.dumps({"stats": stat.as_dict(counters), "sessions": timeline.as_list()},
                              indent=2))
    elif stats or sessions:
        if stats:
            click.echo(json.dumps(stat.as_dict(counters), indent=2) if as_json
                       else stat.render(counters))
        if sessions:
            click.echo(json.dumps(timeline.as_list(), indent=2) if as_json
                       else timeline.render())
    elif as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
    if not shown:
        click.echo("no Diameter message" + (" matched" if flt else " found"), err=True)
        sys.exit(1)
    if bad:
        sys.exit(1)
