"""One stderr line per Ray worker process saying what g2rl_verl registered there, and on which Ray node.

On a multi-node cluster the question "did the plugin load on every node?" has no other direct answer:
verl swallows entry-point import errors, and a node without the package or without the runtime env
fails only later (an unknown loss mode, a reward worker that cannot import the router). Ray streams a
worker's stderr into the job's log, prefixed with the actor and pid, so after a job

    ray job logs <submission id> | grep 'g2rl_verl\\[node='

lists one line per worker process with its node id (docs/cluster.md, "Check that the plugin loaded
on every node"). Printed only inside Ray worker processes: drivers, tests and CLIs stay quiet.
Ray collapses log lines that differ only in numbers; `recipes/cluster/runtime_env.yaml` exempts these
lines (RAY_DEDUP_LOGS_ALLOW_REGEX=MARKER_REGEX) so every process keeps its own line.
"""

from __future__ import annotations

import os
import socket
import sys

MARKER_PREFIX = "g2rl_verl[node="
MARKER_REGEX = r"g2rl_verl\[node="  # for RAY_DEDUP_LOGS_ALLOW_REGEX


def ray_worker_node_id() -> str | None:
    """The Ray node id when called in a Ray worker process (an actor or task), else None.

    Looks Ray up in ``sys.modules`` instead of importing it: a process that never imported Ray is no
    Ray worker, and this module must stay import-light.
    """
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    from ray._private.worker import WORKER_MODE, global_worker  # the public context has no "mode"

    if global_worker.mode != WORKER_MODE:
        return None
    return ray.get_runtime_context().get_node_id()


def announce(what: str) -> None:
    """If this is a Ray worker, print
    ``g2rl_verl[node=<id> host=<hostname> pid=<pid>]: <what> (VERL_USE_EXTERNAL_MODULES=<value>)``.

    The variable shows whether the runtime env reached this process (loud plugin import) or the plugin
    came only through verl's entry point (whose import errors verl swallows).
    """
    node_id = ray_worker_node_id()
    if node_id is None:
        return
    loud = os.environ.get("VERL_USE_EXTERNAL_MODULES", "")
    print(
        f"{MARKER_PREFIX}{node_id} host={socket.gethostname()} pid={os.getpid()}]: {what}"
        f" (VERL_USE_EXTERNAL_MODULES={loud})",
        file=sys.stderr,
        flush=True,
    )
