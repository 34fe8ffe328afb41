"""Hostile and edge-case suite (30 cases, docs/sandbox.md "Threat model") against the local (bwrap) backend.

Each test asserts the verdict the program earns and the host invariants: no surviving process, no file
written outside the sandbox, parent fds/RSS back to baseline (HostBaseline in conftest.py). A sample of
cases also runs a correct "bystander" program concurrently and checks that it keeps its AC verdicts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
import uuid

import pytest

from sandbox import BadTestSpec, Limits, Verdict, evaluate_async, evaluate_batch_async

AC, WA, TLE, MLE, RE, OLE = Verdict.AC, Verdict.WA, Verdict.TLE, Verdict.MLE, Verdict.RE, Verdict.OLE


def verdicts(result):
    return [t.verdict for t in result.tests]


# 1 ---------------------------------------------------------------------------------------------------
def test_01_busy_loop_is_cpu_tle_at_the_limit(local_backend, sb, host):
    r = sb.run(local_backend, "while True: pass", sb.stdio([""]), limits=sb.BUSY)
    t = r.tests[0]
    assert (t.verdict, t.detail) == (TLE, "cpu")
    assert 0.3 <= t.cpu_s <= 0.5 + 1.5, t.cpu_s  # killed by SIGXCPU at ceil(0.5) = 1 s, or the poll
    assert not host.problems()


# 2 ---------------------------------------------------------------------------------------------------
def test_02_sleeper_is_wall_tle(local_backend, sb, host):
    t0 = time.monotonic()
    r = sb.run(local_backend, "import time\ntime.sleep(10**6)", sb.stdio([""]), limits=sb.SLEEPY)
    assert (r.tests[0].verdict, r.tests[0].detail) == (TLE, "wall")
    assert time.monotonic() - t0 < 1.0 + 2.0 + 5.0  # wall cap + slack + sandbox start-up under load
    assert not host.problems()


def test_02_blocking_input_at_eof_is_runtime_error_not_a_hang(local_backend, sb, host):
    r = sb.run(local_backend, "x = input()\ny = input()\nprint(x, y)", sb.stdio(["only one line\n"]), limits=sb.SLEEPY)
    assert r.tests[0].verdict == RE and "EOFError" in r.tests[0].stderr_tail
    assert not host.problems()


# 3 ---------------------------------------------------------------------------------------------------
def test_03_ignoring_signals_still_ends_in_tle(local_backend, sb, host):
    program = (
        "import signal\n"
        "for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGXCPU, signal.SIGINT, signal.SIGHUP):\n"
        "    signal.signal(s, signal.SIG_IGN)\n"
        "while True: pass\n"
    )
    r = sb.run_next_to_bystander(local_backend, program, sb.stdio([""]), limits=sb.BUSY)
    assert (r.tests[0].verdict, r.tests[0].detail) == (TLE, "cpu")
    assert not host.problems()


# 4 ---------------------------------------------------------------------------------------------------
def test_04_self_sigstop_is_wall_tle_and_reaped(local_backend, sb, host):
    r = sb.run(local_backend, "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\nprint(1)",
               sb.stdio([""], ["1"]), limits=sb.SLEEPY)
    assert (r.tests[0].verdict, r.tests[0].detail) == (TLE, "wall")
    assert not host.problems()


# 5 ---------------------------------------------------------------------------------------------------
FORK_BOMBS = {
    "os_fork": "import os\nwhile True:\n    os.fork()\n",
    "multiprocessing": (
        "import multiprocessing as mp, time\n"
        "ps = []\n"
        "while True:\n"
        "    p = mp.Process(target=time.sleep, args=(100,))\n"
        "    p.start()\n"
        "    ps.append(p)\n"
    ),
    "shell": "import subprocess\nsubprocess.run(['bash', '-c', ':(){ :|:& };:'])\nwhile True: pass\n",
}


@pytest.mark.parametrize("name", sorted(FORK_BOMBS))
def test_05_fork_bombs_are_capped_and_fully_reaped(local_backend, sb, host, name):
    r = sb.run_next_to_bystander(local_backend, FORK_BOMBS[name], sb.stdio([""], ["x"]), limits=sb.SLEEPY)
    assert r.tests[0].verdict in (RE, TLE), r.tests[0]
    assert not host.problems()


# 6 ---------------------------------------------------------------------------------------------------
def test_06_thread_bomb_is_capped(local_backend, sb, host):
    program = (
        "import threading, time\n"
        "while True:\n"
        "    threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n"
    )
    r = sb.run_next_to_bystander(local_backend, program, sb.stdio([""], ["x"]), limits=sb.SLEEPY)
    t = r.tests[0]
    assert t.verdict in (RE, TLE), t
    if t.verdict == RE:  # the pid cap (32 tasks) stopped it, not the clock
        assert "can't start new thread" in t.stderr_tail
    assert not host.problems()


# 7 ---------------------------------------------------------------------------------------------------
DAEMONS = {
    "double_fork_setsid": (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "print('started')\n"
    ),
    "nohup_background": "import subprocess\nsubprocess.Popen('nohup sleep 60 >/dev/null 2>&1 &', shell=True).wait()\nprint('started')\n",
}


@pytest.mark.parametrize("name", sorted(DAEMONS))
def test_07_daemons_do_not_survive_the_run(local_backend, sb, host, name):
    t0 = time.monotonic()
    r = sb.run(local_backend, DAEMONS[name], sb.stdio(["", ""], ["started", "started"]))
    assert verdicts(r) == [AC, AC]  # judged on its output; the daemon is killed after each test
    assert time.monotonic() - t0 < 15  # nobody waited for the 60 s sleeper
    assert not host.problems()


# 8 ---------------------------------------------------------------------------------------------------
MEMORY_BOMBS = {
    "bytearray": "x = bytearray(10**10)\n",
    "list_append": "chunks = []\nwhile True:\n    chunks.append(' ' * 10**6)\n",
}


@pytest.mark.parametrize("name", sorted(MEMORY_BOMBS))
def test_08_memory_bombs_are_mle(local_backend, sb, host, name):
    r = sb.run_next_to_bystander(local_backend, MEMORY_BOMBS[name], sb.stdio([""], ["x"]))
    assert r.tests[0].verdict == MLE, r.tests[0]
    assert not host.problems()


def test_08_memory_spread_over_processes_is_capped_for_the_tree(local_backend, sb, host):
    # Each process stays under RLIMIT_AS (256 MiB) but 4 x 150 MiB resident exceeds the limit for the
    # sandbox: the runner's tree-RSS poll kills it (RLIMIT_AS alone would allow 32 x 256 MiB).
    program = (
        "import os, time\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        break\n"
        "block = bytearray(150 << 20)\n"
        "time.sleep(30)\n"
    )
    r = sb.run_next_to_bystander(local_backend, program, sb.stdio([""], ["x"]), limits=Limits(cpu_s=5, wall_s=20, memory_mb=256))
    # whichever of the runner's tree-RSS poll and the memory cgroup fires first: both are the tree's limit
    assert r.tests[0].verdict == MLE, r.tests[0]
    assert r.tests[0].detail in ("tree RSS above the memory limit", "killed by the sandbox's memory cgroup"), \
        r.tests[0]
    assert r.tests[0].wall_s < 15  # killed by a memory limit, not the 20 s wall cap
    assert not host.problems()


def test_08_numpy_memory_bomb_is_mle(numpy_backend, sb, host):
    r = sb.run(numpy_backend, "import numpy\nx = numpy.ones(10**10)\n", sb.stdio([""], ["x"]),
               limits=Limits(cpu_s=5, memory_mb=512))
    assert r.tests[0].verdict == MLE, r.tests[0]  # numpy raises _ArrayMemoryError (a MemoryError)
    assert not host.problems()


# 9 ---------------------------------------------------------------------------------------------------
def test_09_c_stack_overflow_is_a_signal_and_the_runner_survives(local_backend, sb, host):
    # json's C encoder recurses per nesting level; with the recursion limit lifted the 64 MiB C stack
    # overflows (pure-Python recursion would not: CPython 3.11 keeps Python frames off the C stack).
    program = (
        "import sys, json\n"
        "if input() == 'crash':\n"
        "    sys.setrecursionlimit(10**8)\n"
        "    x = []\n"
        "    for _ in range(10**6):\n"
        "        x = [x]\n"
        "    print(len(json.dumps(x)))\n"
        "else:\n"
        "    print('alive')\n"
    )
    r = sb.run(local_backend, program, sb.stdio(["crash", "ok"], ["?", "alive"]), limits=Limits(cpu_s=5, memory_mb=1024))
    assert (r.tests[0].verdict, r.tests[0].signal) == (RE, signal.SIGSEGV), r.tests[0]
    assert r.tests[1].verdict == AC  # same runner, next test
    assert not host.problems()


# 10 --------------------------------------------------------------------------------------------------
CRASHES = {
    "ctypes_null": ("import ctypes\nctypes.string_at(0)\n", signal.SIGSEGV),
    "abort": ("import os\nos.abort()\n", signal.SIGABRT),
}


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_10_native_crashes_are_re_with_the_signal(local_backend, sb, host, name):
    program, sig = CRASHES[name]
    r = sb.run(local_backend, program, sb.stdio([""]))
    assert (r.tests[0].verdict, r.tests[0].signal) == (RE, sig)
    assert not host.problems()


def test_10_no_core_dump_is_written(local_backend, sb, host):
    program = (
        "import os\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.abort()\n"
        "os.waitpid(pid, 0)\n"
        "print(sorted(os.listdir('.')))\n"
    )
    # The work dir holds only the program's own file (written for `open(__file__)`), no core file.
    r = sb.run(local_backend, program, sb.stdio([""], ["['solution.py']"]))
    assert r.tests[0].verdict == AC, r.tests[0]
    assert not host.problems()


# 11 --------------------------------------------------------------------------------------------------
FLOODS = {
    "stdout_1gb": "import sys\nblock = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(block)\n",
    "stderr_1gb": "import sys\nblock = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stderr.write(block)\n",
    "one_100mb_line": "import sys\nsys.stdout.write('y' * (100 << 20))\n",
}


@pytest.mark.parametrize("name", sorted(FLOODS))
def test_11_output_floods_are_ole_with_bounded_parent_memory(local_backend, sb, host, name):
    t0 = time.monotonic()
    r = sb.run_next_to_bystander(local_backend, FLOODS[name], sb.stdio([""], ["x"]), limits=Limits(cpu_s=5, memory_mb=512))
    t = r.tests[0]
    assert (t.verdict, t.cap_hit) == (OLE, True)
    assert time.monotonic() - t0 < 15  # killed at the cap, not at the 16 s wall cap
    assert len(t.stdout_head) <= 4096 and len(t.stderr_tail) <= 4096  # records stay small
    assert not host.problems(rss_slack_mb=32)


def test_11_150kb_output_is_no_false_tle(local_backend, sb, host):
    expected = "\n".join(str(i) * 10 for i in range(15000))  # 15000 lines, ~600 KB
    r = sb.run(local_backend, "for i in range(15000):\n    print(str(i) * 10)\n", sb.stdio([""], [expected]))
    assert r.tests[0].verdict == AC and r.tests[0].stdout_bytes > 150_000
    assert not host.problems()


# 12 --------------------------------------------------------------------------------------------------
ODD_OUTPUTS = {
    # name: (program, expected, verdict under "lines")
    "emoji": ("print('héllo 😀')", "héllo 😀", AC),
    "nul_bytes": ("import sys\nsys.stdout.write('a\\x00b\\n')", "a\x00b", AC),
    "invalid_utf8": ("import sys\nsys.stdout.buffer.write(b'\\xff\\xfe ok\\n')", "ok", WA),
    "binary": ("import sys, os\nsys.stdout.buffer.write(bytes(range(256)))", "x", WA),
}


@pytest.mark.parametrize("name", sorted(ODD_OUTPUTS))
def test_12_odd_bytes_are_judged_without_crashing(local_backend, sb, host, name):
    program, expected, verdict = ODD_OUTPUTS[name]
    r = sb.run(local_backend, program, sb.stdio([""], [expected]))
    assert r.tests[0].verdict == verdict, r.tests[0]
    assert not host.problems()


# 13 --------------------------------------------------------------------------------------------------
def test_13_writes_outside_the_private_tmp_fail_and_nothing_reaches_the_host(local_backend, sb, host):
    marker = f"g2rl-hostile-{uuid.uuid4().hex}"
    targets = ["/etc/" + marker, "/root/" + marker, "../../" + marker, "/" + marker, "/usr/" + marker]
    program = (
        "import os, json\n"
        f"targets = {targets!r}\n"
        "out = {}\n"
        "for p in targets + [os.path.expanduser('~/.bashrc'), '/tmp/" + marker + "']:\n"
        "    try:\n"
        "        open(p, 'w').write('x')\n"
        "        out[p] = 'ok'\n"
        "    except OSError as e:\n"
        "        out[p] = 'denied'\n"
        "print(json.dumps(out, sort_keys=True))\n"
    )
    expected = {p: "denied" for p in targets}
    expected["/tmp/.bashrc"] = "ok"  # HOME is the private tmp
    expected["/tmp/" + marker] = "ok"  # the private tmp, not the host's
    r = sb.run(local_backend, program, sb.stdio([""], [json.dumps(expected, sort_keys=True)]))
    assert r.tests[0].verdict == AC, r.tests[0]
    leaked = [p for p in ("/etc", "/root", "/", "/usr", "/tmp", os.getcwd(), os.path.dirname(os.getcwd()))
              if os.path.exists(os.path.join(p, marker))]
    assert not leaked and not host.problems()


# 14 --------------------------------------------------------------------------------------------------
FILLERS = {
    "fill_tmp": "block = b'x' * (1 << 20)\ni = 0\nwhile True:\n    with open(f'f{i}', 'wb') as f:\n        for _ in range(4):\n            f.write(block)\n    i += 1\n",
    "huge_file": "with open('big', 'wb') as f:\n    f.write(b'x' * (64 << 20))\n",
    "many_files": "i = 0\nwhile True:\n    open(f'f{i}', 'w').close()\n    i += 1\n",
    "many_fds": "fds = [open('/dev/null') for _ in range(10**5)]\n",
}


@pytest.mark.parametrize("name", sorted(FILLERS))
def test_14_disk_and_fd_exhaustion_hit_the_caps(local_backend, sb, host, name):
    r = sb.run(local_backend, FILLERS[name], sb.stdio([""], ["x"]), limits=Limits(cpu_s=1, memory_mb=256, tmpfs_mb=16))
    t = r.tests[0]
    if name == "many_files":
        assert t.verdict in (RE, TLE), t  # inodes are only bounded by the CPU limit (documented)
    else:
        assert t.verdict == RE, t
        # fill_tmp: ENOSPC (16 MiB tmpfs); huge_file: EFBIG at 8 MiB (CPython ignores SIGXFSZ);
        # many_fds: EMFILE at 64 fds
        assert any(s in t.stderr_tail for s in ("No space left", "File too large", "Too many open files")), t

    assert not host.problems()


# 15 --------------------------------------------------------------------------------------------------
@pytest.fixture
def listening_port():
    """A TCP server on the host's loopback, standing in for the executor's own API."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    yield server.getsockname()[1]
    server.close()


