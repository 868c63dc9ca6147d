"""``diameter bench``: a load generator (seagull / test_app style)."""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from .send import connection_options



def _uses_sctp(target: str, transport: str | None) -> bool:
    return transport == "sctp" or "transport=sctp" in target.lower()


def _run(main: Any, sctp: bool) -> Any:
    """Run ``main`` on uvloop's event loop when it is installed (the ``fast`` extra:
    about a tenth less CPU per request) and ``DIAMETER_NO_UVLOOP`` is not set, else
    on asyncio's. SCTP connections always use asyncio's loop (uvloop wraps TCP only)."""
    if sctp:
        return asyncio.run(main)
    from ..node.threads import new_event_loop
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


def _duration(text: str) -> float:
    t = text.strip().lower()
    for suffix, mult in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if t.endswith(suffix):
            return float(t[: -len(suffix)]) * mult
    return float(t)


@click.command()
@connection_options
@click.option("--scenario", type=click.Choice(["gy", "gx", "s6a", "sy", "test_app"]),
              default="gy", show_default=True, help="Built-in session scenario.")
@click.option("--template", "templates", multiple=True, type=click.Path(exists=True),
              help="Requests of a session as JSON/YAML documents (instead of --scenario).")
@click.option("-r", "--rate", type=float, default=None,
              help="Open model: requests per second (default: closed model).")
@click.option("--arrival", type=click.Choice(["poisson", "uniform"]), default="poisson",
              show_default=True, help="Open model arrivals.")
@click.option("-c", "--concurrency", type=click.IntRange(1), default=100, show_default=True,
              help="Closed model: sessions in flight.")
@click.option("-d", "--duration", default="10s", show_default=True,
              help="How long to send (10s, 500ms, 2m).")
@click.option("-n", "--count", type=click.IntRange(1), default=None,
              help="Stop after this many requests.")
@click.option("--connections", type=click.IntRange(1), default=1, show_default=True,
              help="Connections per peer.")
@click.option("--think", default="0s", show_default=True,
              help="Pause between an answer and the session's next request (gy: at most "
                   "0.9 x the granted Validity-Time).")
@click.option("--session-length", default="fixed:1", show_default=True,
              help="Middle requests (CCR-U) per session: fixed:N, uniform:A-B, exp:MEAN.")
@click.option("--find-max", is_flag=True,
              help="Ramp an open-model rate until --p99 or --max-errors breaks; report the knee.")
@click.option("--p99", default="20ms", show_default=True, help="--find-max latency target.")
@click.option("--max-errors", type=float, default=0.01, show_default=True,
              help="--find-max: largest error ratio accepted.")
@click.option("--start-rate", type=float, default=500.0, show_default=True,
              help="--find-max: first rate.")
@click.option("--step", type=float, default=1.5, show_default=True,
              help="--find-max: rate multiplier per step.")
@click.option("--max-rate", type=float, default=None,
              help="--find-max: stop ramping at this rate.")
@click.option("-w", "--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes sharing the load (concurrency, rate and count are split; each "
                   "has its own connections, identities w1.<origin-host>...).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Write a PNG of rate and latency over time (matplotlib).")
