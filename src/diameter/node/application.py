"""python-diameter style applications, served by the threaded :class:`~diameter.node.Node`."""
from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from time import monotonic
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ApplicationError, EmptyAnswer, RequestTimeout  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from ..message import Message

logger = logging.getLogger("diameter.application")


#: per answer class: (sends auth_application_id, sends acct_application_id)
_APP_ID_ATTRS: dict[type, tuple[bool, bool]] = {}
#: per request class: whether reading ``proxy_info`` may find a value (a typed class
#: without the attribute answers only from the instance dict; reading it through the
#: class's ``__getattr__`` would raise and catch an AttributeError per answer)
_HAS_PROXY_INFO: dict[type, bool] = {}
_NO_DICT: dict[str, Any] = {}


def _app_id_attrs(cls: type) -> tuple[bool, bool]:
    """Whether setting auth/acct_application_id on an answer of class ``cls`` sends an AVP:
    always on an untyped message, only when the class defines the attribute on a typed one."""
    found = _APP_ID_ATTRS.get(cls)
    if found is None:
        from ..message import DefinedMessage
        typed = issubclass(cls, DefinedMessage)
        found = _APP_ID_ATTRS[cls] = (not typed or hasattr(cls, "auth_application_id"),
                                      not typed or hasattr(cls, "acct_application_id"))
    return found


def _has_proxy_info(cls: type) -> bool:
    found = _HAS_PROXY_INFO.get(cls)
    if found is None:
        from ..message import DefinedMessage
        found = _HAS_PROXY_INFO[cls] = not issubclass(cls, DefinedMessage) or hasattr(cls, "proxy_info")
    return found


class ApplicationHost(Protocol):
    """What an :class:`Application` asks of the node it is registered with (``Node``)."""
    origin_host: str
    realm_name: str

    def route_answer(self, message: Any) -> tuple[Any, Any]: ...

    def send_message(self, conn: Any, message: Any) -> None: ...

    def send_request_for(self, app: Application, message: Any, timeout: float) -> Message:
        """Send ``message`` for ``app`` and block until its answer (or raise)."""
        ...

    def handler_failed(self, message: Any) -> None:
        """``app``'s handler raised for ``message``: fail whoever waits for its answer."""
        ...


def _app_name(app_id: int | None) -> str:
    try:
        from ..message import constants
        return constants.APPLICATIONS.get(app_id, "Unknown Application")
    except (ImportError, AttributeError):
        return "Unknown Application"