NETWORK = {
    "internet": "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\nprint('connected')\n",
    "dns": "import socket\nprint(socket.getaddrinfo('example.com', 80))\n",
    "executor_port": "import socket, sys\nsocket.create_connection(('127.0.0.1', int(sys.stdin.read())), timeout=2)\nprint('connected')\n",
    "docker_socket": "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/var/run/docker.sock')\nprint('connected')\n",
}


@pytest.mark.parametrize("name", sorted(NETWORK))
def test_15_network_is_unreachable(local_backend, sb, host, listening_port, name):
    r = sb.run(local_backend, NETWORK[name], sb.stdio([str(listening_port)], ["connected"]))
    t = r.tests[0]
    assert t.verdict == RE and "connected" not in t.stdout_head, t
    assert not host.problems()


# 16 --------------------------------------------------------------------------------------------------
def test_16_secrets_and_host_files_are_out_of_reach(local_backend, sb, host, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws_secret_value_456")
    program = (
        "import os, json\n"
        "def read(p):\n"
        "    try:\n"
        "        return open(p, 'rb').read().decode('latin-1')\n"
        "    except OSError as e:\n"
        "        return 'denied'\n"
        "env = dict(os.environ)\n"
        "print(json.dumps({'shadow': read('/etc/shadow'), 'init_environ': read('/proc/1/environ'),\n"
        "                  'keys': sorted(env), 'self': sorted(k.split('=')[0] for k in read('/proc/self/environ').split('\\0') if k)}))\n"
    )
    allowed = sorted(["PATH", "LANG", "HOME", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                      "PYTHONDONTWRITEBYTECODE", "PWD"])  # PWD: bwrap sets it to the work dir
    expected = json.dumps({"shadow": "denied", "init_environ": "denied", "keys": allowed, "self": allowed})
    r = sb.run(local_backend, program, sb.stdio([""], [expected]))
    assert r.tests[0].verdict == AC, r.tests[0].stdout_head
    assert "secret_value" not in r.tests[0].stdout_head
    assert not host.problems()


# 17 --------------------------------------------------------------------------------------------------
def test_17_expected_outputs_are_nowhere_in_the_sandbox(local_backend, sb, host):
    secret = f"EXPECTED-{uuid.uuid4().hex}"
    program = (
        "import os\n"
        "found = []\n"
        "roots = ['.', '/tmp', '/opt', '/proc/1/fd'] + [os.path.join('..', d) for d in os.listdir('..')\n"
        "         if d not in ('usr', 'proc', 'root', 'dev') and not os.path.islink(os.path.join('..', d))]\n"
        "for root in roots:\n"
        "    for dirpath, dirs, files in os.walk(root):\n"
        "        for f in files:\n"
        "            if os.path.abspath(os.path.join(dirpath, f)) == __file__:\n"
        "                continue  # this program's own source holds the search string\n"
        "            try:\n"
        "                data = open(os.path.join(dirpath, f), 'rb').read(1 << 20)\n"
        "            except OSError:\n"
        "                continue\n"
        f"            if b'{secret[:9]}' in data:\n"
        "                found.append(data)\n"
        "for pid in os.listdir('/proc'):\n"
        "    for name in ('cmdline', 'environ'):\n"
        "        try:\n"
        "            data = open(f'/proc/{pid}/{name}', 'rb').read()\n"
        "        except OSError:\n"
        "            continue\n"
        f"        if b'{secret[:9]}' in data:\n"
        "            found.append(data)\n"
        "print(found[0].decode() if found else 'none')\n"
    )
    r = sb.run(local_backend, program, sb.stdio([""], [secret]))
    assert (r.tests[0].verdict, r.tests[0].stdout_head.strip()) == (WA, "none")
    assert not host.problems()


# 18 --------------------------------------------------------------------------------------------------
# The expected output is "EXPECTED-" + 32 hex digits; the programs look for that shape anywhere.
INTROSPECTION = {
    "frame_walk": (
        "import sys, re\n"
        "f, seen = sys._getframe(), []\n"
        "while f is not None:\n"
        "    seen += [v for v in f.f_locals.values() if isinstance(v, str) and re.search('EXPECTED-[0-9a-f]{32}', v)]\n"
        "    f = f.f_back\n"
        "print(seen[0] if seen else 'none')\n"
    ),
    "gc_scan": (
        "import gc, re\n"
        "hits = [o for o in gc.get_objects() if isinstance(o, (str, list, dict)) and re.search('EXPECTED-[0-9a-f]{32}', repr(o)[:100000])]\n"
        "print(hits[0] if hits else 'none')\n"
    ),
    "patch_builtins": (
        "import builtins\n"
        "builtins.__eq__ = lambda a, b: True\n"
        "class Always(str):\n"
        "    def __eq__(self, other): return True\n"
        "print(Always('none'))\n"
    ),
}


@pytest.mark.parametrize("name", sorted(INTROSPECTION))
def test_18_introspection_cannot_find_or_fake_the_answer(local_backend, sb, host, name):
    secret = f"EXPECTED-{uuid.uuid4().hex}"
    r = sb.run(local_backend, INTROSPECTION[name], sb.stdio([""], [secret]))
    assert r.tests[0].verdict == WA and secret not in r.tests[0].stdout_head
    assert not host.problems()


# 19 --------------------------------------------------------------------------------------------------
KILLERS = {
    "kill_parent": "import os\ntry:\n    os.kill(os.getppid(), 9)\nexcept OSError:\n    pass\nprint('done')\n",
    "killpg_own_group": "import os\nos.killpg(0, 9)\nprint('done')\n",
    "kill_everything": "import os\ntry:\n    os.kill(-1, 9)\nexcept OSError:\n    pass\nprint('done')\n",
    "kill_init": "import os\ntry:\n    os.kill(1, 9)\nexcept OSError:\n    pass\nprint('done')\n",
}


@pytest.mark.parametrize("name", sorted(KILLERS))
def test_19_killing_the_runner_or_others_has_no_effect(local_backend, sb, host, name):
    r = sb.run_next_to_bystander(local_backend, KILLERS[name], sb.stdio(["", ""], ["done", "done"]))
    if name == "killpg_own_group":  # it kills itself: RE by SIGKILL, and the runner carries on
        assert [(t.verdict, t.signal) for t in r.tests] == [(RE, 9), (RE, 9)]
    else:
        assert verdicts(r) == [AC, AC]
    assert not host.problems()


# 20 --------------------------------------------------------------------------------------------------
EARLY_EXITS = {
    "os_exit_0": "import os\nos._exit(0)\nprint('42')\n",
    "sys_exit_0": "import sys\nsys.exit(0)\nprint('42')\n",
}


@pytest.mark.parametrize("name", sorted(EARLY_EXITS))
def test_20_exit_zero_without_output_is_wa(local_backend, sb, host, name):
    r = sb.run(local_backend, EARLY_EXITS[name], sb.stdio([""], ["42"]))
    assert (r.tests[0].verdict, r.tests[0].exit_status) == (WA, 0)
    assert not host.problems()


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "import os; os._exit(0)"])
def test_20_assert_snippet_exiting_early_is_wa(local_backend, sb, host, exit_call):
    program = f"def add(a, b):\n    {exit_call}\n"
    r = sb.run(local_backend, program, {"functional": ["assert add(1, 2) == 3"]})
    assert (r.tests[0].verdict, r.tests[0].exit_status) == (WA, 0)
    assert not host.problems()


