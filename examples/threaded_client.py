"""A Gy client on the threaded (python-diameter compatible) API.

Run (with examples/gy_server.py running):  python examples/threaded_client.py --port 3868
"""
from __future__ import annotations

import argparse

from diameter.message import constants
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication


def run(port: int) -> int | None:
    """One CCR-Event over the threaded API; the answer's Result-Code."""
    node = Node("threaded-pgw.example.net", "example.net", ip_addresses=["127.0.0.1"],
                vendor_ids=[constants.VENDOR_TGPP])
    ocs = node.add_peer(f"aaa://ocs.example.net:{port}", "example.net",
                        ip_addresses=["127.0.0.1"], is_persistent=True)
    client = SimpleThreadingApplication(constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION,
                                        is_auth_application=True)
    node.add_application(client, [ocs])
    node.start()
    try:
        client.wait_for_ready(timeout=5)
        ccr = CreditControlRequest()
        ccr.session_id = "threaded-pgw.example.net;1;1"
        ccr.origin_host = "threaded-pgw.example.net"    # str or bytes
        ccr.origin_realm = "example.net"
        ccr.destination_realm = "example.net"
        ccr.auth_application_id = constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION
        ccr.service_context_id = constants.SERVICE_CONTEXT_PS_CHARGING
        ccr.cc_request_type = constants.E_CC_REQUEST_TYPE_EVENT_REQUEST
        ccr.cc_request_number = 0
        ccr.requested_action = constants.E_REQUESTED_ACTION_DIRECT_DEBITING
        answer = client.send_request(ccr, timeout=5)
        assert isinstance(answer, CreditControlAnswer)
        print(f"CCA-E: result {answer.result_code}")
        return answer.result_code
    finally:
        node.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3868)
    run(parser.parse_args().port)
