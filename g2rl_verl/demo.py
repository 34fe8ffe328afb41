"""`g2rl-verl demo`: a real verl training run of G2RL + GPPO on a CPU laptop, in a few minutes, offline.

What it does:

1. Builds, in seconds, a tiny randomly initialised Qwen3 causal LM and its tokenizer
   (:mod:`g2rl_verl.cpu.tiny_model`) and a toy RL dataset in verl's parquet schema: addition problems
   scored by our math verifier (``data_source="MATH-TTT"``) and two stdin/stdout programming tasks
   scored by our code verifier through the sandbox (``data_source="taco"``).
2. Runs ``python -m g2rl_verl.main`` (verl's v1 sync trainer with our trainer subclass) for
   ``steps`` steps with ``algorithm.adv_estimator=g2rl`` and ``policy_loss.loss_mode=gppo``, on verl's
   FSDP2 engine, generating through our HF rollout backend (``rollout.name=hf``) on the CPU platform
   (:mod:`g2rl_verl.cpu.platform`); rewards come from ``pkg://g2rl_verl.rewards.router`` inside verl's
   reward loop. verl's per-step metrics and progress bar are printed as they come.
3. Saves a checkpoint at the last step, then starts a second run that resumes from it
   (``trainer.resume_mode=auto``) and trains ``resume_steps`` more steps.
4. Checks the outcome (every step ran, finite G2RL metrics, GPPO metrics, router reward keys in the
   validation metrics, resumed step numbers, no process of the run left alive) and prints a summary.

Graded reward signal from an untrained model. With strict 0/1 correctness an untrained model almost
never answers right, every GRPO group is uniform and every advantage is 0. The demo tokenizer
therefore has, besides single characters, a few whole-answer tokens (``\\boxed{0}``..``\\boxed{4}`` and
three complete Python programs in a fenced block). A random model emits them now and then, so some
group members are scored correct (math), fully or partly passing (code: score01 = passed/selected),
and groups have variance. The scores are our verifiers' real verdicts; nothing in the reward path knows
about the demo.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from g2rl_verl.cpu.tiny_model import TinyModelSpec, build_tiny_model

MATH_DATA_SOURCE = "MATH-TTT"  # routed to our math verifier (g2rl_verl/rewards/math_verifier.py)
CODE_DATA_SOURCE = "taco"  # routed to our code verifier + sandbox (g2rl_verl/rewards/code_verifier.py)

DEMO_ALPHABET = string.digits + "+-*=:?,. \n" + string.ascii_lowercase
ANSWER_TOKENS = tuple(f"\\boxed{{{d}}}" for d in range(5))  # math golds are 0..4
CODE_PROGRAMS = {
    "echo": "print(input())",
    "double": "print(2*int(input()))",
    "zero": "print(0)",
}
CODE_TOKENS = tuple(f"```python\n{program}\n```" for program in CODE_PROGRAMS.values())
# stdin/stdout specs (g2rl_verl/rewards/code_spec.py); "zero" passes the 0 case of each task: partial credit
CODE_TASKS = {
    "echo the number": {"inputs": ["0\n", "3\n"], "outputs": ["0\n", "3\n"]},
    "double the number": {"inputs": ["0\n", "2\n"], "outputs": ["0\n", "4\n"]},
}
REWARD_KWARGS = {
    "profile": "g2rl",  # score = 2*score01 - 1
    "think_mode": "none",  # a base model: no <think> tags
    "extraction": "strict",  # last complete \boxed{...}
    "math_pool_size": 1,  # one math-verify worker process is plenty here
    "sandbox_backend": "local",
}


@dataclass(frozen=True)
class DemoSettings:
    steps: int = 3
    resume_steps: int = 1
    prompts_per_step: int = 8
    group_size: int = 4
    max_response_length: int = 8
    max_prompt_length: int = 32
    learning_rate: float = 1e-3
    train_rows: int = 48
    val_rows: int = 8
    seed: int = 0
    phase_timeout_s: float = 600.0
    model: TinyModelSpec = field(default_factory=TinyModelSpec)

    def __post_init__(self) -> None:
        for name in ("steps", "resume_steps", "prompts_per_step", "group_size", "max_response_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"demo setting {name} must be >= 1 (got {getattr(self, name)})")
        if self.group_size < 2:
            raise ValueError("demo setting group_size must be >= 2: GRPO/G2RL need groups to compare within")


@dataclass(frozen=True)
class DemoAssets:
    model_dir: Path
    train_file: Path
    val_file: Path


@dataclass
class PhaseResult:
    name: str
    returncode: int
    wall_s: float
    metrics: list[dict]  # one dict per logged step (verl's FileLogger records)
    log_file: Path
    leftover_pids: list[int]

    @property
    def steps(self) -> list[int]:
        return [int(m["step"]) for m in self.metrics if "step" in m]


# ------------------------------------------------------------------------------------------ assets
def _rows(settings: DemoSettings, n: int, split: str, rng: random.Random) -> list[dict]:
    rows = []
    code_tasks = list(CODE_TASKS.items())
    for index in range(n):
        if index % 4 == 3:  # one code item in four
            prompt, spec = code_tasks[(index // 4) % len(code_tasks)]
            rows.append(
                {
                    "data_source": CODE_DATA_SOURCE,
                    "prompt": [{"role": "user", "content": prompt}],
                    "ability": "code",
                    "reward_model": {"style": "rule", "ground_truth": json.dumps(spec)},
                    "extra_info": {"split": split, "index": index},
                }
            )
        else:
            a = rng.randint(0, 4)
            b = rng.randint(0, 4 - a)
            rows.append(
                {
                    "data_source": MATH_DATA_SOURCE,
                    "prompt": [{"role": "user", "content": f"{a}+{b}="}],
                    "ability": "math",
                    "reward_model": {"style": "rule", "ground_truth": str(a + b)},
                    "extra_info": {"split": split, "index": index},
                }
            )
    for row in rows:
        unknown = set(row["prompt"][0]["content"]) - set(DEMO_ALPHABET)
        if unknown:
            raise ValueError(
                f"demo prompt {row['prompt'][0]['content']!r} uses characters {unknown} outside DEMO_ALPHABET"
            )
    return rows


def _write_parquet(rows: list[dict], path: Path) -> None:
    import pandas as pd

    tmp = path.with_suffix(".tmp.parquet")
    pd.DataFrame(rows).to_parquet(tmp)
    os.replace(tmp, path)


def build_assets(workdir: Path, settings: DemoSettings = DemoSettings()) -> DemoAssets:
    """Write the tiny model, its tokenizer and the toy train/val parquet files under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    model_dir = build_tiny_model(
        workdir / "model", settings.model, alphabet=DEMO_ALPHABET, extra_tokens=ANSWER_TOKENS + CODE_TOKENS
    )
    rng = random.Random(settings.seed)
    train_file, val_file = workdir / "train.parquet", workdir / "val.parquet"
    _write_parquet(_rows(settings, settings.train_rows, "train", rng), train_file)
    _write_parquet(_rows(settings, settings.val_rows, "test", rng), val_file)
    return DemoAssets(model_dir, train_file, val_file)


