"""Map a function over independent tasks: serially by default, on a dask.distributed cluster on request.

Scale policy: one machine by default; a Dask cluster when the user has one. :func:`map_tasks`
is the one place that runs a list of tasks; it returns their results in task order, shows a
tqdm bar on stderr and gives the same results whichever way the tasks run, provided each
task's randomness comes from :func:`task_rng` / :func:`task_seed` (seeded from the run seed
and the task's index, never from a shared generator or the order tasks finish in).

``dask[distributed]`` is an optional extra (``pip install -e ".[dask]"``), imported only when a
scheduler is given. Every workstation-side problem (dask missing, an address that is
malformed or does not answer) is a one-line :class:`~causaltraits.errors.ParameterError`.
The workers must be able to import ``causaltraits`` (same version as the client).

Examples
--------
>>> map_tasks(lambda shared, i: shared + task_seed(0, i) % 10, range(3), shared=100)  # doctest: +SKIP
>>> map_tasks(fit_one, range(20), shared=ds, scheduler="tcp://10.0.0.5:8786")          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from causaltraits.errors import ParameterError

#: seconds to wait for a scheduler to answer before giving up with a one-line error
CONNECT_TIMEOUT = 10.0

_NO_SHARED = object()


def task_seed(seed: int, index: int) -> int:
    """A 32-bit seed for task ``index`` of a run seeded with ``seed`` (independent of the others)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def task_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of task ``index`` of a run seeded with ``seed``."""
    return np.random.default_rng([int(seed), int(index)])


def check_dask(option: str = "--scheduler") -> None:
    """Fail with one line when dask.distributed is not installed."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise ParameterError(
            f"{option} needs the optional dependency dask[distributed] "
            f"(pip install 'dask[distributed]' or pip install -e '.[dask]')"
        ) from None


def check_scheduler(address: str, timeout: float | None = None, option: str = "--scheduler") -> None:
    """Fail with one line unless dask is installed and a scheduler answers at ``address``.

    Cheap (one connection); call it before any work so a wrong address costs nothing.
    """
    check_dask(option)
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect

    timeout = CONNECT_TIMEOUT if timeout is None else float(timeout)

    async def probe() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    # a thread of its own: asyncio.run refuses to start inside a running loop (Jupyter)
    with ThreadPoolExecutor(1) as pool:
        try:
            pool.submit(asyncio.run, probe()).result()
        except ValueError as e:  # malformed address: no port, unknown scheme
            raise ParameterError(f"{option} '{address}': {e}; expected e.g. tcp://HOST:8786") from None
        except OSError as e:  # refused, unknown host, timed out
            raise ParameterError(f"{option} '{address}': no dask scheduler answered within {timeout:g} s "
                                 f"({type(e).__name__}: {e})") from None


class _Box:
    """Wraps the shared argument so dask scatters it as one object (a list would be split)."""

    def __init__(self, value: Any):
        self.value = value


def _call(fn: Callable, box: Any, task: Any) -> Any:
    return fn(task) if box is None else fn(box.value, task)


def map_tasks(fn: Callable, tasks: Iterable[Any], *, shared: Any = _NO_SHARED, scheduler: Any = None,
              progress: bool = False, desc: str = "tasks", unit: str = "task") -> list[Any]:
    """``[fn(shared, t) for t in tasks]`` (or ``fn(t)`` without ``shared``), serially or on dask.

    Parameters
    ----------
    fn : a module-level function (dask pickles it by reference: the workers import its module)
    tasks : the task arguments, small (each is sent to a worker)
    shared : an argument common to every task (e.g. the dataset); on dask it is sent to each
        worker once, not once per task
    scheduler : None (run here, serially), a scheduler address such as ``tcp://HOST:8786``, or a
        ``distributed.Client`` (used as is and left open)
    progress : show a tqdm bar on stderr
    desc, unit : labels of the bar

    Returns
    -------
    list : the results, in task order whichever task finished first

    Notes
    -----
    A task that raises re-raises here (the first in task order); on an error or Ctrl-C the
    tasks not yet run are cancelled.
    """
    from tqdm.auto import tqdm

    tasks = list(tasks)
    has_shared = shared is not _NO_SHARED
    bar = tqdm(total=len(tasks), desc=desc, unit=unit, disable=None if progress else True, leave=False)
    try:
        if scheduler is None:
            out = []
            for t in tasks:
                out.append(fn(shared, t) if has_shared else fn(t))
                bar.update(1)
            return out
        return _map_dask(fn, tasks, shared if has_shared else _NO_SHARED, scheduler, bar)
    finally:
        bar.close()


def _map_dask(fn: Callable, tasks: list[Any], shared: Any, scheduler: Any, bar: Any) -> list[Any]:
    check_dask()
    from distributed import Client, as_completed

    if isinstance(scheduler, Client):
        client, own = scheduler, False
    else:
        check_scheduler(str(scheduler))
        client, own = Client(str(scheduler), timeout=CONNECT_TIMEOUT, set_as_default=False), True
    futures: list[Any] = []
    try:
        box = None
        if shared is not _NO_SHARED:
            # hash=False: tokenising a whole dataset only to name it is wasted work
            box = client.scatter(_Box(shared), broadcast=True, hash=False)
        futures = [client.submit(_call, fn, box, t, pure=False) for t in tasks]
        for f in as_completed(futures, loop=client.loop):
            if f.status == "error":
                f.result()  # fail fast: re-raise the task's exception here
            bar.update(1)
        return [f.result() for f in futures]
    except BaseException:
        if futures:
            client.cancel(futures)
        raise
    finally:
        if own:
            client.close()
