"""A small Gy client on the asyncio API: one session, CCR-Initial then CCR-Terminate.

Run (with examples/gy_server.py running):  python examples/gy_client.py --port 3868
"""
from __future__ import annotations

import argparse
import asyncio

from diameter.message import constants
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.node.aio import DiameterNode

APP_GY = constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION


def make_ccr(request_type: int, number: int, session_id: str | None = None) -> CreditControlRequest:
    ccr = CreditControlRequest()
    if session_id is not None:
        ccr.session_id = session_id          # else the node makes one (RFC 6733 8.8)
    ccr.auth_application_id = APP_GY
    ccr.service_context_id = constants.SERVICE_CONTEXT_PS_CHARGING
    ccr.cc_request_type = request_type
    ccr.cc_request_number = number
    ccr.add_subscription_id(constants.E_SUBSCRIPTION_ID_TYPE_END_USER_E164, "41780000001")
    return ccr


async def run_session(port: int) -> list[int | None]:
    """Open the peer, run one session; the Result-Codes of the answers."""
    node = DiameterNode("pgw.example.net", "example.net", ip_addresses=["127.0.0.1"])
    node.add_application(APP_GY)           # advertised in the CER; no handler: client only
    node.add_peer("ocs.example.net", addresses=["127.0.0.1"], port=port, persistent=True)
    await node.start()
    try:
        await node.wait_ready(APP_GY, timeout=5)
        initial: CreditControlAnswer = await node.request(
            make_ccr(constants.E_CC_REQUEST_TYPE_INITIAL_REQUEST, 0), timeout=5)
        granted = 0
        for mscc in initial.multiple_services_credit_control:
            if mscc.granted_service_unit is not None:
                granted += mscc.granted_service_unit.cc_time or 0
        print(f"CCA-I: result {initial.result_code}, granted {granted} s")
        assert initial.session_id is not None
        final = await node.request(make_ccr(constants.E_CC_REQUEST_TYPE_TERMINATION_REQUEST, 1,
                                            initial.session_id), timeout=5)
        print(f"CCA-T: result {final.result_code}")
        return [initial.result_code, final.result_code]
    finally:
        await node.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3868)
    asyncio.run(run_session(parser.parse_args().port))
