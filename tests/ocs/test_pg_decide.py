"""The PostgreSQL committer's work per request (`store.pg_decide`) may be compiled with the
rating core: batches decided, written and answered by the compiled module charge exactly
as its Python source does, on a real PostgreSQL."""
from __future__ import annotations

PG_SCENARIO = r"""
import asyncio, json, random
from diameter.ocs import Engine, RechargeRequest, RequestKind, Target, open_storage
from diameter.ocs import ChargeRequest, ServiceUsage, UnitKind
from diameter.ocs.store import pg_batch, pg_decide

async def main():
    rng = random.Random(11)
    out = [pg_decide.__file__.endswith(".py")]
    async with open_storage(URL) as st:
        t = [1000.0]
        eng = Engine(st, clock=lambda: t[0])
        for a in range(3):
            await eng.create_account(f"a{a}", [(0, f"49{a}")], amount=(0, 120, 90000)[a])
        subs = [f"49{rng.randrange(3)}" for _ in range(24)]
        for n in range(5):  # every session's request n at once: batches of several units per account
            t[0] += rng.choice([1.0, 30.0])
            calls = []
            for s, sub in enumerate(subs):
                kind = RequestKind.INITIAL if n == 0 else (RequestKind.TERMINATION if n == 4 else RequestKind.UPDATE)
                used = {UnitKind.OCTETS: rng.choice([0, 1, 1 << 20, 9 << 20])} if n else {}
                req = ChargeRequest(f"s{s}", n, kind, [(0, sub)], "32251@3gpp.org",
                                    [ServiceUsage(rng.choice([1, 2]),
                                                  requested={} if kind is not RequestKind.TERMINATION else None,
                                                  used=used)])
                calls.append(eng.charge(req))
                if rng.random() < 0.2:  # a retransmission in the same batch: shares the answer
                    calls.append(eng.charge(req))
            outs = await asyncio.gather(*calls)
            out.extend(o.to_json() for o in outs)
            again = ChargeRequest("s0", n, RequestKind.INITIAL if n == 0 else RequestKind.UPDATE,
                                  [(0, subs[0])], "32251@3gpp.org", [ServiceUsage(1, requested={})])
            if n < 4:
                replayed = await eng.charge(again)  # committed: replayed, not charged again
                out.append([replayed.to_json() == outs[0].to_json(), replayed.replayed])
            o = await eng.recharge(Target(subscriptions=((0, subs[n]),)), RechargeRequest(rng.randrange(1, 300)))
            out.append(o.to_json())
        for a in range(3):
            snap = await eng.account(Target(name=f"a{a}"))
            out.append([b.amount for b in snap.balances])
        out.append((await st.audit()).ok)
        out.append(pg_batch.STATS["batches"] > 0 and pg_batch.STATS["fallbacks"] == 0)
    print(json.dumps(out))

asyncio.run(main())
"""


def test_the_running_pg_committer_charges_as_its_source(run_scenario, pg_cluster):
    def run(pure: bool) -> list:
        return run_scenario(f"URL = {pg_cluster.new_database()!r}\n" + PG_SCENARIO, pure)

    source, running = run(True), run(False)
    assert source[0] is True  # DIAMETER_PURE_PYTHON runs the .py file
    assert source[-2:] == [True, True]  # clean audit, batched without a fallback
    assert len(source) > 130
    assert any("4012" in str(x) for x in source)  # money runs out on the way
    assert [x for x in source if isinstance(x, list) and len(x) == 2 and x[1] is True] == [[True, True]] * 4
    assert running[1:] == source[1:]


def test_write_args_gather_each_accounts_rows_with_its_owner():
    from diameter.ocs.model import Hold, Reservation, SessionRow, UnitKind
    from diameter.ocs.store import pg_batch_sql
    from diameter.ocs.store.pg_cache import AccountWrites

    a, b = AccountWrites(7, 3), AccountWrites(9, 0)
    a.balances[70] = 5
    a.ledger.append((None, 1.5, 7, 70, "debit", -5, 5, 1, "s", 1, 2))
    a.res_put[("s", 2)] = Reservation("s", 2, 7, UnitKind.OCTETS, 10, [Hold(70, 3, 10)], 99.0, 1, False, "p")
    a.res_put[("t", 1)] = None
    a.res_put[("s", 3)] = Reservation("s", 3, 7, UnitKind.MONEY, 4, [], 98.0, 1, True, "p")
    a.res_old.add(("s", 3))  # in the database: updated in place, not inserted
    a.ses_put["s"] = SessionRow("s", 7, 1.0, 1.5, 99.0, 5, {"2:octets": 1}, 2, "p", False)
    a.cdrs.append((1.5, "s", 7, {"session_id": "s"}))  # the record: JSON encoded by the link
    a.outcomes.append(("s", 1, 1.5, None, [2]))
    b.state = "suspended"
    b.ses_put["u"] = None
    b.ses_put["v"] = SessionRow("v", 9, 2.0, 2.5, 98.0, 0, {}, 1, "q", True)
    b.ses_old.add("v")
    b.outcomes.append(("u", 0, 1.5, None, [3]))
    args = pg_batch_sql.write_args([a, b])
    assert len(args) == 23  # WRITE's $1..$23
    assert [list(x) for x in args[0:3]] == [[7, 9], [3, 0], [None, "suspended"]]
    assert [list(x) for x in args[3:6]] == [[70], [5], [7]]
    assert args[6] == a.ledger
    assert [list(x) for x in args[7:10]] == [["t"], [1], [7]]
    assert args[10] == [("s", 2, 7, "octets", 10, [[70, 3, 10]], 99.0, 1, 0, "p")]
    assert [list(x) for x in args[11:13]] == [["u"], [9]]
    assert args[13] == [("s", 7, 1.0, 1.5, 99.0, 5, {"2:octets": 1}, 2, "p", 0)]
    assert [list(x) for x in args[14:19]] == [[1.5], ["s"], [7], [{"session_id": "s"}], [7]]
    assert args[19] == [("s", 1, 1.5, None, [2]), ("u", 0, 1.5, None, [3])] and args[20] == [7, 9]
    assert args[21] == [("s", 3, 7, "money", 4, [], 98.0, 1, 1, "p")]
    assert args[22] == [("v", 9, 2.0, 2.5, 98.0, 0, {}, 1, "q", 1)]
    empty = pg_batch_sql.write_args([])
    assert len(empty) == 23 and all(len(x) == 0 for x in empty)