@click.option("--progress/--no-progress", default=None,
              help="Live progress bar (default: when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def bench(target: str, transport: str | None, origin_host: str | None, origin_realm: str | None,
          destination_realm: str | None, ca: str | None, cert: str | None, key: str | None,
          insecure: bool, timeout: float, scenario: str, templates: tuple[str, ...],
          rate: float | None, arrival: str, concurrency: int, duration: str, count: int | None,
          connections: int, think: str, session_length: str, find_max: bool, p99: str, max_errors: float,
          start_rate: float, step: float, max_rate: float | None, workers: int,
          plot_path: str | None, progress: bool | None, as_json: bool) -> None:
    """Load a peer with sessions and report rate, latency and Result-Codes.

    Closed model (default): --concurrency sessions in flight. Open model:
    --rate requests/s with Poisson or uniform arrivals. Scenarios: gy (CCR
    I/U/T, used units drawn from the grant, FUI and errors end the session,
    --think bounded by Validity-Time),
    gx, s6a (AIR+ULR), sy (SLR+STR), test_app (freeDiameter's), or --template
    documents. Several peers: --to as a comma list; --connections N opens N
    connections per peer (identities c1.<origin-host>, c2.<origin-host>...). Exit status: 0 all
    answers 2xxx, 1 errors or timeouts (or --find-max found no good rate),
    2 usage error.

    \b
    Examples:
      diameter bench --to 127.0.0.1:3868 -c 200 -d 30s --scenario gy
      diameter bench --to 127.0.0.1:3868 --rate 5000 -d 1m --plot load.png
      diameter bench --to 127.0.0.1:3868 --find-max --p99 20ms
    """
    from ._benchreport import plot, render, summary
    from ._load import LoadSpec
    from ._scenarios import Lengths
    try:
        lengths = Lengths.parse(session_length)
        seconds = _duration(duration)
        think_s = _duration(think)
        p99_target = _duration(p99)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    docs: list[dict[str, Any]] = []
    for t in templates:
        from ._input import read_document
        d = read_document(t)
        docs += d if isinstance(d, list) else [d]
    spec = LoadSpec(rate=rate, concurrency=concurrency, duration=seconds if count is None else None,
                    count=count, arrival=arrival, timeout=timeout, think=think_s)
    show = sys.stderr.isatty() if progress is None else progress
    args = (target, transport, origin_host, origin_realm, destination_realm, ca, cert, key,
            insecure, timeout, scenario, docs, lengths, spec, connections, find_max, p99_target,
            max_errors, start_rate, step, max_rate, show)
    if workers > 1:
        if find_max:
            raise click.UsageError("--find-max runs in one process: leave out --workers")
        result = _run_workers(args, workers)
    else:
        result = _run(_main(*args), _uses_sctp(target, transport))
    if result is None:
        sys.exit(1)
    recs, name, n_conns, steps = result
    out = summary(recs[-1][0], recs[-1][1], name, n_conns)
    if find_max:
        out["find_max"] = steps
    if as_json:
        click.echo(json.dumps({k: v for k, v in out.items()}, indent=2))
    else:
        if find_max:
            for st in steps:
                click.echo(f"rate {st['target_rate']:>9.0f}/s -> {st['rate']:>9.1f}/s "
                           f"p99 {st['p99_ms']:.3f} ms errors {st['error_ratio']:.4f} "
                           f"{'ok' if st['ok'] else 'BROKEN'}")
            good = [st for st in steps if st["ok"]]
            click.echo(f"knee: {good[-1]['rate']:.1f} answers/s at p99 <= "
                       f"{p99_target * 1000:g} ms" if good else "knee: no rate met the target")
            click.echo()
        click.echo(render(out))
    if plot_path:
        plot(out, plot_path)
        click.echo(f"plot written to {plot_path}", err=True)
    failed = out["errors"] or out["timeouts"] or out["failed"]
    if find_max:
        failed = not any(st["ok"] for st in steps)
    if failed:
        sys.exit(1)


async def _main(target: str, transport: str | None, origin_host: str | None,
                origin_realm: str | None, destination_realm: str | None, ca: str | None,
                cert: str | None, key: str | None, insecure: bool, timeout: float,
                scenario_name: str, docs: list[dict[str, Any]], lengths: Any, spec: Any,
                connections: int, find_max: bool, p99_target: float, max_errors: float,
                start_rate: float, step: float, max_rate: float | None, show: bool) -> Any:
    from ._client import ClientError
    from ._load import LoadSpec, run_load
    from ._scenarios import make_scenario
    from .send import open_connection
    probe = make_scenario(scenario_name, docs, "probe.invalid", "invalid", "invalid", lengths)
    conns = []
    try:
        for t in target.split(","):
            host = origin_host
            for i in range(connections):
                # a peer takes one connection per Origin-Host (RFC 6733 5.6.4): the
                # extra connections get their own identities, c1.<host>, c2.<host>...
                conns.append(await open_connection(t, transport, host, origin_realm, ca,
                                                   cert, key, insecure, timeout, probe.apps))
                host = f"c{i + 1}.{conns[0].identity.origin_host}"
    except ClientError as e:
        click.echo(f"Error: {e}", err=True)
        for c in conns:
            await c.close()
        return None
    ident = conns[0].identity
    sc = make_scenario(scenario_name, docs, ident.origin_host, ident.origin_realm,
                       destination_realm or conns[0].peer_realm or "invalid", lengths)
    recs: list[tuple[Any, Any]] = []
    steps: list[dict[str, Any]] = []
    try:
        if not find_max:
            recs.append((await _with_progress(run_load, conns, sc, spec, show), spec))
        else:
            r = start_rate
            for _ in range(30):
                st = LoadSpec(rate=r, duration=spec.duration or 5.0, arrival=spec.arrival,
                              timeout=spec.timeout, think=spec.think)
                rec = await _with_progress(run_load, conns, sc, st, show)
                recs.append((rec, st))
                lat = sorted(rec.latencies)
                p99 = lat[max(0, int(len(lat) * 0.99) - 1)] if lat else float("inf")
                n = max(rec.sent, 1)
                err = (rec.errors + rec.timeouts + rec.failed) / n
                achieved = rec.answered_while_sending / (rec.send_seconds or 1)
                ok = p99 <= p99_target and err <= max_errors and achieved >= 0.9 * r
                steps.append({"target_rate": r, "rate": round(achieved, 1),
                              "p99_ms": round(p99 * 1000, 3), "error_ratio": round(err, 5),
                              "ok": ok})
                if not ok or (max_rate is not None and r >= max_rate):
                    break
                r = r * step if max_rate is None else min(r * step, max_rate)
    finally:
        for c in conns:
            await c.close()
    return recs, sc.name, len(conns), steps