# 21 --------------------------------------------------------------------------------------------------
CLOSED_STDOUT = {
    "close_fd1": "import os\nos.close(1)\nos._exit(0)\n",
    "devnull": "import os, sys\nfd = os.open('/dev/null', os.O_WRONLY)\nos.dup2(fd, 1)\nprint('42')\nsys.stdout.flush()\n",
}


@pytest.mark.parametrize("name", sorted(CLOSED_STDOUT))
def test_21_closed_or_redirected_stdout_is_wa(local_backend, sb, host, name):
    r = sb.run(local_backend, CLOSED_STDOUT[name], sb.stdio([""], ["42"]))
    assert r.tests[0].verdict == WA
    assert not host.problems()


# 22 --------------------------------------------------------------------------------------------------
PRIVILEGED_OPS = {
    "ptrace": "libc.ptrace(16, 1, 0, 0)",  # PTRACE_ATTACH to the runner
    "mount": "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)",
    "unshare_user": "libc.unshare(0x10000000)",
    "unshare_net": "libc.unshare(0x40000000)",
    "setns": "libc.setns(os.open('/proc/1/ns/net', os.O_RDONLY), 0)",
    "bpf": "libc.syscall(321, 0, 0, 0)",
    "keyctl": "libc.syscall(250, 0, 0, 0, 0)",
    "raise_rlimit": "resource.setrlimit(resource.RLIMIT_CPU, (10**6, 10**6))",
    "setuid_root": "os.setuid(0)",
}


