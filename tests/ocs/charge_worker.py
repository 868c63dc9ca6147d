"""Child process for the SIGKILL test: runs Gy sessions forever, printing each committed answer.

Usage: python charge_worker.py STORE_URL MSISDN
"""

from __future__ import annotations

import asyncio
import itertools
import sys

from diameter.ocs import ChargeRequest, Engine, RequestKind, ServiceUsage, UnitKind, open_storage

MIB = 1 << 20


async def session(eng: Engine, sid: str, msisdn: str) -> None:
    for n, kind in enumerate([RequestKind.INITIAL, RequestKind.UPDATE, RequestKind.UPDATE,
                              RequestKind.TERMINATION]):
        used = {UnitKind.OCTETS: MIB} if n else {}
        req = ChargeRequest(sid, n, kind, [(0, msisdn)], "32251@3gpp.org",
                            [ServiceUsage(1, requested={} if kind is not RequestKind.TERMINATION else None,
                                          used=used)])
        out = await eng.charge(req)
        cost = sum(g.cost or 0 for g in out.grants)
        print(f"committed {sid} {n} {cost}", flush=True)


async def main() -> None:
    url, msisdn = sys.argv[1], sys.argv[2]
    async with open_storage(url) as st:
        eng = Engine(st)
        for batch in itertools.count():
            await asyncio.gather(*(session(eng, f"w{batch}-{i}", msisdn) for i in range(8)))


if __name__ == "__main__":
    asyncio.run(main())