def _worker(args: tuple[Any, ...]) -> Any:
    """One worker process: its share of the load; returns what the parent merges."""
    import logging
    logging.getLogger().setLevel(logging.WARNING)
    result = _run(_main(*args), _uses_sctp(args[0], args[1]))
    if result is None:
        return None
    recs, name, n_conns, _steps = result
    rec = recs[-1][0]
    return {"rec": {k: getattr(rec, k) for k in (
        "latencies", "results", "sent", "success", "cpu_seconds", "timeouts", "failed",
        "errors", "series", "start", "end", "send_seconds", "answered_while_sending")},
        "name": name, "connections": n_conns}


def _run_workers(args: tuple[Any, ...], workers: int) -> Any:
    import dataclasses
    import multiprocessing

    from ._client import Identity
    from ._load import Recorder
    (target, transport, origin_host, origin_realm, *rest) = args
    spec = args[13]
    ident = Identity.default(origin_host, origin_realm)
    jobs = []
    for i in range(workers):
        share = dataclasses.replace(
            spec, concurrency=max(1, spec.concurrency // workers + (i < spec.concurrency % workers)),
            rate=spec.rate / workers if spec.rate else None,
            count=(spec.count // workers + (i < spec.count % workers)) if spec.count else None)
        host = ident.origin_host if i == 0 else f"w{i}.{ident.origin_host}"
        job = list(args)
        job[2], job[3], job[13], job[-1] = host, ident.origin_realm, share, False
        jobs.append(tuple(job))
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_worker, jobs)
    if any(p is None for p in parts):
        return None
    rec = Recorder()
    for p in parts:
        r = p["rec"]
        rec.latencies += r["latencies"]
        rec.results.update(r["results"])
        for k in ("sent", "success", "cpu_seconds", "timeouts", "failed", "errors",
                  "answered_while_sending"):
            setattr(rec, k, getattr(rec, k) + r[k])
        rec.send_seconds = max(rec.send_seconds, r["send_seconds"])
        for i, row in enumerate(r["series"]):
            if i < len(rec.series):
                mine = rec.series[i]
                rec.series[i] = [max(mine[0], row[0]), mine[1] + row[1], mine[2] + row[2],
                                 max(mine[3], row[3])]
            else:
                rec.series.append(list(row))
    rec.start, rec.end = 0.0, max(p["rec"]["end"] - p["rec"]["start"] for p in parts)
    return [(rec, spec)], parts[0]["name"], sum(p["connections"] for p in parts), []


async def _with_progress(run: Any, conns: list[Any], sc: Any, spec: Any, show: bool) -> Any:
    if not show:
        return await run(conns, sc, spec)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    console = Console(stderr=True)
    total = spec.count or spec.duration or 1
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[stats]}"), console=console, transient=True) as bar:
        task = bar.add_task(sc.name, total=total, stats="")

        def update(rec: Any, now: float) -> None:
            last = rec.series[-1] if rec.series else [0, 0, 0, 0.0]
            done = rec.sent if spec.count else now - rec.start
            bar.update(task, completed=min(done, total),
                       stats=f"{last[1]:>7}/s  p99 {last[3]:7.2f} ms  errors {rec.errors}  "
                             f"timeouts {rec.timeouts}")
        return await run(conns, sc, spec, update)


