import asyncio

import pytest

from diameter.node.aio import DiameterNode
from diameter.node.aio.sctp import sctp_status

from .aio_helpers import REALM, answer_for, ccr
from .test_aio_node import aio

SCTP_OK, SCTP_WHY = sctp_status()


def test_sctp_status_explains_itself():
    ok, why = sctp_status()
    assert isinstance(ok, bool) and why


@pytest.mark.skipif(not SCTP_OK, reason=f"SCTP unavailable here: {SCTP_WHY}")
@aio
async def test_request_answer_over_sctp():
    srv = DiameterNode("server.test.realm", REALM, sctp_port=0, listen_addresses=["127.0.0.1"])
    srv.add_application(4, answer_for("server.test.realm"))
    srv.add_peer("client.test.realm")
    await srv.start()
    cli = DiameterNode("client.test.realm", REALM)
    cli.add_application(4)
    cli.add_peer("server.test.realm", addresses=["127.0.0.1"], port=srv.listen_ports[0], persistent=True,
                 transport="sctp")
    await cli.start()
    await cli.wait_open("server.test.realm", 5)
    answers = await asyncio.gather(*(cli.request(ccr("client.test.realm", i)) for i in range(10)))
    assert all(a.result_code == 2001 for a in answers)
    await cli.stop()
    await srv.stop()
