"""The credit-control layer for the python-diameter-style threaded :class:`~diameter.node.Node`.

Thin blocking wrappers: the asyncio :class:`~diameter.cc.client.CreditControlClient` and
:class:`~diameter.cc.server.CreditControlServer` run on the node's event-loop thread; these
classes register application 4 with the ``Node`` (so CER advertises it and requests route to
``peers``) and block the calling thread on the loop's futures. Server handlers are plain
functions run in a worker pool; ``on_notice`` callbacks run on the loop thread.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..node.application import Application
from ..node.node import Node
from ..node.peer import Peer
from .client import CCSession, CreditControlClient, UnitsArg
from .client_core import Outcome, TERMINATION_LOGOUT
from .server import CreditControlServer
from .types import CCRequest, CCResult, RequestedAction, Units
from .wire import APP_CC

T = TypeVar("T")


class _Advertised(Application):
    """Makes the Node advertise and route the application; the cc layer takes its requests."""

    def __init__(self, application_id: int) -> None:
        super().__init__(application_id, is_auth_application=True)


class _Threaded:
    def __init__(self, node: Node, peers: list[Peer], application_id: int, timeout: float) -> None:
        self.node = node
        self.application_id = application_id
        self.timeout = timeout
        if not any(a.application_id == application_id for a in node.applications):
            node.add_application(_Advertised(application_id), peers)

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self.node.event_loop
        if loop is None:
            raise RuntimeError("start the Node first (node.start())")
        return loop

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop())
        return fut.result(self.timeout if timeout is None else timeout)

    def _on_loop(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()
        return self._run(call())


class ThreadedSession:
    """Blocking view of a :class:`~diameter.cc.client.CCSession`."""

    def __init__(self, owner: ThreadedCreditControlClient, session: CCSession) -> None:
        self._owner = owner
        self.session = session
        self.session_id = session.session_id
        self.outcome = session.outcome

    @property
    def state(self) -> Any:
        return self.session.state

    def update(self, used: UnitsArg = None, requested: UnitsArg = None, reason: int | None = None) -> Outcome:
        return self._owner._run(self.session.update(used=used, requested=requested, reason=reason))

    def terminate(self, used: UnitsArg = None, cause: int = TERMINATION_LOGOUT) -> Outcome:
        return self._owner._run(self.session.terminate(used=used, cause=cause))

    def consume(self, units: Units, rating_group: int | None = None) -> None:
        self._owner._on_loop(lambda: self.session.consume(units, rating_group))


class ThreadedCreditControlClient(_Threaded):
    """``CreditControlClient`` for a threaded ``Node``: create it before ``node.start()``.

    Keyword arguments are those of :class:`~diameter.cc.client.CreditControlClient`.
    """

    def __init__(self, node: Node, peers: list[Peer], *, application_id: int = APP_CC,
                 timeout: float = 60.0, **kw: Any) -> None:
        super().__init__(node, peers, application_id, timeout)
        self._kw = kw
        self._client: CreditControlClient | None = None

    @property
    def client(self) -> CreditControlClient:
        if self._client is None:
            def make() -> CreditControlClient:
                anode = self.node.aio_node
                assert anode is not None
                return CreditControlClient(anode, application_id=self.application_id, **self._kw)
            self._client = self._on_loop(make)
        return self._client

    def start(self, **kw: Any) -> ThreadedSession:
        """Blocking :meth:`CreditControlClient.start`."""
        return ThreadedSession(self, self._run(self.client.start(**kw)))

    def event(self, *, requested_action: RequestedAction = RequestedAction.DIRECT_DEBITING, **kw: Any) -> Outcome:
        """Blocking :meth:`CreditControlClient.event`."""
        return self._run(self.client.event(requested_action=requested_action, **kw))

    def send_stored(self) -> list[Outcome]:
        return self._run(self.client.send_stored())


class _PoolHandler:
    """Runs a plain-function handler's methods in a thread pool, off the event loop."""

    def __init__(self, handler: Any, pool: concurrent.futures.Executor) -> None:
        self._h = handler
        self._pool = pool
        for name in ("on_initial", "on_update", "on_termination", "on_event", "on_session_closed"):
            fn = getattr(handler, name, None)
            if fn is not None:
                setattr(self, name, functools.partial(self._call, fn))

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)


class ThreadedCreditControlServer(_Threaded):
    """``CreditControlServer`` for a threaded ``Node``; handler methods are plain functions
    ``on_initial(req) -> CCResult`` ... run in a pool of ``max_threads`` workers."""

    def __init__(self, node: Node, handler: Any, peers: list[Peer], *, application_id: int = APP_CC,
                 max_threads: int = 8, timeout: float = 60.0, **kw: Any) -> None:
        super().__init__(node, peers, application_id, timeout)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_threads, thread_name_prefix="cc-server")
        self._handler = _PoolHandler(handler, self._pool)
        self._kw = kw
        self._server: CreditControlServer | None = None

    @property
    def server(self) -> CreditControlServer:
        if self._server is None:
            def make() -> CreditControlServer:
                anode = self.node.aio_node
                assert anode is not None
                return CreditControlServer(anode, self._handler, application_id=self.application_id, **self._kw)
            self._server = self._on_loop(make)
        return self._server

    def attach(self) -> None:
        """Take over the application's requests (call after ``node.start()``)."""
        _ = self.server

    def re_auth(self, session_id: str, **kw: Any) -> int:
        return self._run(self.server.re_auth(session_id, **kw))

    def abort(self, session_id: str, **kw: Any) -> int:
        return self._run(self.server.abort(session_id, **kw))

    @property
    def sessions(self) -> dict[str, Any]:
        return dict(self.server.sessions)

    def close(self) -> None:
        if self._server is not None:
            self._run(self._server.close())
        self._pool.shutdown(wait=False)


__all__ = ["CCRequest", "CCResult", "ThreadedCreditControlClient", "ThreadedCreditControlServer",
           "ThreadedSession"]