# ---------------------------------------------------------------------------------------- overrides
def training_overrides(
    assets: DemoAssets, settings: DemoSettings, checkpoint_dir: Path, total_steps: int
) -> list[str]:
    """Hydra overrides of ``g2rl_verl.main`` for the demo (CPU needs marked with the reason)."""
    kwargs = [f"+reward.custom_reward_function.reward_kwargs.{k}={v}" for k, v in REWARD_KWARGS.items()]
    return [
        # the method: G2RL advantages + GPPO loss, rewards from our router
        "algorithm.adv_estimator=g2rl",
        "actor_rollout_ref.actor.policy_loss.loss_mode=gppo",
        "actor_rollout_ref.actor.clip_ratio_high=0.28",  # Klear's Clip-Higher
        "actor_rollout_ref.actor.clip_ratio_c=10.0",  # Klear's dual clip
        "actor_rollout_ref.actor.policy_loss.positive_nll_coef=0.1",  # Klear's positive-sample NLL (α)
        "reward.custom_reward_function.path=pkg://g2rl_verl.rewards.router",
        "reward.custom_reward_function.name=compute_score_async",
        *kwargs,
        # data and model
        f"data.train_files={assets.train_file}",
        f"data.val_files={assets.val_file}",
        f"data.train_batch_size={settings.prompts_per_step}",
        f"data.max_prompt_length={settings.max_prompt_length}",
        f"data.max_response_length={settings.max_response_length}",
        f"data.seed={settings.seed}",
        "data.dataloader_num_workers=0",  # no extra processes on a 2-core box
        f"actor_rollout_ref.model.path={assets.model_dir}",
        "+actor_rollout_ref.model.override_config.attn_implementation=eager",  # flash-attn is GPU-only
        "actor_rollout_ref.model.use_remove_padding=False",  # the packed path needs flash-attn
        "actor_rollout_ref.model.enable_gradient_checkpointing=False",
        # actor: FSDP2 (FSDP1 passes an int device_id, fatal on CPU), no compile, no ref model
        "actor_rollout_ref.actor.strategy=fsdp2",
        "actor_rollout_ref.actor.fsdp_config.strategy=fsdp2",
        "actor_rollout_ref.actor.use_torch_compile=False",
        "actor_rollout_ref.actor.fsdp_config.use_torch_compile=False",
        "actor_rollout_ref.actor.use_kl_loss=False",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={settings.prompts_per_step}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={settings.prompts_per_step * settings.group_size}",
        f"actor_rollout_ref.actor.optim.lr={settings.learning_rate}",
        # rollout: our HF backend, one process per replica
        "actor_rollout_ref.rollout.name=hf",
        f"actor_rollout_ref.rollout.n={settings.group_size}",
        "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
        "actor_rollout_ref.rollout.dtype=float32",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={settings.prompts_per_step * settings.group_size}",
        "actor_rollout_ref.rollout.agent.num_workers=1",
        "reward.num_workers=1",
        # trainer: one fake "GPU" (CPU platform), console + jsonl metrics, checkpoint at the last step,
        # validation at the last step (its metrics carry the router's per-sample keys)
        "trainer.device=cpu",
        "trainer.nnodes=1",
        "trainer.n_gpus_per_node=1",
        f"trainer.total_training_steps={total_steps}",
        "trainer.logger=[console,file]",
        "trainer.project_name=g2rl_verl_demo",
        "trainer.experiment_name=cpu_demo",
        "trainer.val_before_train=False",
        f"trainer.test_freq={total_steps}",
        f"trainer.save_freq={total_steps}",
        "trainer.resume_mode=auto",
        f"trainer.default_local_dir={checkpoint_dir}",
        # Ray on a CPU box: fake GPU resource for verl's pools, logical CPUs for its 3-CPU bundles
        "ray_kwargs.ray_init.num_cpus=16",
        "+ray_kwargs.ray_init.num_gpus=1",
        "+ray_kwargs.ray_init.include_dashboard=False",
        # TransferQueue: one storage actor, not eight
        "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
    ]


