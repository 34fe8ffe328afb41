"""Verdict integrity, limits outside RLIMIT_AS, and no state crossing between tests or programs.

Each test is a probe written as an attacker would, for one class of hole (see docs/sandbox.md, "Threat
model"): SE must come only from the runner's private channel or the parent's own failures; memory held
outside processes (SysV shm, memfd, /dev/shm) counts against the sandbox's memory cgroup; socket families
other than AF_UNIX are refused; nothing a program leaves behind reaches the next test or program.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from sandbox import Limits, TestSpec, Verdict, evaluate_async
from sandbox.cgroups import CgroupManager

AC, WA, TLE, MLE, RE, OLE, SE = (Verdict.AC, Verdict.WA, Verdict.TLE, Verdict.MLE, Verdict.RE, Verdict.OLE,
                                 Verdict.SE)
ECHO = "import sys\nsys.stdout.write(sys.stdin.read())\n"


def verdicts(result):
    return [t.verdict for t in result.tests]


def needs_cgroups():
    if not CgroupManager().available:
        pytest.skip(f"no usable cgroups on this host: {CgroupManager().reason}")


# 1. verdict integrity ---------------------------------------------------------------------------------

FORGED_SETUP = (
    "import os, sys\n"
    "os.write(2, b'runner: test process setup failed: OSError: forged')\n"
    "os._exit(121)\n"
)


@pytest.mark.parametrize("backend_name", ["local", "unsafe"])
def test_forged_setup_error_is_re_not_se(backend_name, local_backend, sb):
    backend = local_backend if backend_name == "local" else __import__("sandbox").get_backend("unsafe")
    r = sb.run(backend, FORGED_SETUP, sb.stdio(["", ""]))
    assert verdicts(r) == [RE, RE], r.to_dict()


def test_deeply_nested_directories_do_not_break_the_wipe(local_backend, sb, host):
    # ~1,100 levels made the recursive wipe raise RecursionError (SE on every test). Relative mkdir+chdir
    # keeps the path short; the second test must find an empty work dir.
    program = (
        "import os, sys\n"
        "if os.listdir('.') != ['solution.py']:\n"
        "    print('dirty', sorted(os.listdir('.'))[:5]); sys.exit(0)\n"
        "top = os.getcwd()\n"
        "for i in range(1500):\n"
        "    os.mkdir('d'); os.chdir('d')\n"
        "os.chdir(top)\n"
        "print('clean')\n"
    )
    r = sb.run(local_backend, program, {"inputs": ["", ""], "outputs": ["clean", "clean"]})
    assert verdicts(r) == [AC, AC], r.to_dict()
    assert not host.problems()


def test_mode_000_directories_and_hard_links_are_wiped(local_backend, sb, host):
    program = (
        "import os, sys\n"
        "left = sorted(os.listdir('.'))\n"
        "if left != ['solution.py']:\n"
        "    print('dirty', left[:5]); sys.exit(0)\n"
        "os.makedirs('a/b/c')\n"
        "open('a/b/c/secret', 'w').write('x')\n"
        "for i in range(2000):\n"
        "    os.link('a/b/c/secret', f'a/l{i}')\n"
        "os.chmod('a/b/c', 0); os.chmod('a/b', 0); os.chmod('a', 0)\n"
        "print('clean')\n"
    )
    r = sb.run(local_backend, program, {"inputs": ["", "", ""], "outputs": ["clean"] * 3})
    assert verdicts(r) == [AC, AC, AC], r.to_dict()
    assert not host.problems()


def test_wipe_that_outlasts_its_budget_fails_the_candidate_not_the_infrastructure(local_backend, sb, host):
    # Many directory entries plus sleeping to the wall cap: the runner's cleanup budget (max(2 s, cpu_s))
    # runs out; the remaining tests are failed (RE, "not run"), never SE, and the parent does not time out.
    program = (
        "import os, time\n"
        "os.mkdir('d')\n"
        "open('d/f', 'w').close()\n"
        "n = 0\n"
        "try:\n"
        "    while n < 3_000_000:\n"
        "        os.link('d/f', f'd/{n}'); n += 1\n"
        "except OSError:\n"
        "    pass\n"
        "print('ok')\n"
    )
    limits = Limits(cpu_s=3.0, wall_s=6.0, memory_mb=256)
    r = sb.run(local_backend, program, {"inputs": [""] * 3, "outputs": ["ok"] * 3}, limits)
    v = verdicts(r)
    assert SE not in v, r.to_dict()
    # A fast host wipes within budget (AC); a slow or loaded one stops the link loop at the CPU cap (TLE);
    # a wipe that runs out of budget fails the remaining tests as "not run" (RE). All are the candidate's.
    assert set(v) <= {AC, TLE, RE}, r.to_dict()
    assert all("not run" in t.detail for t in r.tests if t.verdict == RE), r.to_dict()
    assert not host.problems()


@pytest.mark.parametrize("payload", [
    "'[' * 200000",  # deeper than any recursion limit
    "'[' * 3000 + ']' * 3000",
    "'{\"a\":' * 5000 + '1' + '}' * 5000",
])
def test_deep_json_on_the_result_channel_is_wa(local_backend, sb, payload):
    # The candidate writes straight to the call-result pipe and exits 0.
    program = f"import os\ndef f(x):\n    os.write(3, ({payload}).encode()); os._exit(0)\n"
    r = sb.run(local_backend, program, {"inputs": ["1"], "outputs": ["1"], "fn_name": "f"})
    assert verdicts(r) == [WA], r.to_dict()


@pytest.mark.parametrize("text", ["sNaN", "NaN", "-sNaN123", "1e999999999"])
def test_odd_numbers_under_lcb_compare_are_judged(local_backend, sb, text):
    r = sb.run(local_backend, f"print({text!r})", {"inputs": [""], "outputs": ["1"]}, compare="lcb")
    assert verdicts(r) == [WA], r.to_dict()


@pytest.mark.parametrize("name,body", [
    ("garbage_records", "os.write(3, b'0 (((((\\n' * 1000 + b'zz\\n\\xff\\xfe\\n')"),
    ("deep_literal", "os.write(3, b'0 ' + b'[' * 100000 + b'\\n')"),
    ("huge_int", "os.write(3, b'0 ' + b'9' * 100000 + b'\\n')"),
    ("unknown_site", "os.write(3, b'7 1\\n')"),
])
def test_forged_functional_records_never_pass_or_crash(local_backend, sb, name, body):
    program = f"import os\ndef add(a, b):\n    {body}\n    os._exit(0)\n"
    r = sb.run(local_backend, program, {"functional": ["assert add(1, 2) == 3"]})
    assert verdicts(r) in ([WA], [RE]), r.to_dict()


def test_killing_the_parent_of_the_test_cannot_produce_se(local_backend, sb):
    program = "import os, signal\nos.kill(os.getppid(), 9)\nos.kill(1, 9)\nprint('x')\n"
    r = sb.run(local_backend, program, sb.stdio(["", ""], ["x", "x"]))
    assert SE not in verdicts(r), r.to_dict()


# 2. limits ---------------------------------------------------------------------------------------------

MEMFD_BOMB = (  # never-mapped memfd pages: no RSS, and each file stays under RLIMIT_FSIZE (8 MiB)
    "import os\n"
    "for p in range(3):\n"
    "    if os.fork() == 0:\n"
    "        break\n"
    "fds = []\n"
    "for i in range(55):\n"
    "    fd = os.memfd_create('x')\n"
    "    for off in range(0, 7 << 20, 1 << 20):\n"
    "        os.pwrite(fd, b'x' * (1 << 20), off)\n"
    "    fds.append(fd)\n"
    "print('kept', len(fds), flush=True)\n"
    "import time; time.sleep(0.5)\n"
)

SYSV_SHM_BOMB = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.shmat.restype = ctypes.c_void_p\n"
    "total = 0\n"
    "for i in range(32):\n"
    "    sid = libc.shmget(0, 64 << 20, 0o1600)\n"
    "    if sid < 0: break\n"
    "    addr = libc.shmat(sid, None, 0)\n"
    "    ctypes.memset(addr, 1, 64 << 20)\n"
    "    libc.shmdt(ctypes.c_void_p(addr))\n"
    "    total += 64\n"
    "print('detached MiB', total)\n"
)


def _host_shmem_kb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Shmem:"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("name,program", [("memfd", MEMFD_BOMB), ("sysv_shm", SYSV_SHM_BOMB)])
def test_memory_outside_processes_is_capped_by_the_cgroup(local_backend, sb, host, name, program):
    needs_cgroups()
    before = _host_shmem_kb()
    r = sb.run(local_backend, program, sb.stdio([""], ["never"]), Limits(cpu_s=5, wall_s=15, memory_mb=256))
    assert verdicts(r) in ([MLE], [RE]), r.to_dict()  # killed by the cgroup (MLE) or ENOMEM/ENOSPC (RE)
    assert r.tests[0].verdict != AC and r.tests[0].stdout_head.count("kept 55") < 4
    assert "detached MiB 2048" not in r.tests[0].stdout_head
    # The segments died with the sandbox's IPC namespace and cgroup: host Shmem is back.
    assert _host_shmem_kb() - before < 128 * 1024, (before, _host_shmem_kb())
    assert not host.problems()


def test_process_count_is_capped_per_sandbox_by_the_pids_cgroup(local_backend, sb, host):
    needs_cgroups()
    program = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    for i in range(200):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(5); os._exit(0)\n"
        "        n += 1\n"
        "except OSError:\n"
        "    pass\n"
        "print(n)\n"
    )
    r = sb.run(local_backend, program, sb.stdio([""], ["x"]), Limits(cpu_s=2, wall_s=3, pids=16, memory_mb=256))
    forked = int(r.tests[0].stdout_head.split()[0]) if r.tests[0].stdout_head.strip() else 0
    assert forked <= 16, r.to_dict()
    assert not host.problems()


@pytest.mark.parametrize("family", ["AF_VSOCK", "AF_NETLINK", "AF_PACKET", "AF_INET", "AF_INET6"])
def test_socket_families_other_than_unix_are_refused(local_backend, sb, family):
    program = (
        "import socket, errno\n"
        f"fam = getattr(socket, {family!r})\n"
        "for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_RAW):\n"
        "    try:\n"
        "        socket.socket(fam, kind).close()\n"
        "        print('opened', kind)\n"
        "    except OSError as e:\n"
        "        print('refused', errno.errorcode.get(e.errno))\n"
        "try:\n"
        "    socket.socketpair(fam)\n"
        "    print('pair opened')\n"
        "except OSError as e:\n"
        "    print('pair refused')\n"
    )
    r = sb.run(local_backend, program, sb.stdio([""], [""]))
    out = r.tests[0].stdout_head
    assert "opened" not in out and out.count("refused") == 4, out


def test_unix_sockets_still_work(local_backend, sb):
    program = "import socket\na, b = socket.socketpair()\na.send(b'hi')\nprint(b.recv(2).decode())\n"
    assert verdicts(sb.run(local_backend, program, sb.stdio([""], ["hi"]))) == [AC]


def test_every_program_gets_a_fresh_ipc_namespace(local_backend, sb):
    program = "print(open('/proc/sysvipc/shm').read().count('\\n'))\n"  # header line only
    r = sb.run(local_backend, program, sb.stdio([""], ["1"]))
    assert verdicts(r) == [AC], r.to_dict()


# 3. no state crosses ------------------------------------------------------------------------------------

STATE_PROBE = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.shmat.restype = ctypes.c_void_p\n"
    "found = []\n"
    "found += [l for l in open('/proc/sysvipc/shm').read().splitlines()[1:]]\n"
    "found += [l for l in open('/proc/sysvipc/msg').read().splitlines()[1:]]\n"
    "found += [l for l in open('/proc/sysvipc/sem').read().splitlines()[1:]]\n"
    "found += [f for f in os.listdir('.') if f != 'solution.py']\n"
    "found += os.listdir('/dev/shm')\n"
    "print('found', len(found))\n"
    # then leave all of it behind for the next test
    "sid = libc.shmget(0x1234, 1 << 20, 0o1666 | 0o1000)\n"
    "libc.msgget(0x2345, 0o1666 | 0o1000); libc.semget(0x3456, 1, 0o1666 | 0o1000)\n"
    "os.makedirs('locked/deep'); open('locked/deep/x', 'w').write('s'); os.chmod('locked/deep', 0); os.chmod('locked', 0)\n"
    "open('/dev/shm/posix_left', 'w').write('s')\n"
)


def test_no_state_crosses_between_tests_of_one_program(local_backend, sb, host):
    r = sb.run(local_backend, STATE_PROBE, sb.stdio(["", "", ""], ["found 0"] * 3))
    assert verdicts(r) == [AC, AC, AC], [t.stdout_head for t in r.tests]
    assert not host.problems()


HOSTILE = [
    STATE_PROBE,
    "import os\nos.makedirs('/dev/shm/x/y'); open('/dev/shm/x/y/big', 'wb').write(b'x' * (100 << 20))\nos.chmod('/dev/shm/x', 0)\n",
    "import os\nfor i in range(1200):\n    os.mkdir('d'); os.chdir('d')\n",
    "import os, time\nif os.fork() == 0:\n    os.setsid(); time.sleep(30)\n",
    FORGED_SETUP,
]
CORRECT = [
    ("print(sum(map(int, input().split())))", {"inputs": ["1 2", "3 4"], "outputs": ["3", "7"]}),
    ("import numpy as np\nprint(int(np.arange(int(input())).sum()))", {"inputs": ["10"], "outputs": ["45"]}),
    ("from concurrent.futures import ProcessPoolExecutor\n"
     "if __name__ == '__main__':\n"
     "    with ProcessPoolExecutor(2) as ex:\n"
     "        print(sum(ex.map(abs, [-1, -2, 3])))\n", {"inputs": [""], "outputs": ["6"]}),
    ("big = bytearray(150 << 20)\nprint(len(big) >> 20)", {"inputs": [""], "outputs": ["150"]}),
    ("def add(a, b):\n    return a + b\n", {"functional": ["assert add(2, 3) == 5"]}),
]


def test_hostile_then_correct_verdicts_equal_correct_alone(local_backend, sb, host):
    limits = Limits(cpu_s=3, wall_s=6, memory_mb=384)

    async def batch(items):
        return await asyncio.gather(*(evaluate_async(p, s, limits=limits, backend=local_backend) for p, s in items))

    async def hostile_then_correct():
        await batch([(p, sb.stdio(["", ""])) for p in HOSTILE])
        return await batch(CORRECT)

    alone = asyncio.run(batch(CORRECT))
    after = asyncio.run(hostile_then_correct())
    alone_v = [verdicts(r) for r in alone]
    assert alone_v == [[AC, AC], [AC], [AC], [AC], [AC]], [r.to_dict() for r in alone]
    assert [verdicts(r) for r in after] == alone_v, [r.to_dict() for r in after]
    assert not host.problems()


def test_runner_reports_cleanup_in_every_record(local_backend):
    from sandbox import session

    spec = TestSpec.from_dict({"inputs": ["a", "b"], "outputs": ["a", "b"]})
    outcome = asyncio.run(local_backend.run_raw(ECHO, spec, Limits(cpu_s=1)))
    assert outcome.results[0].header["cleanup"] == "ok"
    # a reused sandbox leaves the last test's cleanup to the reset after the program (which must be clean
    # for the sandbox to be reused); a one-program sandbox cleans after every test
    last = "reset" if getattr(local_backend, "reuse", False) else "ok"
    assert outcome.results[1].header["cleanup"] == last
    assert [r.verdict for r in session.judge_outcome(outcome, spec, Limits(cpu_s=1), "lines")] == [AC, AC]
    json.dumps(outcome.results[0].header)


def test_a_reused_sandbox_serves_the_next_program_clean(local_backend, sb, host):
    """Sequentially, so the correct program runs in the very sandbox each hostile one just used."""
    if not getattr(local_backend, "reuse", False):
        pytest.skip("sandboxes are reused only in the privileged (root) mode")
    limits = Limits(cpu_s=3, wall_s=6, memory_mb=384)
    correct, spec = CORRECT[0]

    async def run():
        out = []
        for hostile in HOSTILE:
            await evaluate_async(hostile, sb.stdio([""]), limits=limits, backend=local_backend)
            before = set(local_backend.idle_sandbox_pids())
            r = await evaluate_async(correct, spec, limits=limits, backend=local_backend)
            out.append((verdicts(r), bool(before & set(local_backend.idle_sandbox_pids()))))
        return out

    results = asyncio.run(run())
    assert all(v == [AC, AC] for v, _ in results), results
    assert any(reused for _, reused in results), results  # at least some hostile sandboxes were clean enough to reuse
    assert not host.problems()
