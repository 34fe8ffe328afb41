"""Read a Ray job's log: g2rl_verl's per-worker node markers and verl's console step metrics.

The marker format is the contract of g2rl_verl/node_marker.py, written out here independently:

    g2rl_verl[node=<hex node id> host=<hostname> pid=<pid>]: <what> (VERL_USE_EXTERNAL_MODULES=<value>)

verl's console logger prints one line per step: ``step:<n> - <key>:<value> - <key>:<value> ...``.
Ray prefixes forwarded worker lines with ``(ActorName pid=..)`` and colours them; both are stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ANSI = re.compile(r"\x1b\[[0-9;]*m")
MARKER = re.compile(
    r"g2rl_verl\[node=(?P<node>[0-9a-f]+) host=(?P<host>\S+) pid=(?P<pid>\d+)\]: (?P<what>.*?)"
    r" \(VERL_USE_EXTERNAL_MODULES=(?P<modules>[^)]*)\)\s*$"
)
STEP = re.compile(r"(?:^|\s)step:(?P<step>\d+) - (?P<rest>.*)$")
PLUGIN = "plugin registered"
ROUTER = "reward router loaded"


@dataclass(frozen=True)
class Marker:
    node_id: str
    host: str
    pid: int
    what: str
    modules: str


def clean(text: str) -> list[str]:
    return [ANSI.sub("", line) for line in text.splitlines()]


def markers(text: str) -> list[Marker]:
    found = []
    for line in clean(text):
        m = MARKER.search(line)
        if m:
            found.append(Marker(m["node"], m["host"], int(m["pid"]), m["what"], m["modules"]))
    return found


def step_metrics(text: str) -> dict[int, dict[str, float | str]]:
    """step -> {metric: value} from verl's console lines (the last line of a step wins)."""
    steps: dict[int, dict[str, float | str]] = {}
    for line in clean(text):
        m = STEP.search(line)
        if not m:
            continue
        values: dict[str, float | str] = {}
        for item in m["rest"].split(" - "):
            key, sep, value = item.rpartition(":")
            if not sep:
                continue
            try:
                values[key.strip()] = float(value)
            except ValueError:
                values[key.strip()] = value.strip()
        steps[int(m["step"])] = values
    return steps


def registration_problems(found: list[Marker], node_id: str, node_name: str, loud_module: str) -> list[str]:
    """What is missing for "our losses, estimator and reward router were registered on this node"."""
    on_node = [m for m in found if m.node_id == node_id]
    seen = sorted({(m.node_id[:8], m.what.split(",")[0]) for m in found})
    problems = []
    plugin = [m for m in on_node if m.what.startswith(PLUGIN)]
    if not plugin:
        problems.append(
            f"plugin not loaded on node {node_name!r} ({node_id}): no '{PLUGIN}' marker from any worker there "
            f"(markers seen, by node: {seen or 'none'}). Is g2rl-verl pip-installed on that node?"
        )
    elif not all(k in plugin[0].what for k in ("gppo", "ce_gppo", "estimator g2rl")):
        problems.append(
            f"plugin on node {node_name!r} did not report our losses and estimator: {plugin[0].what!r}"
        )
    if not any(m.what.startswith(ROUTER) for m in on_node):
        problems.append(
            f"reward router not loaded on node {node_name!r} ({node_id}): no '{ROUTER}' marker there "
            f"(markers seen, by node: {seen or 'none'})"
        )
    not_loud = sorted({m.pid for m in on_node if loud_module not in m.modules.split(",")})
    if not_loud:
        problems.append(
            f"runtime env did not reach workers {not_loud} on node {node_name!r}: "
            f"VERL_USE_EXTERNAL_MODULES lacks {loud_module} (check recipes/cluster/runtime_env.yaml)"
        )
    return problems
