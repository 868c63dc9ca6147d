"""``diameter ocs``: run the online charging server and administer its accounts.

The database is ``--database`` (or ``$DIAMETER_OCS_DATABASE``): a SQLite file path
(default ``ocs.sqlite3``) or a ``postgresql://`` URL.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

T = TypeVar("T")

SUB_TYPES = {"e164": 0, "msisdn": 0, "imsi": 1, "sip": 2, "nai": 3, "private": 4}
KINDS = {"prepaid": 1, "postpaid": 2, "hybrid": 3}


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _with_engine(url: str, fn: Callable[[Any], Awaitable[T]]) -> T:
    from ..ocs import Engine, StorageError, open_storage
    store = open_storage(url)
    try:
        await store.open()
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        return await fn(Engine(store))
    finally:
        await store.close()


def _target(account: str) -> Any:
    """An account by name, ``id:N`` or a subscription ``TYPE:DATA`` (e164:4917...)."""
    from ..ocs import Target
    kind, sep, data = account.partition(":")
    if sep and kind.lower() == "id" and data.isdigit():
        return Target(account_id=int(data))
    if sep and kind.lower() in SUB_TYPES:
        return Target(subscriptions=((SUB_TYPES[kind.lower()], data),))
    return Target(name=account)


def _subs(values: tuple[str, ...]) -> list[tuple[int, str]]:
    out = []
    for v in values:
        kind, sep, data = v.partition(":")
        if not sep or kind.lower() not in SUB_TYPES or not data:
            raise click.BadParameter(f"{v!r}: expected TYPE:DATA with TYPE one of "
                                     f"{', '.join(sorted(SUB_TYPES))}", param_hint="--sub")
        out.append((SUB_TYPES[kind.lower()], data))
    return out


@click.group()
@click.option("-d", "--database", envvar="DIAMETER_OCS_DATABASE", default="ocs.sqlite3",
              show_default=True, help="SQLite file or postgresql:// URL.")
@click.pass_context
def ocs(ctx: click.Context, database: str) -> None:
    """Online charging server (Gy/Ro, Huawei DCC) on SQLite or PostgreSQL.

    \b
    Examples:
      diameter ocs demo
      diameter ocs account create alice --sub e164:491700000001 --amount 1000
      diameter ocs serve --port 3868
    """
    source = ctx.get_parameter_source("database")
    ctx.obj = {"database": database,
               "database_given": source is not click.core.ParameterSource.DEFAULT}


@ocs.command()
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False), help="Server TOML file.")
@click.option("--host", default=None, help="Listen address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (default 3868).")
@click.option("--identity", default=None, help="Origin-Host.")
@click.option("--realm", default=None, help="Origin-Realm.")
@click.option("--tariff", type=click.Path(exists=True, dir_okay=False), help="Tariff TOML file.")
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics on this port.")
@click.option("--max-in-progress", type=int, default=None, help="Answer 3004 above this many.")
@click.pass_context
def serve(ctx: click.Context, config: str | None, host: str | None, port: int | None,
          identity: str | None, realm: str | None, tariff: str | None, metrics_port: int | None,
          max_in_progress: int | None) -> None:
    """Serve credit-control requests until interrupted (SIGINT/SIGTERM)."""
    from ..ocs import TariffError, load_tariff
    from ..ocs.server import OcsServer, ServerConfig, load_config, tune_gc
    try:
        cfg = load_config(config) if config else ServerConfig()
        if tariff:
            cfg.tariff = load_tariff(tariff)
    except TariffError as exc:
        raise click.ClickException(str(exc)) from exc
    if cfg.database is None or ctx.obj["database_given"]:
        cfg.database = ctx.obj["database"]
    for key, value in (("host", host), ("port", port), ("identity", identity), ("realm", realm),
                       ("metrics_port", metrics_port), ("max_in_progress", max_in_progress)):
        if value is not None:
            setattr(cfg, key, value)

    async def main() -> None:
        srv = OcsServer(cfg)
        try:
            await srv.start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {cfg.host}:{cfg.port}: {exc}") from exc
        click.echo(f"ocs {cfg.identity} listening on {cfg.host}:{srv.port} ({srv.store.url})",
                   err=True)
        tune_gc(cfg.gc_threshold)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await srv.stop()
    from ..node.threads import new_event_loop  # uvloop's when installed (the `fast` extra)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main())


@ocs.command()
@click.option("--keep", type=click.Path(file_okay=False), default=None,
              help="Keep the SQLite file in this directory.")
def demo(keep: str | None) -> None:
    """Start a server on a temporary SQLite file and charge a Gy session and a Huawei recharge."""
    from ..ocs.demo import run_demo
    sys.exit(_run(run_demo(click.echo, keep)))


@ocs.group()
def account() -> None:
    """Create, show, list, recharge and suspend accounts."""


@account.command("create")
@click.argument("name")
@click.option("--sub", "subs", multiple=True, help="Subscription TYPE:DATA (e164, imsi, sip, nai, private); repeatable.")
@click.option("--amount", type=int, default=0, help="Opening balance in minor units.")
@click.option("--kind", type=click.Choice(sorted(KINDS)), default="prepaid", show_default=True)
@click.option("--credit-limit", type=int, default=0, help="Postpaid credit limit (minor units).")
@click.option("--currency", type=int, default=978, show_default=True, help="ISO 4217 numeric code.")
@click.pass_context
def account_create(ctx: click.Context, name: str, subs: tuple[str, ...], amount: int, kind: str,
                   credit_limit: int, currency: int) -> None:
    """Create an account NAME."""
    from ..ocs import AccountKind, StorageError
    subscriptions = _subs(subs)

    async def go(engine: Any) -> int:
        try:
            return int(await engine.create_account(name, subscriptions, amount=amount,
                                                   kind=AccountKind(KINDS[kind]), currency=currency,
                                                   credit_limit=credit_limit))
        except StorageError as exc:
            raise click.ClickException(f"cannot create {name!r}: {exc}") from exc
    click.echo(f"account {_run(_with_engine(ctx.obj['database'], go))} created")


def _snapshot_json(snap: Any) -> dict[str, Any]:
    acc = snap.account
    return {
        "id": acc.id, "name": acc.name, "kind": acc.kind.name.lower(), "state": acc.state.value,
        "currency": acc.currency, "subscriptions": [list(s) for s in acc.subscriptions],
        "balances": [{"id": b.id, "kind": b.kind.value, "type": b.type_code, "amount": b.amount,
                      "floor": b.floor, "rating_groups": list(b.rating_groups),
                      "valid_until": b.valid_until} for b in snap.balances],
        "reservations": [{"session": r.session_id, "rating_group": r.rating_group,
                          "units": r.units, "unit": r.unit.value,
                          "held": sum(h.amount for h in r.holds), "expires_at": r.expires_at,
                          "final": r.final} for r in snap.reservations],
        "sessions": sorted(snap.sessions),
    }


@account.command("show")
@click.argument("account")
@click.pass_context
def account_show(ctx: click.Context, account: str) -> None:
    """Show ACCOUNT (a name, id:N or TYPE:DATA) as JSON."""
    snap = _run(_with_engine(ctx.obj["database"], lambda e: e.account(_target(account))))
    if snap is None:
        raise click.ClickException(f"no account {account!r}")
    click.echo(json.dumps(_snapshot_json(snap), indent=2))


@account.command("list")
@click.pass_context
def account_list(ctx: click.Context) -> None:
    """List accounts: id, name, kind, state."""
    accounts = _run(_with_engine(ctx.obj["database"], lambda e: e.store.accounts()))
    for a in accounts:
        click.echo(f"{a.id}\t{a.name}\t{a.kind.name.lower()}\t{a.state.value}")


@account.command("recharge")
@click.argument("account")
@click.argument("amount", type=int)
@click.option("--reversal", is_flag=True, help="Take the amount back instead.")
@click.option("--reference", default=None, help="Idempotency key: the same reference is applied once.")
@click.pass_context
def account_recharge(ctx: click.Context, account: str, amount: int, reversal: bool,
                     reference: str | None) -> None:
    """Recharge ACCOUNT by AMOUNT minor units."""
    from ..ocs import RechargeRequest
    req = RechargeRequest(amount, reversal=reversal,
                          session_id=f"admin:{reference}" if reference else None,
                          request_number=0 if reference else None)
    out = _run(_with_engine(ctx.obj["database"], lambda e: e.recharge(_target(account), req)))
    if out.result_code != 2001:
        raise click.ClickException(f"recharge refused ({out.result_code}): {out.error_message}")
    note = " (already applied)" if out.replayed else ""
    click.echo(f"balance {out.amount_before} -> {out.balance}{note}")


@account.command("suspend")
@click.argument("account")
@click.option("--resume", is_flag=True, help="Make the account active again.")
@click.pass_context
def account_suspend(ctx: click.Context, account: str, resume: bool) -> None:
    """Suspend ACCOUNT (new sessions are denied with 4010), or --resume it."""
    from ..ocs import AccountState
    state = AccountState.ACTIVE if resume else AccountState.SUSPENDED
    out = _run(_with_engine(ctx.obj["database"], lambda e: e.set_state(_target(account), state)))
    if out.result_code != 2001:
        raise click.ClickException(f"no account {account!r}")
    click.echo(f"account {out.account_id} {state.value}")


@ocs.command()
@click.pass_context
def audit(ctx: click.Context) -> None:
    """Prove the books: ledger sums equal balances, none below its floor. Exit 1 otherwise."""
    report = _run(_with_engine(ctx.obj["database"], lambda e: e.store.audit()))
    for p in report.problems:
        click.echo(f"PROBLEM {p}")
    click.echo(f"{report.balances} balances, {report.ledger_rows} ledger rows: "
               f"{'clean' if report.ok else f'{len(report.problems)} problem(s)'}")
    if not report.ok:
        sys.exit(1)


@ocs.command()
@click.option("--export", "export_dir", type=click.Path(file_okay=False), default=None,
              help="Append new CDRs to DIR/cdr.jsonl (rotated) instead of printing.")
@click.option("--after", type=int, default=0, help="Print CDRs with a larger id.")
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--max-bytes", type=int, default=64 << 20, help="Rotate the export file past this size.")
@click.pass_context
def cdr(ctx: click.Context, export_dir: str | None, after: int, limit: int, max_bytes: int) -> None:
    """Print CDRs as JSON lines, or export the new ones to rotated files."""
    if export_dir is not None:
        from ..ocs.cdr import export_cdrs
        n = _run(_with_engine(ctx.obj["database"],
                              lambda e: export_cdrs(e.store, export_dir, max_bytes=max_bytes)))
        click.echo(f"{n} CDR(s) exported to {export_dir}")
        return
    rows = _run(_with_engine(ctx.obj["database"], lambda e: e.store.cdrs(after, limit)))
    for cdr_id, record in rows:
        click.echo(json.dumps({"id": cdr_id, **record}, sort_keys=True))
