"""A small Gy (credit-control, RFC 4006) server on the asyncio API.

Grants 600 seconds per CCR-Initial/Update, accepts CCR-Terminate; answers
anything else 5012. Run:  python examples/gy_server.py --port 3868
"""
from __future__ import annotations

import argparse
import asyncio

from diameter.message import Message, constants
from diameter.message.avp.grouped import GrantedServiceUnit, MultipleServicesCreditControl
from diameter.message.commands import CreditControlRequest
from diameter.node.aio import DiameterNode

GRANT_SECONDS = 600


def make_server(port: int, clients: list[str]) -> DiameterNode:
    node = DiameterNode("ocs.example.net", "example.net", tcp_port=port,
                        ip_addresses=["127.0.0.1"], listen_addresses=["127.0.0.1"])

    async def on_ccr(request: Message) -> Message:
        if not isinstance(request, CreditControlRequest):
            return node.answer(request, constants.E_RESULT_CODE_DIAMETER_UNABLE_TO_COMPLY)
        cca = node.answer(request, constants.E_RESULT_CODE_DIAMETER_SUCCESS)
        if request.cc_request_type != constants.E_CC_REQUEST_TYPE_TERMINATION_REQUEST:
            mscc = MultipleServicesCreditControl(
                granted_service_unit=GrantedServiceUnit(cc_time=GRANT_SECONDS),
                result_code=constants.E_RESULT_CODE_DIAMETER_SUCCESS)
            cca.multiple_services_credit_control = [mscc]
        return cca

    node.add_application(constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION, on_ccr)
    for identity in clients:
        node.add_peer(identity)
    return node


async def main(port: int) -> None:
    node = make_server(port, ["pgw.example.net", "threaded-pgw.example.net"])
    await node.start()
    print(f"Gy server listening on 127.0.0.1:{node.listen_ports[0]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await node.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3868)
    asyncio.run(main(parser.parse_args().port))
