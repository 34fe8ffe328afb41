"""Docker backend: hardening flags (no daemon needed) and real runs against a daemon (marker `docker`).

The daemon tests need dockerd and the image built by `python sandbox/docker/build_image.py`; without
them they are skipped with the exact reason.
"""

from __future__ import annotations

import asyncio

import pytest

from sandbox.docker_backend import (
    CONTAINER_CAPS,
    CONTAINER_LABEL,
    DEFAULT_IMAGE,
    DockerOptions,
    candidate_memory_split,
    container_config,
    ipc_sysctls,
    program_init_params,
)
from sandbox.types import Limits, TestSpec, Verdict

FAST = Limits(cpu_s=1.0, wall_s=2.0, memory_mb=256, pids=16)


def test_container_config_has_every_hardening_flag():
    limits = Limits(memory_mb=512, pids=32, tmpfs_mb=64, nofile=64, fsize_mb=8)
    cfg = container_config(DockerOptions(image="img:tag"), limits)
    assert cfg["network_mode"] == "none"
    assert cfg["read_only"] is True
    assert "tmpfs" not in cfg  # every program mounts its own /tmp and /dev/shm in its own namespace
    # 512 MiB for the candidate + 128 MiB runner headroom; swap equal to memory means no swap
    assert cfg["mem_limit"] == cfg["memswap_limit"] == "640m"
    assert cfg["pids_limit"] == 32 + 8
    assert cfg["cap_drop"] == ["ALL"]
    # only what the per-program set-up needs; never the capabilities that open the host
    assert set(cfg["cap_add"]) == set(CONTAINER_CAPS)
    assert not set(CONTAINER_CAPS) & {"SYS_MODULE", "SYS_RAWIO", "NET_ADMIN", "SYS_BOOT", "MKNOD", "SYS_TIME"}
    assert cfg["security_opt"] == ["no-new-privileges"]
    assert cfg["user"] == "0:0" and "setresuid(65534" in cfg["command"][-1]  # the keeper drops root itself
    assert cfg["nano_cpus"] == 1_000_000_000
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in cfg["ulimits"]}
    assert ulimits == {"nofile": (80, 80), "fsize": (8 << 20, 8 << 20), "core": (0, 0)}
    assert "privileged" not in cfg and "volumes" not in cfg  # no docker socket, no host paths


