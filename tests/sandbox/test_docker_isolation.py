"""Docker backend against hostile programs (marker `docker`; needs dockerd and the sandbox image).

Verdict integrity: the runner is PID 1 of the program's own PID namespace and runs under another uid
than the tests, so nothing a candidate does to it turns into SE. No state crosses between programs in a
warm container: hostile programs first, then correct ones, must give the verdicts the correct programs
get alone. Limits: memory outside any address space (SysV, /dev/shm, tmpfs, memfd) and sockets.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from sandbox.docker_backend import CONTAINER_LABEL, DEFAULT_IMAGE, DockerBackend
from sandbox.types import Limits, TestSpec, Verdict

pytestmark = pytest.mark.docker

FAST = Limits(cpu_s=1.0, wall_s=3.0, memory_mb=256, pids=16)
BIG = Limits(cpu_s=3.0, wall_s=10.0, memory_mb=1024, pids=16)  # the scenario: 1 GiB per program


@pytest.fixture(scope="module")
def docker_client():
    try:
        import docker
    except ImportError:
        pytest.skip("docker SDK not installed (pip install 'docker>=7')")
    try:
        client = docker.from_env()
        client.ping()
        client.images.get(DEFAULT_IMAGE)
    except Exception as e:  # noqa: BLE001
        reason = f"Docker daemon or image {DEFAULT_IMAGE} unavailable ({e}): run sandbox/docker/setup_local_docker.sh"
        print(f"SKIP docker suite: {reason}")
        pytest.skip(reason)
    return client


@pytest.fixture
def make_backend(docker_client):
    made = []

    def make(**kw):
        b = DockerBackend(client=docker_client, **{"pool_size": 1, "recycle_after": 100, **kw})
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()
        assert docker_client.containers.list(all=True, filters={"label": f"{CONTAINER_LABEL}={b.options.pool_id}"}) == []


def run(backend, program, spec, limits=FAST, compare="lines"):
    return asyncio.run(backend.evaluate(program, TestSpec.from_dict(spec), limits, compare))


def verdicts(result):
    return [t.verdict for t in result.tests]


ECHO3 = {"inputs": ["1\n", "2\n", "3\n"], "outputs": ["1\n", "2\n", "3\n"]}

# ------------------------------------------------------------------------------------------------
# verdict integrity


@pytest.mark.parametrize("attack", [
    "os.kill(os.getppid(), signal.SIGKILL)",
    "os.kill(1, signal.SIGKILL)",
    "os.kill(1, signal.SIGSTOP)",
])
def test_killing_the_runner_is_not_se(make_backend, attack):
    # prints the right answer, then attacks its parent: the runner (PID 1) ignores it, the test is AC
    program = ("import os, signal, sys\nprint(input())\nsys.stdout.flush()\n"
               f"try:\n    {attack}\nexcept OSError:\n    pass\n")
    r = run(make_backend(), program, ECHO3)
    assert verdicts(r) == [Verdict.AC] * 3, [t.detail for t in r.tests]


@pytest.mark.parametrize("attack", ["os.kill(-1, 9)", "os.killpg(0, 9)"])
def test_kill_everything_is_re_for_that_test_only(make_backend, attack):
    # these kill the test itself (and every other process it may signal); never the runner
    r = run(make_backend(), f"import os\nprint(input(), flush=True)\n{attack}", ECHO3)
    assert verdicts(r) == [Verdict.RE] * 3, [t.detail for t in r.tests]


def test_the_runner_runs_under_another_uid_and_cannot_be_prlimited_or_reniced(make_backend):
    probe = (
        "import os, resource\n"
        "out = [str(os.getppid()), str(os.getuid() != os.stat('/proc/1').st_uid)]\n"
        "for name, f in [('prlimit', lambda: resource.prlimit(1, resource.RLIMIT_NOFILE, (3, 3))),\n"
        "                ('renice', lambda: os.setpriority(os.PRIO_PROCESS, 1, 19)),\n"
        "                ('environ', lambda: open('/proc/1/environ').read())]:\n"
        "    try:\n        f(); out.append(name + ':done')\n"
        "    except OSError as e:\n        out.append(name + ':' + type(e).__name__)\n"
        "print(' '.join(out))\n"
    )
    expected = "1 True prlimit:PermissionError renice:PermissionError environ:PermissionError\n"
    r = run(make_backend(), probe, {"inputs": ["", ""], "outputs": [expected, expected]})
    assert verdicts(r) == [Verdict.AC, Verdict.AC], r.tests[0].stdout_head


def test_deep_json_return_value_is_wa_not_se(make_backend):
    deep = "def f(x):\n    v = []\n    for _ in range(100000):\n        v = [v]\n    return v\n"
    ok = "def f(x):\n    return x + 1\n"
    spec = {"inputs": ["1", "2"], "outputs": ["2", "3"], "fn_name": "f"}
    b = make_backend()
    r = run(b, deep, spec)
    # json.dumps in the test process itself may hit the recursion limit (RE); the parent never fails
    assert set(verdicts(r)) <= {Verdict.WA, Verdict.RE}, [(t.verdict, t.detail) for t in r.tests]
    raw_deep = "import os\ndef f(x):\n    os.write(3, b'[' * 200000 + b']' * 200000)\n    os._exit(0)\n"
    r = run(b, raw_deep, spec)  # writes deep JSON straight to the result channel
    assert verdicts(r) == [Verdict.WA, Verdict.WA], [(t.verdict, t.detail) for t in r.tests]
    assert verdicts(run(b, ok, spec)) == [Verdict.AC, Verdict.AC]


def test_hostile_programs_next_to_a_correct_one_leave_its_verdicts_alone(make_backend):
    b = make_backend(pool_size=2)
    bombs = ["import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
             "a = []\nwhile True:\n    a.append(bytearray(1 << 24))"]

    async def together():
        return await asyncio.gather(
            b.evaluate(bombs[0], TestSpec.from_dict({"inputs": [""], "outputs": [""]}), FAST, "lines"),
            b.evaluate("print(input())", TestSpec.from_dict(ECHO3), FAST, "lines"),
            b.evaluate(bombs[1], TestSpec.from_dict({"inputs": [""], "outputs": [""]}), FAST, "lines"))

    fork_bomb, correct, memory_bomb = asyncio.run(together())
    details = [[(t.verdict, t.detail) for t in r.tests] for r in (fork_bomb, correct, memory_bomb)]
    assert verdicts(correct) == [Verdict.AC] * 3, details
    # the bombs fail by whichever limit they hit first on a loaded box (pids, memory or time), never SE
    assert verdicts(fork_bomb)[0] in (Verdict.RE, Verdict.TLE, Verdict.MLE), details
    assert verdicts(memory_bomb)[0] in (Verdict.MLE, Verdict.RE, Verdict.TLE), details


def test_busy_children_cannot_starve_the_runner_into_se(make_backend):
    # the runner has nice -10 (reset to 0 for the tests on fork), so 30 busy processes in the container's
    # one CPU still get killed before the parent's deadline (wall cap + 2 s)
    busy = ("import os\nfor _ in range(60):\n    try:\n        if os.fork() == 0:\n            while True: pass\n"
            "    except OSError: break\nwhile True: pass\n")
    probe = "import os\nprint(os.getpriority(os.PRIO_PROCESS, 0), os.getpriority(os.PRIO_PROCESS, 1))"
    b = make_backend()
    assert run(b, probe, {"inputs": [""], "outputs": ["0 -10\n"]}).tests[0].verdict is Verdict.AC
    r = run(b, busy, {"inputs": ["", ""], "outputs": ["", ""]}, Limits(cpu_s=0.5, wall_s=2.0, memory_mb=256, pids=32))
    assert verdicts(r) == [Verdict.TLE] * 2, [(t.verdict, t.detail) for t in r.tests]


# ------------------------------------------------------------------------------------------------
# no state crosses between programs (warm container) or tests

LEAVE_STATE = r'''
import ctypes, mmap, os, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
secret = b"SECRET-OF-A " * 1000
# a mode-000 directory with the secret inside
os.makedirs("/tmp/hide/deep", exist_ok=True)
open("/tmp/hide/deep/s", "wb").write(secret)
os.chmod("/tmp/hide/deep", 0); os.chmod("/tmp/hide", 0)
open(os.path.expanduser("~/.secret"), "wb").write(secret)
open("/dev/mqueue/a-secret", "w").close()  # a POSIX message queue
# POSIX shm (/dev/shm) and SysV segments, as large as they are allowed to be, left detached
try:
    with open("/dev/shm/a-secret", "wb") as f:
        while True:
            f.write(secret * 100)
except OSError:
    pass
held = 0
for _ in range(64):
    shmid = libc.shmget(0x5EC0 + _, 64 << 20, 0o1666)  # IPC_CREAT | 0666
    if shmid < 0:
        break
    addr = libc.shmat(shmid, None, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        break
    ctypes.memmove(addr, secret, len(secret))
    ctypes.memset(addr + len(secret), 0x41, (64 << 20) - len(secret))
    libc.shmdt(ctypes.c_void_p(addr))
    held += 64
# a daemon that outlives the test
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
print(held >= 64)
'''

LOOK_FOR_STATE = r'''
import ctypes, os
found = []
for root in ("/tmp", "/dev/shm", "/dev/mqueue", os.path.expanduser("~")):
    for dirpath, dirs, files in os.walk(root):
        found += [os.path.join(dirpath, n) for n in dirs + files
                  if not os.path.join(dirpath, n).startswith(os.getcwd())]  # our own source file
with open("/proc/sysvipc/shm") as f:
    found += ["shm " + line.split()[1] for line in f.read().splitlines()[1:]]
libc = ctypes.CDLL(None, use_errno=True)
found += ["key %d" % k for k in range(0x5EC0, 0x5EC0 + 64) if libc.shmget(k, 0, 0) >= 0]
found += ["pid " + p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
print(found)
'''

ALLOCATE_700 = "b = bytearray(700 << 20)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\nprint('ok')"


def test_hostile_then_correct_gives_the_verdicts_of_the_correct_programs_alone(make_backend):
    one = {"inputs": [""], "outputs": ["[]\n"]}
    ok = {"inputs": [""], "outputs": ["ok\n"]}
    alone = make_backend()
    expected = [verdicts(run(alone, LOOK_FOR_STATE, one, BIG)), verdicts(run(make_backend(), ALLOCATE_700, ok, BIG))]
    assert expected == [[Verdict.AC], [Verdict.AC]]

    warm = make_backend()
    hostile = run(warm, LEAVE_STATE, {"inputs": [""], "outputs": ["True\n"]}, BIG)
    assert verdicts(hostile) == [Verdict.AC], hostile.tests[0]  # it did hold >= 64 MiB of SysV memory
    looked = run(warm, LOOK_FOR_STATE, one, BIG)
    allocated = run(warm, ALLOCATE_700, ok, BIG)
    assert [verdicts(looked), verdicts(allocated)] == expected, (looked.tests[0].stdout_head, allocated.tests[0])
    # the same warm container served all three: the per-program reset isolated them, not a recycle
    assert warm.stats["created"] == 1 and warm.stats["unclean"] == 0, (warm.stats, warm.last_unclean)


def test_a_program_never_runs_in_an_unclean_container(make_backend, docker_client):
    b = make_backend()
    assert verdicts(run(b, "print(1)", {"inputs": [""], "outputs": ["1\n"]})) == [Verdict.AC]
    # something outside any program's namespace (as an escaped process would be) in the idle container
    docker_client.api.exec_start(docker_client.api.exec_create(b._idle[0].container.id, ["sleep", "300"],
                                                               user="65534"), detach=True)
    r = run(b, "print(2)", {"inputs": [""], "outputs": ["2\n"]})
    assert verdicts(r) == [Verdict.AC]
    assert b.stats["unclean"] == 1 and b.stats["retried"] == 1 and b.stats["created"] == 2, b.stats


def test_a_cancelled_program_leaves_no_container_behind(make_backend, docker_client):
    b = make_backend()

    async def cancel_midway():
        task = asyncio.ensure_future(b.evaluate("import time\ntime.sleep(30)", TestSpec.from_dict(
            {"inputs": [""], "outputs": [""]}), Limits(cpu_s=10, wall_s=30), "lines"))
        await asyncio.sleep(2.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    label = f"{CONTAINER_LABEL}={b.options.pool_id}"
    deadline = time.monotonic() + 20
    while docker_client.containers.list(all=True, filters={"label": label}):
        assert time.monotonic() < deadline, "the cancelled program's container survived"
        time.sleep(0.2)
    assert verdicts(run(b, "print(1)", {"inputs": [""], "outputs": ["1\n"]})) == [Verdict.AC]


def test_many_files_are_refused_not_fatal(make_backend):
    many = ("import os\nn = 0\ntry:\n    while True:\n        open('f%d' % n, 'w').close(); n += 1\n"
            "except OSError as e:\n    print(n < 20000, e.errno)\n")
    b = make_backend()
    r = run(b, many, {"inputs": [""], "outputs": ["True 28\n"]}, Limits(cpu_s=5, wall_s=15, memory_mb=256))
    assert verdicts(r) == [Verdict.AC], [(t.verdict, t.detail, t.stdout_head) for t in r.tests]  # 28: ENOSPC
    assert verdicts(run(b, "print(1)", {"inputs": [""], "outputs": ["1\n"]})) == [Verdict.AC]


def test_no_state_crosses_between_tests_of_one_program(make_backend):
    # every test first looks for state, then leaves some: a later test that finds any fails
    program = LOOK_FOR_STATE + LEAVE_STATE.replace("print(held >= 64)", "")
    r = run(make_backend(), program, {"inputs": ["", "", ""], "outputs": ["[]\n"] * 3}, BIG)
    assert verdicts(r) == [Verdict.AC] * 3, [t.stdout_head for t in r.tests]


# ------------------------------------------------------------------------------------------------
# limits


def test_memory_outside_the_address_space_is_capped_and_never_se(make_backend):
    memfd_bomb = ("import os\nfd = os.memfd_create('x')\nchunk = b'x' * (16 << 20)\n"
                  "while True:\n    os.write(fd, chunk)\n")
    b = make_backend()
    r = run(b, memfd_bomb, {"inputs": ["", ""], "outputs": ["", ""]})
    assert all(t.verdict in (Verdict.MLE, Verdict.RE) for t in r.tests), [(t.verdict, t.detail) for t in r.tests]
    after = run(b, "print(1)", {"inputs": [""], "outputs": ["1\n"]})
    assert verdicts(after) == [Verdict.AC]


def test_dev_shm_is_writable_and_capped_and_pids_are_limited(make_backend):
    probe = ("import os\ns = os.statvfs('/dev/shm')\nprint(s.f_blocks * s.f_frsize >> 20)\n"
             "import multiprocessing\nwith multiprocessing.Pool(2) as p:\n    print(sum(p.map(abs, [-1, -2])))\n")
    r = run(make_backend(), probe, {"inputs": [""], "outputs": [f"{(256 - 64) // 2}\n3\n"]})
    assert verdicts(r) == [Verdict.AC], (r.tests[0].stdout_head, r.tests[0].stderr_tail)


def test_socket_families_other_than_unix_are_refused(make_backend):
    probe = (
        "import socket\nout = []\n"
        "for fam in ('AF_VSOCK', 'AF_NETLINK', 'AF_PACKET', 'AF_INET', 'AF_INET6', 'AF_UNIX'):\n"
        "    try:\n        socket.socket(getattr(socket, fam), socket.SOCK_DGRAM if fam != 'AF_VSOCK' "
        "else socket.SOCK_STREAM).close(); out.append(fam + ':ok')\n"
        "    except OSError:\n        out.append(fam + ':refused')\n"
        "print(' '.join(out))\n"
    )
    expected = "AF_VSOCK:refused AF_NETLINK:refused AF_PACKET:refused AF_INET:refused AF_INET6:refused AF_UNIX:ok\n"
    r = run(make_backend(), probe, {"inputs": [""], "outputs": [expected]})
    assert verdicts(r) == [Verdict.AC], r.tests[0].stdout_head