@pytest.mark.parametrize("name", sorted(PRIVILEGED_OPS))
def test_22_privileged_operations_are_denied(local_backend, sb, host, name):
    program = (
        "import ctypes, os, resource\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "try:\n"
        f"    rc = {PRIVILEGED_OPS[name]}\n"
        "except (OSError, ValueError):\n"
        "    rc = -1\n"
        "print('denied' if rc not in (0, None) else 'ALLOWED')\n"
    )
    r = sb.run(local_backend, program, sb.stdio([""], ["denied"]))
    assert r.tests[0].verdict == AC, (r.tests[0].stdout_head, r.tests[0].stderr_tail)
    assert not host.problems()


# 23 --------------------------------------------------------------------------------------------------
def test_23_numpy_blas_uses_one_thread_and_passes(numpy_backend, sb, host):
    import numpy as np

    a = np.arange(200 * 200, dtype=np.int64).reshape(200, 200) % 7
    expected = f"{int((a @ a).sum())} threads=1"  # computed here, in the parent
    program = (
        "import numpy as np\n"
        "a = np.arange(200 * 200, dtype=np.int64).reshape(200, 200) % 7\n"
        "f = np.asarray(a, dtype=np.float64)\n"
        "for _ in range(20):\n"
        "    f @ f\n"  # BLAS path
        "threads = [l for l in open('/proc/self/status') if l.startswith('Threads:')][0].split()[1]\n"
        "print(int((a @ a).sum()), f'threads={threads}')\n"
    )
    r = sb.run(numpy_backend, program, sb.stdio([""], [expected]), limits=Limits(cpu_s=10, memory_mb=1024))
    assert r.tests[0].verdict == AC, (r.tests[0].stdout_head, r.tests[0].stderr_tail)
    assert not host.problems()


