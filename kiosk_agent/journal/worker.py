"""The journal's own thread: runs sqlite work one call at a time, in submission order.

A lighter hop than ``loop.run_in_executor`` on a one-thread ``ThreadPoolExecutor``
(same order, same behaviour for the caller): a call is a tuple put on a
``SimpleQueue``, without the ``concurrent.futures.Future`` and the future chaining.

Results go back to the event loop the worker first served (its home loop) through
an ``eventfd`` the loop watches (Linux): the thread appends the outcome to a deque
and writes the eventfd; one reader callback on the loop drains the deque into the
callers' asyncio futures. That is one ``write`` and one ``read``, where
``call_soon_threadsafe`` costs a handle, a ``send`` on the loop's self-pipe and two
``recv`` (the second one raising ``BlockingIOError``) per result. Every sale pays one
round trip, and it is paid by threads that were asleep during the fsync: measured here
with a call that sleeps 0.5 ms (like a fast fsync), 2 x 7 rounds of 1,500 calls at load
average 8: 66-84 us of CPU per round trip against 82-94 us, 761-838 us of wall time
against 804-939 us (the call alone: 627-643 us). Calls from another loop, or where
there is no eventfd, get their result with ``call_soon_threadsafe`` as before.

A daemon thread: a journal still open when the interpreter exits is like a crash,
which the WAL makes safe (a commit that returned is on disk, an unfinished one is
rolled back); :meth:`JournalWorker.stop` is the orderly end.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import TypeVar, TypeVarTuple, cast

log = logging.getLogger(__name__)

T = TypeVar("T")
Args = TypeVarTuple("Args")

# A queued call: its future, the function and its arguments, and whether the result
# goes back through the home loop's eventfd (else call_soon_threadsafe).
_Job = tuple["asyncio.Future[object]", Callable[..., object], tuple[object, ...], bool]
# A finished call for the home loop: the future, the result, the exception (or None).
_Outcome = tuple["asyncio.Future[object]", object, BaseException | None]


def _settle(future: asyncio.Future[object], value: object, err: BaseException | None) -> None:
    if future.done():  # the caller may have been cancelled meanwhile
        return
    if err is None:
        future.set_result(value)
    else:
        future.set_exception(err)


class JournalWorker:
    """One thread that runs submitted calls in order; see the module docstring."""

    def __init__(self, name: str = "journal") -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._home: asyncio.AbstractEventLoop | None = None
        self._efd = -1
        self._outcomes: collections.deque[_Outcome] = collections.deque()
        self._stopped_by_itself = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[*Args], T], *args: *Args) -> asyncio.Future[T]:
        """Queue ``fn(*args)``; the returned future (of the running loop) gets its result.

        Like an executor, a call whose future was cancelled before the thread reached it
        is skipped; once started it runs to its end.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._home is None:
            self._attach(loop)
        home = loop is self._home and self._efd >= 0
        self._queue.put((cast("asyncio.Future[object]", future), fn, args, home))
        return future

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make ``loop`` the home loop: watch an eventfd for its results, if there is one."""
        self._home = loop
        if not hasattr(os, "eventfd"):
            return
        efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        try:
            loop.add_reader(efd, self._deliver)
        except NotImplementedError:  # a loop without readers (Windows' proactor)
            os.close(efd)
            return
        self._efd = efd

    def _deliver(self) -> None:
        """On the home loop: hand the finished calls' outcomes to their futures."""
        try:
            os.eventfd_read(self._efd)
        except BlockingIOError:  # already drained by an earlier callback
            pass
        self._settle_outcomes()

    def _settle_outcomes(self) -> None:
        outcomes = self._outcomes
        while outcomes:
            _settle(*outcomes.popleft())

    def stop(self) -> None:
        """Let the queued calls finish, then end the thread (waits for it)."""
        self._queue.put(None)
        if threading.current_thread() is self._thread:
            self._stopped_by_itself = True  # the thread lets go of the eventfd at its end
            return
        self._thread.join()
        self._release()

    def _release(self) -> None:
        """After the last call: deliver what is left and close the eventfd."""
        home, efd, self._efd = self._home, self._efd, -1
        if home is None or efd < 0:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is home:
            self._deliver_and_close(home, efd)
            return
        if not home.is_closed():
            try:
                home.call_soon_threadsafe(self._deliver_and_close, home, efd)
                return
            except RuntimeError:  # closed meanwhile
                pass
        self._outcomes.clear()  # the loop is closed: nobody is waiting any more
        os.close(efd)

    def _deliver_and_close(self, home: asyncio.AbstractEventLoop, efd: int) -> None:
        home.remove_reader(efd)
        self._settle_outcomes()
        os.close(efd)

    def _run(self) -> None:
        get, outcomes = self._queue.get, self._outcomes
        while (job := get()) is not None:
            future, fn, args, home = job
            del job
            value: object = None
            err: BaseException | None = None
            if not future.cancelled():
                try:
                    value = fn(*args)
                except BaseException as exc:  # handed to the caller, as an executor does
                    err = exc
                if home:
                    outcomes.append((future, value, err))
                    os.eventfd_write(self._efd, 1)
                else:
                    try:
                        future.get_loop().call_soon_threadsafe(_settle, future, value, err)
                    except RuntimeError:  # the caller's loop is closed: nobody is waiting
                        log.debug("journal call finished after its event loop closed")
            del future, fn, args, value, err  # hold nothing of the last call while idle
        if self._stopped_by_itself:
            self._release()
