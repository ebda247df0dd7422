"""One worker process for work that can run beside this process's own (e.g. independent analysis steps).

:class:`WorkerProcess` is a :class:`concurrent.futures.Executor` backed by one fresh Python process
(``python -m welfare_eval._worker``) that runs the submitted calls in order. Unlike :mod:`multiprocessing`'s
``spawn``/``forkserver`` pools, it never re-imports the caller's ``__main__`` (a script without an
``if __name__ == "__main__"`` guard would otherwise run again in the worker), and unlike ``fork`` it does not
copy a process that may be running threads. Calls, arguments and results travel pickled over a pipe; the
worker takes the caller's ``sys.path`` (so functions of the caller's modules unpickle there) and imports what
it is told at start, while the caller goes on.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future
from typing import Any

__all__ = ["WorkerProcess"]


class WorkerProcess(Executor):
    """A one-process executor: ``submit(fn, *args, **kwargs)`` runs ``fn`` in the worker (calls in order).

    ``fn`` must be picklable (a module-level function), as must its arguments and result. An exception raised by
    ``fn`` is raised by the future's ``result()``; a worker that dies makes every pending future (and later
    submits) raise :class:`concurrent.futures.BrokenExecutor`.

    Parameters
    ----------
    imports : sequence of str
        Modules the worker imports as it starts.
    env : dict, optional
        Environment variables set in the worker (over this process's environment).
    """

    def __init__(self, imports: Sequence[str] = (), *, env: dict[str, str] | None = None) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "welfare_eval._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self._lock = threading.Lock()
        self._pending: deque[Future[Any]] = deque()
        self._broken = False
        self._outbox: queue.Queue[bytes | None] = queue.Queue()
        # pickled calls are written by a thread: the pipe holds 64 KB and the worker reads only between calls
        self._writer = threading.Thread(target=self._write, name="welfare-eval-worker-writer", daemon=True)
        self._reader = threading.Thread(target=self._read, name="welfare-eval-worker-reader", daemon=True)
        self._writer.start()
        self._reader.start()
        # first message: this process's import path (as multiprocessing's spawn passes it) and the imports
        self._outbox.put(pickle.dumps((list(sys.path), list(imports)), protocol=pickle.HIGHEST_PROTOCOL))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        payload = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        fut: Future[Any] = Future()
        with self._lock:
            if self._broken:
                raise BrokenExecutor("the worker process has stopped")
            self._pending.append(fut)
            self._outbox.put(payload)
        return fut

    def _write(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        while True:
            payload = self._outbox.get()
            try:
                if payload is None:
                    stdin.close()
                    return
                stdin.write(payload)
                stdin.flush()
            except OSError:  # the worker died; the reader fails the pending futures
                return

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        while True:
            try:
                ok, value = pickle.load(stdout)
            except Exception:  # EOF or a broken stream: the worker has stopped
                with self._lock:
                    self._broken = True
                    pending, self._pending = list(self._pending), deque()
                for fut in pending:
                    fut.set_exception(BrokenExecutor("the worker process stopped before finishing the call"))
                return
            with self._lock:
                fut = self._pending.popleft()
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Let the worker finish its calls and exit (``cancel_futures``: stop it now)."""
        if cancel_futures:
            with self._lock:
                busy = bool(self._pending)
            if busy:
                self._proc.kill()
        self._outbox.put(None)
        if wait:
            self._proc.wait()
            self._reader.join()
            self._writer.join()
            if self._proc.stdout is not None:
                self._proc.stdout.close()


def _main() -> None:
    """The worker: take the caller's import path, import the modules it names, then run pickled calls from stdin."""
    import importlib

    # the protocol goes to a private copy of stdout; anything the calls print goes to stderr
    proto = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    path, imports = pickle.load(stdin)
    sys.path[:] = [*path, *(p for p in sys.path if p not in path)]
    for name in imports:
        importlib.import_module(name)
    while True:
        try:
            fn, args, kwargs = pickle.load(stdin)
        except Exception:  # EOF: the caller shut the worker down (or went away)
            return
        try:
            result: tuple[bool, Any] = (True, fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller's future
            result = (False, exc)
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable result or exception
            data = pickle.dumps((False, RuntimeError(f"worker: cannot send the result back: {exc!r}")))
        proto.write(data)
        proto.flush()


if __name__ == "__main__":
    _main()