# 24 --------------------------------------------------------------------------------------------------
def test_24_cpu_time_tle_gives_no_false_negative_under_load(local_backend, sb, host):
    # Uses 0.6 x the CPU limit by its own clock, next to 4 x cores busy loops.
    limits = Limits(cpu_s=0.5, wall_s=30, memory_mb=256)
    slow = "import time\nwhile time.process_time() < 0.3:\n    pass\nprint('done')\n"
    busy = [("while True: pass", sb.stdio([""])) for _ in range(4 * (os.cpu_count() or 1))]
    results = asyncio.run(evaluate_batch_async([(slow, sb.stdio([""], ["done"]))] + busy,
                                               concurrency=len(busy) + 1, limits=limits, backend=local_backend))
    assert results[0].tests[0].verdict == AC, results[0].tests[0]
    assert all(r.tests[0].verdict == TLE for r in results[1:])
    assert not host.problems()


# 25 --------------------------------------------------------------------------------------------------
BAD_SPECS = {
    "empty_tests": {"inputs": [], "outputs": []},
    "malformed_json": "{inputs: [1",
    "length_mismatch": {"inputs": ["1", "2"], "outputs": ["1"]},
    "empty_functional": {"functional": []},
    "non_string_input": {"inputs": [1], "outputs": ["1"]},
}


