"""Run a coroutine from synchronous code — a script, or a notebook whose loop is running."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even inside a running loop.

    Inside a loop it runs on a fresh loop in a worker thread; Ctrl-C in the caller's thread
    cancels it there (so it can log that it was interrupted) and is then re-raised.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    loop = asyncio.new_event_loop()
    task_box: list[asyncio.Task[T]] = []
    box: dict[str, Any] = {}

    def worker() -> None:
        asyncio.set_event_loop(loop)
        try:
            task = loop.create_task(coro)
            task_box.append(task)
            box["value"] = loop.run_until_complete(task)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc
        finally:
            _shut_down(loop)

    thread = threading.Thread(target=worker, name="vs_sim-run", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        if task_box:
            loop.call_soon_threadsafe(task_box[0].cancel)
        thread.join()
        raise
    if "error" in box:
        raise box["error"]
    result: T = box["value"]
    return result


def _shut_down(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.run`` does at the end: cancel leftover tasks (a library's background
    workers), finish async generators and the default executor, then close the loop."""
    try:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