class Application:
    """A Diameter application registered with a :class:`Node`.

    Subclasses override :meth:`handle_request` (called in the node's thread;
    it answers later with :meth:`send_answer`) and optionally
    :meth:`handle_answer` for answers nobody waits for.
    """

    def __init__(self, application_id: int | None = None, is_acct_application: bool = False,
                 is_auth_application: bool = False) -> None:
        if not is_acct_application and not is_auth_application:
            raise ValueError("either is_auth_application or is_acct_application must be True")
        self.application_id = application_id
        self.is_auth_application = is_auth_application
        self.is_acct_application = is_acct_application
        self.name = _app_name(application_id)
        self.is_ready = threading.Event()
        #: validate received requests against their grammar before ``handle_request``;
        #: None follows ``Node.validate_received_request_avps``
        self.validate_requests: bool | None = None
        self._node: ApplicationHost | None = None

    #: set by a ``Node`` whose ``route_answer`` and ``send_message`` are its own:
    #: :meth:`send_answer` in one call
    _answer_direct: Callable[[Any], None] | None = None

    def __str__(self) -> str:
        return f"<{self.name} ({self.application_id})>"

    @property
    def node(self) -> ApplicationHost:
        if self._node is None:
            raise RuntimeError("application is not registered with a Node (call Node.add_application)")
        return self._node

    def generate_answer(self, message: Any, result_code: int | None = None,
                        error_message: str | None = None) -> Message:
        """Answer skeleton for ``message`` with our Origin-Host/Realm and app id."""
        node = self._node
        if node is None:
            node = self.node   # raises
        answer = message.to_answer()
        answer.origin_host = node.origin_host.encode()
        answer.origin_realm = node.realm_name.encode()
        sid = getattr(message, "session_id", None)
        if sid is not None:
            answer.session_id = sid
        cls = type(message)
        has_pinfo = _HAS_PROXY_INFO.get(cls)
        if has_pinfo is None:
            has_pinfo = _has_proxy_info(cls)
        if has_pinfo:
            pinfo = getattr(message, "proxy_info", None)
        else:   # a typed class without the attribute: only a value set on the instance
            pinfo = getattr(message, "__dict__", _NO_DICT).get("proxy_info")
        if pinfo:
            answer.proxy_info = pinfo
        # an answer class without the AVP (a command code another application also
        # uses) would not send it: setting it would only cost a typo warning per answer
        cls = type(answer)
        auth, acct = _APP_ID_ATTRS.get(cls) or _app_id_attrs(cls)
        if auth and self.is_auth_application:
            answer.auth_application_id = self.application_id
        if acct and self.is_acct_application:
            answer.acct_application_id = self.application_id
        if result_code:
            answer.result_code = result_code
        if error_message:
            answer.error_message = error_message
        return answer

    # called by the node (in its event-loop thread) ------------------------------
    def receive_request(self, message: Any) -> None:
        self.handle_request(message)

    def receive_answer(self, message: Any) -> None:
        self.handle_answer(message)

    def handle_request(self, message: Any) -> Any:
        """Called for each request; answer with :meth:`send_answer`.

        Subclasses override it; this default answers DIAMETER_UNABLE_TO_COMPLY
        (5012), so that a request is never left unanswered.
        """
        self.send_answer(self._unhandled(message))

    def _unhandled(self, message: Any) -> Any:
        logger.warning("%s has no request handler: answering 5012", self)
        return self.generate_answer(message, 5012, "no request handler")

    def handle_answer(self, message: Any) -> None:
        """Called for answers that nobody waits for (late ones); ignores them."""

    # called by user code from any thread -----------------------------------------
    def send_answer(self, message: Any) -> None:
        """Send an answer back to the peer its request came from."""
        direct = self._answer_direct
        if direct is not None:
            direct(message)
            return
        node = self.node
        conn, _ = node.route_answer(message)
        node.send_message(conn, message)

    def send_request(self, message: Any, timeout: int | float = 30) -> Message:
        """Send a request and block until its answer arrives.

        Raises ``NotRoutable`` when no peer can take it, ``RequestTimeout`` after
        ``timeout`` seconds, ``EmptyAnswer`` if the application is stopped.
        """
        return self.node.send_request_for(self, message, timeout)

    def start(self) -> None:
        logger.info("%s application started", self)

    def stop(self) -> None:
        logger.info("%s application stopped", self)

    def wait_for_ready(self, timeout: int | float = 30) -> None:
        """Block until one of the application's peers is open (ApplicationError if not)."""
        if not self.is_ready.wait(timeout):
            raise ApplicationError("no connection available within timeout")
        logger.info("%s at least one peer is available", self)