@pytest.mark.parametrize("name", sorted(BAD_SPECS))
def test_25_bad_test_specs_are_rejected_never_scored(local_backend, sb, host, name):
    with pytest.raises(BadTestSpec):
        asyncio.run(evaluate_async("print(1)", BAD_SPECS[name], backend=local_backend))
    assert not host.problems()


# 26 --------------------------------------------------------------------------------------------------
STDIN_STYLES = {
    "main_guard": "def main():\n    print(int(input()) * 2)\nif __name__ == '__main__':\n    main()\n",
    "stdin_buffer": "import sys\nprint(int(sys.stdin.buffer.read().split()[0]) * 2)\n",
    "open_fd0": "print(int(open(0).read().split()[0]) * 2)\n",
    "input_crlf": "print(int(input().strip()) * 2)\n",
}


@pytest.mark.parametrize("name", sorted(STDIN_STYLES))
def test_26_stdin_is_real_bytes_on_fd0(local_backend, sb, host, name):
    r = sb.run(local_backend, STDIN_STYLES[name], sb.stdio(["21\r\n"], ["42"]))
    assert r.tests[0].verdict == AC, r.tests[0]
    assert not host.problems()


# 27 --------------------------------------------------------------------------------------------------
def test_27_multi_megabyte_source(local_backend, sb, host):
    program = "data = '" + "a" * (3 << 20) + "'\nprint(len(data))\n"
    r = sb.run(local_backend, program, sb.stdio([""], [str(3 << 20)]))
    assert r.tests[0].verdict == AC
    assert not host.problems()