def demo_environment(run_marker: str, metrics_file: Path, scratch_dir: Path) -> dict[str, str]:
    from g2rl_verl.cpu.environment import cpu_run_environment

    env = dict(os.environ)
    env.update(cpu_run_environment(num_fake_gpus=1))
    # Loud plugin import in every process. Extra modules the user set go first: a platform plugin must
    # register before anything resolves verl's platform (importing verl's FSDP engine does).
    extra = [m for m in env.get("VERL_USE_EXTERNAL_MODULES", "").split(",") if m and m != "g2rl_verl.plugin"]
    env.update(
        OMP_NUM_THREADS="1",  # 2 cores shared by ~8 processes: more threads only oversubscribe
        TOKENIZERS_PARALLELISM="false",
        VERL_USE_EXTERNAL_MODULES=",".join([*extra, "g2rl_verl.plugin"]),
        VERL_FILE_LOGGER_PATH=str(metrics_file),
        RAY_DEDUP_LOGS="1",
        G2RL_DEMO_RUN=run_marker,  # inherited by every process of the run: lets us find leftovers
        # verl leaves lock files in the temp dir (verl/utils/fs.py:293); give the run its own, deleted
        # afterwards. Ray keeps the usual location (its socket paths must stay short).
        TMPDIR=str(scratch_dir),
        RAY_TMPDIR=env.get("RAY_TMPDIR", tempfile.gettempdir()),
        PYTHONUNBUFFERED="1",
    )
    return env


