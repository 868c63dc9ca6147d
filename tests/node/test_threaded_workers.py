"""The threaded Node's worker threads and answer hand-offs: blocked handlers, max_threads, late answers."""
from __future__ import annotations

import threading
import time

import pytest

from diameter.message.constants import APP_DIAMETER_CREDIT_CONTROL_APPLICATION as CC
from diameter.node import Node
from diameter.node.application import Application, SimpleThreadingApplication, _WorkerPool

from .test_threaded_api import free_port, make_ccr, ocs_handler


def serve(app: Application) -> tuple[Node, Node, SimpleThreadingApplication]:
    """A server Node running ``app`` and a client Node connected to it."""
    port = free_port()
    srv = Node("ocs.gy", "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=port)
    srv.add_application(app, [srv.add_peer("aaa://smsgw.gy")])
    srv.start()
    node = Node("smsgw.gy", "testrealm.local")
    peer = node.add_peer(f"aaa://ocs.gy:{port}", ip_addresses=["127.0.0.1"], is_persistent=True)
    client = SimpleThreadingApplication(CC, is_auth_application=True)
    node.add_application(client, [peer])
    node.start()
    client.wait_for_ready(10)
    return srv, node, client


def send_concurrently(client: SimpleThreadingApplication, n: int) -> list[int]:
    codes: list[int] = []

    def one(i: int) -> None:
        codes.append(client.send_request(make_ccr(client, i), timeout=10).result_code)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    return codes


def test_handlers_blocked_on_each_other_all_get_a_thread():
    # six handlers that can only finish together: each needs a thread of its own
    barrier = threading.Barrier(6, timeout=10)

    def handler(app, msg):
        barrier.wait()
        return ocs_handler(app, msg)
    srv, node, client = serve(SimpleThreadingApplication(CC, is_auth_application=True, request_handler=handler))
    try:
        assert send_concurrently(client, 6) == [2001] * 6
    finally:
        node.stop()
        srv.stop()


def test_max_threads_bounds_the_handlers_running_at_once():
    lock = threading.Lock()
    running = [0, 0]   # now, most

    def handler(app, msg):
        with lock:
            running[0] += 1
            running[1] = max(running)
        time.sleep(0.05)   # blocked (I/O): another worker may run meanwhile
        with lock:
            running[0] -= 1
        return ocs_handler(app, msg)
    app = SimpleThreadingApplication(CC, is_auth_application=True, max_threads=2, request_handler=handler)
    srv, node, client = serve(app)
    try:
        assert send_concurrently(client, 8) == [2001] * 8
        assert running[1] == 2
    finally:
        node.stop()
        srv.stop()


class LateApp(Application):
    """A base Application answering from another thread after handle_request returned."""

    def handle_request(self, message):
        answer = ocs_handler(self, message)
        threading.Timer(0.02, self.send_answer, args=(answer,)).start()


class InlineThenFail(Application):
    """Answers inside handle_request, then raises: the answer sent stands."""

    def handle_request(self, message):
        self.send_answer(ocs_handler(self, message))
        raise RuntimeError("after the answer")


@pytest.mark.parametrize("app_cls", [LateApp, InlineThenFail])
def test_base_application_answers_late_or_before_failing(app_cls):
    srv, node, client = serve(app_cls(CC, is_auth_application=True))
    try:
        assert send_concurrently(client, 4) == [2001] * 4
        assert not srv._waiting   # every answered request is forgotten
    finally:
        node.stop()
        srv.stop()


def test_worker_pool_outside_an_event_loop():
    # submitted from a plain thread: stalls are checked from a timer thread
    done: list[int] = []
    release = threading.Event()

    def work(item: int) -> None:
        if item == 0:
            release.wait(10)   # blocks its worker: the other items need another one
        done.append(item)
    pool = _WorkerPool(4, work, "test-pool")
    for i in range(5):
        pool.submit(i)
    deadline = time.monotonic() + 10
    while len(done) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(done) == [1, 2, 3, 4]
    release.set()
    while len(done) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert len(pool._threads) <= 4
    pool.shutdown()
    pool.submit(99)   # after shutdown: dropped
    for t in pool._threads:
        t.join(5)
        assert not t.is_alive()
    assert 99 not in done


def test_requests_go_only_to_their_applications_peers():
    # two servers both serve credit control; the client's credit control application
    # is served through the first only, its accounting one through the second
    servers = []
    for name in ("ocs-a.gy", "ocs-b.gy"):
        port = free_port()
        srv = Node(name, "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=port)
        gw = srv.add_peer("aaa://smsgw.gy")
        srv.add_application(SimpleThreadingApplication(CC, is_auth_application=True,
                                                       request_handler=ocs_handler), [gw])
        srv.add_application(SimpleThreadingApplication(3, is_acct_application=True), [gw])
        srv.start()
        servers.append((srv, port))
    node = Node("smsgw.gy", "testrealm.local")
    peer_a = node.add_peer(f"aaa://ocs-a.gy:{servers[0][1]}", ip_addresses=["127.0.0.1"], is_persistent=True)
    peer_b = node.add_peer(f"aaa://ocs-b.gy:{servers[1][1]}", ip_addresses=["127.0.0.1"], is_persistent=True)
    cc = SimpleThreadingApplication(CC, is_auth_application=True)
    acct = SimpleThreadingApplication(3, is_acct_application=True)
    node.add_application(cc, [peer_a])
    node.add_application(acct, [peer_b])
    node.start()
    try:
        cc.wait_for_ready(10)
        acct.wait_for_ready(10)
        answers = [cc.send_request(make_ccr(cc, i), timeout=5) for i in range(8)]
        assert [a.result_code for a in answers] == [2001] * 8
        assert {a.origin_host for a in answers} == {b"ocs-a.gy"}
    finally:
        node.stop()
        for srv, _port in servers:
            srv.stop()