def test_27_huge_stdin_is_streamed(local_backend, sb, host):
    big = "7" * (100 << 20)
    program = "import sys\nn = 0\nwhile chunk := sys.stdin.buffer.read(1 << 16):\n    n += len(chunk)\nprint(n)\n"
    r = sb.run(local_backend, program, sb.stdio([big], [str(100 << 20)]), limits=Limits(cpu_s=10, memory_mb=256))
    assert r.tests[0].verdict == AC, r.tests[0]
    del big
    assert not host.problems(rss_slack_mb=400)  # the caller's own 100 MB string and its encoding


# 28 --------------------------------------------------------------------------------------------------
def test_28_concurrent_runs_have_private_working_dirs(local_backend, sb, host):
    program = (
        "import time, sys\n"
        "value = sys.stdin.read().strip()\n"
        "open('answer.txt', 'w').write(value)\n"
        "time.sleep(0.3)\n"
        "print(open('answer.txt').read())\n"
    )
    items = [(program, sb.stdio(["A"], ["A"])), (program, sb.stdio(["B"], ["B"]))]
    results = asyncio.run(evaluate_batch_async(items, concurrency=2, limits=sb.SMALL, backend=local_backend))
    assert [r.tests[0].verdict for r in results] == [AC, AC]
    assert not host.problems()