# -------------------------------------------------------------------------------------------- runs
_SHOW = ("step:", "Training Progress", "Final validation", "Error", "Traceback", "error:")


def _processes_with_marker(marker: str) -> list[int]:
    needle = f"G2RL_DEMO_RUN={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # exited or not ours
            continue
    return found


def _wait_for_exit(marker: str, grace_s: float) -> list[int]:
    deadline = time.monotonic() + grace_s
    while True:
        left = _processes_with_marker(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def run_phase(
    name: str,
    overrides: list[str],
    env: dict[str, str],
    log_file: Path,
    metrics_file: Path,
    timeout_s: float,
    echo: bool = True,
) -> PhaseResult:
    """Run ``python -m g2rl_verl.main`` once; stream verl's step lines; collect its jsonl metrics."""
    marker = env["G2RL_DEMO_RUN"]
    cmd = [sys.executable, "-m", "g2rl_verl.main", *overrides]
    start = time.monotonic()
    with open(log_file, "w") as log:
        # cwd = the demo's workdir: Hydra writes its outputs/ folder there, not in the caller's directory
        proc = subprocess.Popen(
            cmd,
            cwd=log_file.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if echo and any(key in line for key in _SHOW):
                    print(f"[{name}] {line.rstrip()}", flush=True)
                if time.monotonic() - start > timeout_s:
                    raise TimeoutError(f"demo phase {name} exceeded {timeout_s:.0f} s (log: {log_file})")
            proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)  # the run's own process group (start_new_session)
            proc.wait()
            raise
    wall_s = time.monotonic() - start
    leftovers = _wait_for_exit(marker, grace_s=30.0)
    for pid in leftovers:  # only processes that carry this run's marker
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    metrics = []
    if metrics_file.exists():
        metrics = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    return PhaseResult(name, proc.returncode, wall_s, metrics, log_file, leftovers)


# ----------------------------------------------------------------------------------------- checks
def _load_checkpoint_weights(step_dir: Path) -> dict:
    """The actor weights verl's FSDP checkpoint saved (world size 1: the local shard is the tensor)."""
    import torch

    state = torch.load(
        step_dir / "actor" / "model_world_size_1_rank_0.pt", map_location="cpu", weights_only=False
    )
    return {k: (v.to_local() if hasattr(v, "to_local") else v).float() for k, v in state.items()}


def weight_changes(workdir: Path, settings: DemoSettings) -> dict[str, float]:
    """Largest absolute parameter change: initial model -> first run's checkpoint -> resumed run's checkpoint."""
    from safetensors.torch import load_file

    initial = {k: v.float() for k, v in load_file(workdir / "model" / "model.safetensors").items()}
    first = _load_checkpoint_weights(workdir / "checkpoints" / f"global_step_{settings.steps}")
    second = _load_checkpoint_weights(
        workdir / "checkpoints" / f"global_step_{settings.steps + settings.resume_steps}"
    )

    def max_change(a: dict, b: dict) -> float:
        common = set(a) & set(b)
        if not common:
            raise KeyError("checkpoint and model share no parameter names")
        return max(float((a[k] - b[k]).abs().max()) for k in common)

    return {"initial_to_first": max_change(initial, first), "first_to_resumed": max_change(first, second)}


def _data(record: dict) -> dict:
    return record.get("data", record)


def check_outcome(first: PhaseResult, second: PhaseResult, settings: DemoSettings) -> list[str]:
    """Problems found in the two runs (empty list: the demo did what it claims)."""
    problems = []
    for phase in (first, second):
        if phase.returncode != 0:
            problems.append(f"{phase.name}: exited with {phase.returncode} (log: {phase.log_file})")
        if phase.leftover_pids:
            problems.append(f"{phase.name}: processes left behind after exit: {phase.leftover_pids}")
    total = settings.steps + settings.resume_steps
    if first.steps[: settings.steps] != list(range(1, settings.steps + 1)):
        problems.append(f"first run logged steps {first.steps}, expected 1..{settings.steps}")
    resumed = [s for s in second.steps if s > settings.steps]
    if resumed != list(range(settings.steps + 1, total + 1)) or any(
        s <= settings.steps for s in second.steps
    ):
        problems.append(f"resumed run logged steps {second.steps}, expected {settings.steps + 1}..{total}")
    resume_line = f"Resuming from {first.log_file.parent / 'checkpoints' / f'global_step_{settings.steps}'}"
    if second.log_file.exists() and resume_line not in second.log_file.read_text():
        problems.append(f"resumed run did not log '{resume_line}'")
    train = [_data(m) for m in first.metrics + second.metrics if "actor/grad_norm" in _data(m)]
    if not train:
        problems.append("no training metrics were logged")
        return problems
    if not any(m["actor/grad_norm"] > 0 for m in train):
        problems.append("actor/grad_norm was 0 at every step: no group had reward variance")
    if not any(k.startswith("g2rl/") for m in train for k in m):
        problems.append("no g2rl/* metrics were logged")
    if not any("gppo" in k for m in train for k in m):
        problems.append("no GPPO metrics (actor/gppo_*, gppo/*) were logged")
    for m in train:
        bad = [
            k for k, v in m.items() if k.startswith("g2rl/") and isinstance(v, float) and not math.isfinite(v)
        ]
        if bad:
            problems.append(f"non-finite G2RL metrics {bad}")
    val = [_data(m) for m in first.metrics + second.metrics]
    if not any("score01" in k for m in val for k in m) or not any("kind_id" in k for m in val for k in m):
        problems.append("validation metrics lack the reward router's score01/kind_id keys")
    if not problems:
        changes = weight_changes(first.log_file.parent, settings)
        for name, change in changes.items():
            if not change > 0:
                problems.append(f"parameters did not change ({name}: max |delta| = {change})")
    return problems


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def print_summary(first: PhaseResult, second: PhaseResult) -> None:
    keys = (
        "critic/score/mean",
        "actor/grad_norm",
        "actor/pg_loss",
        "g2rl/base_reward_mean",
        "gppo/positive_frac",
    )
    print("\n== g2rl-verl demo summary ==")
    for phase in (first, second):
        print(f"{phase.name}: exit {phase.returncode}, {phase.wall_s:.0f} s, steps {phase.steps}")
        for record in phase.metrics:
            data = _data(record)
            if "actor/grad_norm" in data:
                shown = ", ".join(f"{k}={_fmt(data[k])}" for k in keys if k in data)
                print(f"  step {record.get('step')}: {shown}")


def run_demo(
    workdir: Path, settings: DemoSettings = DemoSettings(), echo: bool = True
) -> tuple[PhaseResult, PhaseResult, list[str]]:
    """Build the assets, train ``steps`` steps, resume for ``resume_steps`` more; return both runs + problems."""
    workdir = Path(workdir).resolve()
    t0 = time.monotonic()
    assets = build_assets(workdir, settings)
    print(
        f"g2rl-verl demo: tiny model + toy data built in {time.monotonic() - t0:.1f} s under {workdir}",
        flush=True,
    )
    checkpoint_dir = workdir / "checkpoints"
    phases = []
    for name, total in (("train", settings.steps), ("resume", settings.steps + settings.resume_steps)):
        marker = uuid.uuid4().hex
        metrics_file = workdir / f"metrics_{name}.jsonl"
        metrics_file.unlink(missing_ok=True)
        print(f"g2rl-verl demo: {name} run (steps up to {total}) ...", flush=True)
        scratch_dir = Path(tempfile.mkdtemp(prefix="g2rl_demo_"))
        try:
            phases.append(
                run_phase(
                    name,
                    training_overrides(assets, settings, checkpoint_dir, total),
                    demo_environment(marker, metrics_file, scratch_dir),
                    workdir / f"log_{name}.txt",
                    metrics_file,
                    settings.phase_timeout_s,
                    echo=echo,
                )
            )
        finally:
            shutil.rmtree(scratch_dir, ignore_errors=True)
        if phases[-1].returncode != 0:
            tail = phases[-1].log_file.read_text().splitlines()[-40:]
            print("\n".join(tail), file=sys.stderr)
            break
    if len(phases) == 1:
        phases.append(PhaseResult("resume", -1, 0.0, [], workdir / "log_resume.txt", []))
    first, second = phases
    problems = check_outcome(first, second, settings)
    print_summary(first, second)
    print(f"total wall time {time.monotonic() - t0:.0f} s", flush=True)
    return first, second, problems