def test_candidate_memory_outside_processes_stays_within_memory_mb():
    for memory_mb, tmpfs_mb in ((1024, 64), (256, 64), (64, 64), (16, 1)):
        split = candidate_memory_split(Limits(memory_mb=memory_mb, tmpfs_mb=tmpfs_mb))
        total = split["tmpfs_mb"] + split["shm_mb"] + split["sysv_mb"]
        assert total <= max(memory_mb, tmpfs_mb + 8), (memory_mb, split)
    assert ipc_sysctls(480) == {"shmmax": 480 << 20, "shmall": (480 << 20) // 4096, "shmmni": 64, "msgmni": 32}


def test_program_init_params_separate_the_tests_uid_from_the_runner():
    p = program_init_params(Limits(), 2_000_000_123)
    assert p["runner_args"] == ["--child-uid", "2000000123", "--child-gid", "2000000123"]
    assert p["uid"] == 2_000_000_123 and 0 not in p["runner_caps"]  # CAP_CHOWN stays with the set-up


def test_apparmor_hosts_get_an_unconfined_profile_because_docker_default_denies_mount():
    import dataclasses

    limits = Limits()
    assert container_config(DockerOptions(), limits)["security_opt"] == ["no-new-privileges"]
    cfg = container_config(dataclasses.replace(DockerOptions(), apparmor_unconfined=True), limits)
    assert cfg["security_opt"] == ["no-new-privileges", "apparmor=unconfined"]


def test_the_runner_accepts_the_child_uid_flags_the_docker_backend_passes():
    # no daemon needed: a runner that lost the flags would make every docker test SE
    import subprocess
    import sys

    from sandbox.backend import RUNNER_PATH

    args = program_init_params(Limits(), 2_000_000_123)["runner_args"]
    proc = subprocess.run([sys.executable, "-I", "-S", RUNNER_PATH, *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert "unknown argument" not in proc.stderr, proc.stderr
    assert "EOF" in proc.stderr or "closed" in proc.stderr, proc.stderr  # it got as far as reading a frame


def test_docker_options_validate_names_the_field():
    with pytest.raises(ValueError, match="recycle_after"):
        DockerOptions(recycle_after=0).validate()


# ------------------------------------------------------------------------------------------------
# with a daemon


@pytest.fixture(scope="module")
def docker_client():
    try:
        import docker
    except ImportError:
        pytest.skip("docker SDK not installed (pip install 'docker>=7')")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001
        reason = f"Docker daemon not reachable: {e}"
        print(f"SKIP docker suite: {reason}")
        pytest.skip(reason)
    try:
        client.images.get(DEFAULT_IMAGE)
    except Exception:  # noqa: BLE001
        reason = f"image {DEFAULT_IMAGE} missing: run `python sandbox/docker/build_image.py`"
        print(f"SKIP docker suite: {reason}")
        pytest.skip(reason)
    return client


@pytest.fixture
def backend(docker_client):
    from sandbox.docker_backend import DockerBackend

    b = DockerBackend(pool_size=2, recycle_after=50, client=docker_client)
    yield b
    b.close()
    # nothing of this pool survives close(), whatever state its containers were in
    label = f"{CONTAINER_LABEL}={b.options.pool_id}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []


def run(backend, program, spec, limits=FAST, compare="lines"):
    return asyncio.run(backend.evaluate(program, TestSpec.from_dict(spec), limits, compare))


ADD = {"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "7\n"]}


@pytest.mark.docker
def test_docker_verdicts_ac_wa_re(backend):
    ok = run(backend, "a, b = map(int, input().split())\nprint(a + b)", ADD)
    assert [t.verdict for t in ok.tests] == [Verdict.AC, Verdict.AC]
    wrong = run(backend, "print(3)", ADD)  # right on test 0 only: 3 == 1 + 2
    assert [t.verdict for t in wrong.tests] == [Verdict.AC, Verdict.WA]
    crash = run(backend, "raise SystemExit(3)", ADD)
    assert [(t.verdict, t.exit_status) for t in crash.tests] == [(Verdict.RE, 3), (Verdict.RE, 3)]
    assert ok.backend == "docker" and "docker" in ok.isolation


@pytest.mark.docker
def test_docker_busy_loop_is_tle_and_container_is_reused(backend):
    r = run(backend, "while True:\n    pass", {"inputs": [""], "outputs": [""]})
    assert r.tests[0].verdict is Verdict.TLE
    again = run(backend, "print(input())", {"inputs": ["x\n"], "outputs": ["x\n"]})
    assert again.tests[0].verdict is Verdict.AC
    assert backend.stats["created"] == 1  # the warm container survived the TLE


@pytest.mark.docker
def test_docker_sandbox_view_no_network_readonly_root_unprivileged_uid(backend):
    probe = (
        "import os, socket\n"
        "print(os.getuid() >= 2_000_000_000, os.getuid() == os.getgid(), os.getgroups())\n"
        "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=1); print('net')\n"
        "except OSError:\n    print('no-net')\n"
        "try:\n    open('/etc/x', 'w'); print('rw')\n"
        "except OSError:\n    print('ro')\n"
        "print(sorted(k for k in os.environ if k not in ('PWD',)))\n"
        "print(os.environ['HOSTNAME'])\n"
        "import numpy\nprint(int(numpy.arange(4).sum()))\n"  # the image's numpy, importable by default
    )
    # HOSTNAME is exported by docker itself; the backend pins it to "sandbox"
    expected_env = "['HOME', 'HOSTNAME', 'LANG', 'MKL_NUM_THREADS', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'PATH', " \
                   "'PYTHONDONTWRITEBYTECODE']"
    r = run(backend, probe, {"inputs": [""], "outputs": [f"True True []\nno-net\nro\n{expected_env}\nsandbox\n6\n"]})
    assert r.tests[0].verdict is Verdict.AC, r.tests[0].stdout_head


@pytest.mark.docker
def test_docker_daemon_left_behind_dies_with_its_program(backend):
    # waitpid on the intermediate child: the escapee is guaranteed to exist before 'ok' is printed
    daemon = ("import os, time\n"
              "pid = os.fork()\n"
              "if pid == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n"
              "    os._exit(0)\n"
              "os.waitpid(pid, 0)\n"
              "print('ok')")
    r = run(backend, daemon, {"inputs": [""], "outputs": ["ok\n"]})
    assert r.tests[0].verdict is Verdict.AC
    # the escapee died with the program's PID namespace: the next program sees only the runner (PID 1)
    # and itself, in the same warm container
    r2 = run(backend, "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[0])\n"
                      "print(len([p for p in os.listdir('/proc') if p.isdigit()]))",
             {"inputs": [""], "outputs": ["1\n2\n"]})
    assert r2.tests[0].verdict is Verdict.AC, r2.tests[0].stdout_head
    assert backend.stats["created"] == 1 and backend.stats["unclean"] == 0


@pytest.mark.docker
def test_docker_fork_bomb_is_capped_and_pool_recovers(backend):
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    r = run(backend, bomb, {"inputs": [""], "outputs": [""]})
    assert r.tests[0].verdict in (Verdict.RE, Verdict.TLE)
    after = run(backend, "print(2)", {"inputs": [""], "outputs": ["2\n"]})
    assert after.tests[0].verdict is Verdict.AC


@pytest.mark.docker
def test_docker_container_hostconfig_matches_request(backend, docker_client):
    run(backend, "print(1)", {"inputs": [""], "outputs": ["1\n"]})
    slot = backend._idle[0]
    slot.container.reload()
    hc = slot.container.attrs["HostConfig"]
    assert hc["NetworkMode"] == "none"
    assert hc["ReadonlyRootfs"] is True
    assert hc["CapDrop"] == ["ALL"]
    assert hc["SecurityOpt"] == ["no-new-privileges"]
    assert hc["Memory"] == hc["MemorySwap"] == (256 + 128) << 20
    assert hc["PidsLimit"] == 16 + 8
    assert sorted(hc["CapAdd"]) == sorted(CONTAINER_CAPS)