# 29 --------------------------------------------------------------------------------------------------
def test_29_devices_are_minimal(local_backend, sb, host):
    program = (
        "import os\n"
        "out = []\n"
        "for p in ('/dev/nvidia0', '/dev/kvm', '/dev/shm/big', '/dev/sda', '/dev/mem'):\n"
        "    try:\n"
        "        open(p, 'wb').write(b'x' * 1024)\n"
        "        out.append('open')\n"
        "    except OSError:\n"
        "        out.append('denied')\n"
        "open('/dev/null', 'wb').write(b'x')\n"
        "print(' '.join(out), len(open('/dev/urandom', 'rb').read(8)))\n"
    )
    # /dev/shm is writable (multiprocessing needs it): a size-capped tmpfs, counted in the memory cgroup
    # and emptied after every test (test_integrity.py checks that nothing crosses).
    r = sb.run(local_backend, program, sb.stdio([""], ["denied denied open denied denied 8"]))
    assert r.tests[0].verdict == AC, (r.tests[0].stdout_head, r.tests[0].stderr_tail)
    assert not host.problems()


# 30 --------------------------------------------------------------------------------------------------
def test_30_sleeping_in_atexit_after_the_output_is_wall_tle(local_backend, sb, host):
    program = "import atexit, time\natexit.register(time.sleep, 60)\nprint(42, flush=True)\n"
    r = sb.run(local_backend, program, sb.stdio([""], ["42"]), limits=sb.SLEEPY)
    assert (r.tests[0].verdict, r.tests[0].detail) == (TLE, "wall")  # decision: the program is still running at the wall cap
    assert r.tests[0].stdout_head == "42\n"
    assert not host.problems()
