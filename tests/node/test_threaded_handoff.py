"""The threaded Node's answer hand-offs: answers given inside ``handle_request``, from other
threads before or after it returned, twice, or never; failures cost one request each."""
from __future__ import annotations

import threading

import pytest

from diameter.message.constants import APP_DIAMETER_CREDIT_CONTROL_APPLICATION as CC
from diameter.node import Node, NotRoutable
from diameter.node.application import Application, SimpleThreadingApplication
from diameter.node.errors import RequestTimeout

from .test_threaded_api import make_ccr, ocs_handler
from .test_threaded_workers import serve


class MixedApp(Application):
    """Answers by ``cc_request_number % 4``: 0 inline, 1 from another thread after
    ``handle_request`` returned, 2 from another thread *before* it returned, 3 raises."""

    def __init__(self) -> None:
        super().__init__(CC, is_auth_application=True)
        self.twice: list[str] = []

    def handle_request(self, message):
        n = message.cc_request_number
        answer = ocs_handler(self, message)
        kind = n % 4
        if kind == 0:
            self.send_answer(answer)
            try:   # a second answer to the same request: nobody waits for it any more
                self.send_answer(answer)
            except NotRoutable:
                self.twice.append("refused")
        elif kind == 1:
            threading.Timer(0.01 * (n % 3), self.send_answer, args=(answer,)).start()
        elif kind == 2:   # answered by another thread while this handler still runs
            t = threading.Thread(target=self.send_answer, args=(answer,))
            t.start()
            t.join(5)
        else:
            raise RuntimeError(f"request {n} fails")


def test_each_request_gets_its_own_answer_however_it_is_given():
    app = MixedApp()
    srv, node, client = serve(app)
    results: dict[int, tuple[int, int | None]] = {}

    def one(i: int) -> None:
        ans = client.send_request(make_ccr(client, i), timeout=10)
        results[i] = (ans.result_code, getattr(ans, "cc_request_number", None))
    try:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert sorted(results) == list(range(40))
        for i, (code, number) in results.items():
            if i % 4 == 3:   # the failing handler costs its own request only
                assert code == 5012
            else:
                assert (code, number) == (2001, i)
        assert app.twice == ["refused"] * 10
        assert not srv._waiting   # every request is forgotten once answered
    finally:
        node.stop()
        srv.stop()


class StashingApp(Application):
    """Leaves every request unanswered; the test answers them later, in reverse order."""

    def __init__(self) -> None:
        super().__init__(CC, is_auth_application=True)
        self.stash: list = []
        self.got = threading.Semaphore(0)

    def handle_request(self, message):
        self.stash.append(message)
        self.got.release()


def test_answers_sent_later_from_another_thread_in_any_order():
    app = StashingApp()
    srv, node, client = serve(app)
    results: dict[int, int] = {}

    def one(i: int) -> None:
        results[i] = client.send_request(make_ccr(client, i), timeout=10).cc_request_number
    try:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for _ in range(8):
            assert app.got.acquire(timeout=10)
        for message in reversed(app.stash):
            app.send_answer(ocs_handler(app, message))
        for t in threads:
            t.join(10)
        assert results == {i: i for i in range(8)}
        with pytest.raises(NotRoutable):   # answered already
            app.send_answer(ocs_handler(app, app.stash[0]))
    finally:
        node.stop()
        srv.stop()


class RecordingNode(Node):
    """A Node subclass that overrides ``send_message``: send_answer must still go through it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[int] = []

    def send_message(self, conn, message) -> None:
        self.sent.append(message.cc_request_number)
        super().send_message(conn, message)


def test_send_answer_goes_through_an_overridden_send_message():
    from .test_threaded_api import free_port
    port = free_port()
    srv = RecordingNode("ocs.gy", "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=port)
    srv.add_application(SimpleThreadingApplication(CC, is_auth_application=True, request_handler=ocs_handler),
                        [srv.add_peer("aaa://smsgw.gy")])
    srv.start()
    node = Node("smsgw.gy", "testrealm.local")
    peer = node.add_peer(f"aaa://ocs.gy:{port}", ip_addresses=["127.0.0.1"], is_persistent=True)
    client = SimpleThreadingApplication(CC, is_auth_application=True)
    node.add_application(client, [peer])
    node.start()
    try:
        client.wait_for_ready(10)
        assert client.send_request(make_ccr(client, 7), timeout=10).result_code == 2001
        assert srv.sent == [7]
    finally:
        node.stop()
        srv.stop()


def test_a_request_nobody_answers_times_out_in_the_sending_thread():
    app = StashingApp()   # never answers
    srv, node, client = serve(app)
    try:
        with pytest.raises(RequestTimeout):
            client.send_request(make_ccr(client, 1), timeout=0.5)
        # the node keeps working for the next request
        t = threading.Thread(target=lambda: client.send_request(make_ccr(client, 2), timeout=10))
        t.start()
        assert app.got.acquire(timeout=10) and app.got.acquire(timeout=10)
        app.send_answer(ocs_handler(app, app.stash[1]))
        t.join(10)
        assert not t.is_alive()
    finally:
        node.stop()
        srv.stop()