class _WorkerPool:
    """Worker threads taking items from one queue, woken sparingly.

    An item wakes a sleeping worker (or starts one, up to ``max_threads``)
    unless a worker is awake and took or was given an item within the last
    ``RECENT`` seconds: that one takes the next item as it finishes its own,
    so a burst of quick requests costs one thread wake-up, not one per request.
    Workers busy for longer are taken to be blocked (I/O, a request of their
    own) and the item wakes another at once; and whenever items still wait
    after ``STALL`` seconds, one more worker is woken each time.
    """

    #: an awake worker that made progress this recently is expected to take the next item
    RECENT = 0.0002
    #: how long queued items may wait for the awake workers before one more is woken
    STALL = 0.001

    def __init__(self, max_threads: int, work: Callable[[Any], None], name: str) -> None:
        self._items: deque[Any] = deque()
        self._work = work
        self._name = name
        self._max = max_threads
        self._threads: list[threading.Thread] = []
        self._sleeping: list[threading.Lock] = []   # a lock per sleeping worker, held until it is woken
        self._awake = 0
        self._lock = threading.Lock()
        self._closed = False
        self._timer_armed = False
        self._progress = 0.0   # monotonic time a worker last took an item or was woken

    def submit(self, item: Any) -> None:
        with self._lock:
            if self._closed:
                return
            self._items.append(item)
            if not self._awake or monotonic() - self._progress > self.RECENT:
                self._wake_one()
                return
            arm = not self._timer_armed
            self._timer_armed = True
        if arm:
            self._arm()

    def _wake_one(self) -> None:
        """Wake a sleeping worker, or start one (with the pool lock held)."""
        self._progress = monotonic()
        if self._sleeping:
            self._awake += 1
            self._sleeping.pop().release()
        elif len(self._threads) < self._max:
            self._awake += 1
            t = threading.Thread(target=self._run, name=f"{self._name}-{len(self._threads)}", daemon=True)
            self._threads.append(t)
            t.start()

    def _arm(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:   # not called from an event loop: check from a timer thread
            t = threading.Timer(self.STALL, self._check)
            t.daemon = True
            t.start()
        else:
            loop.call_later(self.STALL, self._check)

    def _check(self) -> None:
        with self._lock:
            if not self._items or self._closed:
                self._timer_armed = False
                return
            self._wake_one()   # items waited a whole STALL: the awake workers are blocked
        self._arm()

    def _run(self) -> None:
        items = self._items
        lock = self._lock
        work = self._work
        me = threading.Lock()
        while True:
            with lock:
                while not items:
                    if self._closed:
                        self._awake -= 1
                        return
                    self._awake -= 1
                    me.acquire()
                    self._sleeping.append(me)
                    lock.release()
                    try:
                        me.acquire()   # until _wake_one releases it (and counts this worker awake)
                    finally:
                        me.release()
                        lock.acquire()
                item = items.popleft()
                self._progress = monotonic()
            try:
                work(item)
            except Exception:  # noqa: BLE001 - a failing item must not kill the worker
                logger.exception("worker %s: unhandled error", threading.current_thread().name)

    def shutdown(self) -> None:
        """Drop queued work and let every thread finish its current item and exit."""
        with self._lock:
            self._closed = True
            self._items.clear()
            while self._sleeping:
                self._awake += 1
                self._sleeping.pop().release()


class ThreadingApplication(Application):
    """Handles each request in a worker thread; :meth:`handle_request` returns the answer."""

    def __init__(self, application_id: int | None = None, is_acct_application: bool = False,
                 is_auth_application: bool = False, max_threads: int = 0) -> None:
        super().__init__(application_id, is_acct_application=is_acct_application,
                         is_auth_application=is_auth_application)
        self.max_threads = max_threads
        self._pool: _WorkerPool | None = None

    def receive_request(self, message: Any) -> None:
        pool = self._pool
        if pool is None:
            pool = self._pool = _WorkerPool(self.max_threads or 64, self._process,
                                            f"diameter-app-{self.application_id}")
        pool.submit(message)

    def _process(self, message: Any) -> None:
        try:
            answer = self.handle_request(message)
        except Exception:  # noqa: BLE001 - a failing handler must not kill the worker
            logger.exception("%s request handler failed", self)
            self.node.handler_failed(message)
            return
        if answer is not None:
            try:
                self.send_answer(answer)
            except Exception:  # noqa: BLE001
                logger.exception("%s could not send answer", self)

    def handle_request(self, message: Any) -> Any | None:  # type: ignore[override]
        """Return the answer (or None and call :meth:`send_answer` yourself).

        Subclasses override it; this default answers DIAMETER_UNABLE_TO_COMPLY (5012).
        """
        return self._unhandled(message)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        super().stop()


class SimpleThreadingApplication(ThreadingApplication):
    """A threading application that calls ``request_handler(app, message)`` for requests."""

    def __init__(self, application_id: int | None = None, is_acct_application: bool = False,
                 is_auth_application: bool = False, max_threads: int = 0,
                 request_handler: Callable[[Application, Any], Any] | None = None) -> None:
        super().__init__(application_id, is_acct_application=is_acct_application,
                         is_auth_application=is_auth_application, max_threads=max_threads)
        self._request_handler = request_handler

    def handle_request(self, message: Any) -> Any | None:
        if self._request_handler:
            return self._request_handler(self, message)
        return None


class WaitingMessage:
    """An answer being waited for (kept for API compatibility)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.answer: Any = None
