"""`g2rl-verl demo`: the whole pipeline, data -> SFT -> RL -> evaluation, on a CPU, offline, in minutes.

What it does (every stage is this package's or verl's real entry point, in its own process):

1. **Data**: ``data_prep.sources.synthetic`` writes the synthetic addition task ("47+38=" ->
   "7+8=15 4+3+1=8 \\boxed{85}") as SFT and RL parquet with a held-out split, plus three stdin/stdout
   code items whose reference programs are in the SFT set.
2. **Model**: a freshly initialised tiny Qwen3 with a character-level tokenizer
   (:mod:`g2rl_verl.cpu.tiny_model`).
3. **SFT** through verl's own SFT trainer (``torchrun -m verl.trainer.sft_trainer``, the trainer
   ``recipes/klear_reasoner/sft.sh`` launches) with ``recipes/demo/config/recipe/demo_sft.yaml``.
4. **Held-out pass@1 of the SFT model** with ``python -m g2rl_verl.eval generate --backend hf`` and
   ``score`` (our math verifier).
5. **RL** with ``python -m g2rl_verl.main`` and ``recipes/demo/config/recipe/demo_rl.yaml`` plus one
   of ``demo_method/{grpo,gppo,g2rl}.yaml``: a first run saves a checkpoint, a second run resumes
   from it (``trainer.resume_mode=auto``) for ``resume_steps`` more steps. verl validates on the
   held-out problems and the code items (sandboxed code reward path) before training and at the end.
6. **Held-out pass@1 of the RL model**, as in 4, from the HF weights the last checkpoint saved.

Every hyperparameter lives in the recipe YAMLs; :class:`DemoSettings` holds only budgets and sizes
(steps, rows, samples, model shape, seed). ``run_pipeline`` is shared with
``benchmarks/mini_reproduction.py``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from g2rl_verl.cpu.tiny_model import TinyModelSpec, build_tiny_model

METHODS = ("grpo", "gppo", "g2rl")
BENCHMARK_RL_STEPS = 20  # benchmarks/mini_reproduction.py's default budget (its published table)
# G2RL ablations the benchmark can run beside the methods (demo_method/<name>.yaml = g2rl.yaml + one key)
G2RL_ABLATIONS = ("g2rl_skip_uniform", "g2rl_prose")
# the recipe files; located from the repository checkout (recipes/ is not part of the wheel)
RECIPE_DIR = Path(__file__).resolve().parents[1] / "recipes" / "demo" / "config"
HELDOUT_KEY = "val-core/math/acc/mean@1"  # verl's held-out accuracy (data_source "math", one sample)
RUN_MARKER_VAR = "G2RL_DEMO_RUN"  # exported to every process of one run, to find its leftovers
# reward settings the offline evaluation grades with: the same as demo_rl.yaml's reward_kwargs
EVAL_REWARD_KWARGS = {"profile": "g2rl", "think_mode": "none", "extraction": "strict"}


@dataclass(frozen=True)
class DemoSettings:
    """Budgets and sizes of one pipeline run (hyperparameters are in recipes/demo/config)."""

    method: str = "gppo"  # the default demo run; the benchmark runs all three
    seed: int = 0  # RL: data order (data.seed) and the evaluation's sampling seeds
    data_seed: int = 0  # the synthetic data, the model's initialisation and the SFT run
    digits: int = 2
    train_rows: int = 2000
    heldout_rows: int = 200
    code_check_rows: int = 3
    sft_steps: int = 150
    rl_steps: int = 24  # the demo; the benchmark runs BENCHMARK_RL_STEPS
    resume_steps: int = 1
    test_freq: int = 5
    eval_samples: int = 4  # samples per held-out problem for pass@1 (avg@n) and pass@k
    eval_temperature: float = 1.0  # the rollout temperature of demo_rl.yaml
    eval_max_tokens: int = 40  # = data.max_response_length of demo_rl.yaml
    phase_timeout_s: float = 900.0
    model: TinyModelSpec = field(
        default_factory=lambda: TinyModelSpec(
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    )

    def __post_init__(self) -> None:
        if self.method not in METHODS + G2RL_ABLATIONS:
            raise ValueError(f"demo method must be one of {METHODS + G2RL_ABLATIONS} (got {self.method!r})")
        for name in ("sft_steps", "rl_steps", "test_freq", "eval_samples", "eval_max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"demo setting {name} must be >= 1 (got {getattr(self, name)})")
        if self.resume_steps < 0:
            raise ValueError(f"demo setting resume_steps must be >= 0 (got {self.resume_steps})")

    @property
    def total_rl_steps(self) -> int:
        return self.rl_steps + self.resume_steps


@dataclass(frozen=True)
class DemoAssets:
    model_dir: Path
    data_dir: Path

    @property
    def sft_train(self) -> Path:
        return self.data_dir / "sft_train.parquet"

    @property
    def sft_heldout(self) -> Path:
        return self.data_dir / "sft_heldout.parquet"

    @property
    def rl_train(self) -> Path:
        return self.data_dir / "rl_train.parquet"

    @property
    def rl_heldout(self) -> Path:
        return self.data_dir / "rl_heldout.parquet"

    @property
    def code_check(self) -> Path:
        return self.data_dir / "code_check.parquet"


@dataclass
class PhaseResult:
    name: str
    returncode: int
    wall_s: float
    metrics: list[dict]  # one record per logged step (verl's FileLogger: {"step": s, "data": {...}})
    log_file: Path
    leftover_pids: list[int]

    @property
    def steps(self) -> list[int]:
        return sorted({int(m["step"]) for m in self.metrics if "actor/grad_norm" in _data(m)})


@dataclass
class PipelineResult:
    settings: DemoSettings
    workdir: Path
    phases: list[PhaseResult]
    heldout_pass1_sft: float | None = None
    heldout_pass1_rl: float | None = None
    eval_reports: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def phase(self, name: str) -> PhaseResult | None:
        return next((p for p in self.phases if p.name == name), None)

    def summary(self) -> dict:
        rl = [p for p in self.phases if p.name in ("rl", "rl_resume")]
        curve = learning_curve([m for p in rl for m in p.metrics])
        return {
            "method": self.settings.method,
            "seed": self.settings.seed,
            "data_seed": self.settings.data_seed,
            "steps": self.settings.total_rl_steps,
            "sft_steps": self.settings.sft_steps,
            "heldout_pass1_sft": self.heldout_pass1_sft,
            "heldout_pass1_rl": self.heldout_pass1_rl,
            "heldout_pass1_gain": None
            if self.heldout_pass1_sft is None or self.heldout_pass1_rl is None
            else self.heldout_pass1_rl - self.heldout_pass1_sft,
            "eval_protocol": f"avg@{self.settings.eval_samples} at temperature {self.settings.eval_temperature} "
            f"on {self.settings.heldout_rows} held-out problems",
            "curve": curve,
            "phase_wall_s": {p.name: round(p.wall_s, 1) for p in self.phases},
            "wall_s": round(self.wall_s, 1),
            "problems": self.problems,
            "settings": {**asdict(self.settings), "model": asdict(self.settings.model)},
        }


def _data(record: dict) -> dict:
    return record.get("data", record)


def learning_curve(records: list[dict]) -> dict[str, dict[int, float]]:
    """Held-out accuracy and mean training reward (verl's critic/score/mean, +-1 scale) by step."""
    curve: dict[str, dict[int, float]] = {"heldout_acc": {}, "train_reward": {}}
    for record in records:
        data, step = _data(record), int(record.get("step", -1))
        if HELDOUT_KEY in data:
            curve["heldout_acc"][step] = float(data[HELDOUT_KEY])
        if "critic/score/mean" in data:
            curve["train_reward"][step] = float(data["critic/score/mean"])
    return curve


# ------------------------------------------------------------------------------------------ assets
def build_assets(workdir: Path, settings: DemoSettings) -> DemoAssets:
    """The synthetic data (data_prep) and the freshly initialised tiny model with its tokenizer."""
    from data_prep.sources.synthetic import SyntheticConfig, build_synthetic

    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    build_synthetic(
        SyntheticConfig(
            data_dir,
            digits=settings.digits,
            train=settings.train_rows,
            heldout=settings.heldout_rows,
            seed=settings.data_seed,
            code_check=settings.code_check_rows,
        )
    )
    model_dir = workdir / "model"
    if not (model_dir / "config.json").exists():
        build_tiny_model(model_dir, TinyModelSpec(**{**asdict(settings.model), "seed": settings.data_seed}))
    return DemoAssets(model_dir, data_dir)


# ---------------------------------------------------------------------------------------- commands
def sft_command(assets: DemoAssets, settings: DemoSettings, out_dir: Path) -> list[str]:
    """``torchrun -m verl.trainer.sft_trainer`` (one CPU process) with the demo SFT recipe."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=1",
        "-m", "verl.trainer.sft_trainer",
        "--config-dir", str(RECIPE_DIR), "+recipe=demo_sft",
        f"model.path={assets.model_dir}",
        f"data.train_files={assets.sft_train}",
        f"data.val_files={assets.sft_heldout}",
        f"trainer.total_training_steps={settings.sft_steps}",
        f"trainer.seed={settings.data_seed}",
        f"trainer.default_local_dir={out_dir}",
    ]  # fmt: skip


def rl_command(
    model_dir: Path, assets: DemoAssets, settings: DemoSettings, checkpoint_dir: Path, total_steps: int
) -> list[str]:
    """``python -m g2rl_verl.main`` with the demo RL recipe and method; budgets and paths only."""
    val_files = [str(assets.rl_heldout)] + ([str(assets.code_check)] if settings.code_check_rows else [])
    return [
        sys.executable, "-m", "g2rl_verl.main",
        "--config-dir", str(RECIPE_DIR), "+recipe=demo_rl", f"demo_method={settings.method}",
        f"actor_rollout_ref.model.path={model_dir}",
        f"data.train_files={assets.rl_train}",
        f"data.val_files=[{','.join(val_files)}]",
        f"data.seed={settings.seed}",
        f"trainer.total_training_steps={total_steps}",
        f"trainer.test_freq={settings.test_freq}",
        f"trainer.save_freq={settings.rl_steps}",
        f"trainer.default_local_dir={checkpoint_dir}",
        f"trainer.experiment_name={settings.method}_seed{settings.seed}",
    ]  # fmt: skip


def run_environment(run_marker: str, metrics_file: Path, scratch_dir: Path) -> dict[str, str]:
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
        **{RUN_MARKER_VAR: run_marker},  # inherited by every process of the run: lets us find leftovers
        # verl leaves lock files in the temp dir (verl/utils/fs.py:293); give the run its own, deleted
        # afterwards. Ray keeps the usual location (its socket paths must stay short).
        TMPDIR=str(scratch_dir),
        RAY_TMPDIR=env.get("RAY_TMPDIR", tempfile.gettempdir()),
        PYTHONUNBUFFERED="1",
    )
    return env


# -------------------------------------------------------------------------------------------- runs
_SHOW = ("Training Progress", "Final validation", "Error", "Traceback", "error:")


def _processes_with_marker(marker: str) -> list[int]:
    from g2rl_verl.cpu.environment import pids_with_env

    return pids_with_env(RUN_MARKER_VAR, marker)


def _wait_for_exit(marker: str, grace_s: float) -> list[int]:
    deadline = time.monotonic() + grace_s
    while True:
        left = _processes_with_marker(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def run_phase(name: str, cmd: list[str], workdir: Path, timeout_s: float, echo: bool = True) -> PhaseResult:
    """Run one stage as a subprocess; stream its progress lines; collect verl's jsonl metrics.

    Every process of the stage carries a marker variable; any still alive 30 s after the stage exits
    is killed (only those) and reported.
    """
    marker = uuid.uuid4().hex
    log_file, metrics_file = workdir / f"log_{name}.txt", workdir / f"metrics_{name}.jsonl"
    metrics_file.unlink(missing_ok=True)
    scratch_dir = Path(tempfile.mkdtemp(prefix="g2rl_demo_"))
    start = time.monotonic()
    try:
        with open(log_file, "w") as log:
            # cwd = workdir: Hydra writes its outputs/ folder there, not in the caller's directory
            proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                env=run_environment(marker, metrics_file, scratch_dir),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    log.write(line)
                    if echo and any(key in line for key in _SHOW) and "Warning" not in line:
                        print(f"[{name}] {line.rstrip()[-160:]}", flush=True)
                    if time.monotonic() - start > timeout_s:
                        raise TimeoutError(f"demo stage {name} exceeded {timeout_s:.0f} s (log: {log_file})")
                proc.wait()
            except BaseException:
                os.killpg(proc.pid, signal.SIGTERM)  # the stage's own process group (start_new_session)
                proc.wait()
                raise
    finally:
        wall_s = time.monotonic() - start
        leftovers = _wait_for_exit(marker, grace_s=30.0)
        for pid in leftovers:  # only processes that carry this stage's marker
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(scratch_dir, ignore_errors=True)
    metrics = []
    if metrics_file.exists():
        metrics = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    return PhaseResult(name, proc.returncode, wall_s, metrics, log_file, leftovers)


def evaluate(model_dir: Path, heldout: Path, settings: DemoSettings, out_dir: Path) -> tuple[float, Path]:
    """Held-out pass@1 (avg@n) of ``model_dir``: ``python -m g2rl_verl.eval generate --backend hf`` + ``score``."""
    from g2rl_verl.eval.cli import main as eval_main

    common = ["--out-dir", str(out_dir)]
    rc = eval_main(
        [
            "generate", "--backend", "hf", "--benchmark", "heldout", "--data", str(heldout), "--format", "rl",
            "--model", str(model_dir), "--n", str(settings.eval_samples),
            "--temperature", str(settings.eval_temperature), "--top-p", "1.0",
            "--max-tokens", str(settings.eval_max_tokens), "--seed", str(settings.seed), *common,
        ]
    )  # fmt: skip
    if rc != 0:
        raise RuntimeError(f"evaluation of {model_dir}: generate exited with {rc}")
    kwargs = [a for k, v in EVAL_REWARD_KWARGS.items() for a in ("--reward-kwarg", f"{k}={v}")]
    rc = eval_main(["score", "--in-dir", str(out_dir), "--seed", str(settings.seed), *kwargs])
    if rc != 0:
        raise RuntimeError(f"evaluation of {model_dir}: score exited with {rc} (see {out_dir})")
    report = json.loads((out_dir / "report.json").read_text())
    [bench] = [b for b in report["benchmarks"] if b["benchmark"] == "heldout"]
    return float(bench["metrics"]["pass@1"]["value"]), out_dir / "report.md"


# ----------------------------------------------------------------------------------------- checks
def check_outcome(result: PipelineResult) -> list[str]:
    """Problems found in the run (empty list: the pipeline did what it claims)."""
    settings, problems = result.settings, []
    for phase in result.phases:
        if phase.returncode != 0:
            problems.append(f"{phase.name}: exited with {phase.returncode} (log: {phase.log_file})")
        if phase.leftover_pids:
            problems.append(f"{phase.name}: processes left behind after exit: {phase.leftover_pids}")
    rl, resumed = result.phase("rl"), result.phase("rl_resume")
    if rl is None or rl.returncode != 0:
        return problems
    if rl.steps != list(range(1, settings.rl_steps + 1)):
        problems.append(f"rl logged steps {rl.steps}, expected 1..{settings.rl_steps}")
    if settings.resume_steps and resumed is not None:
        expected = list(range(settings.rl_steps + 1, settings.total_rl_steps + 1))
        if resumed.steps != expected:
            problems.append(f"resumed run logged steps {resumed.steps}, expected {expected}")
        resume_line = (
            f"Resuming from {result.workdir / 'rl_checkpoints' / f'global_step_{settings.rl_steps}'}"
        )
        if resume_line not in resumed.log_file.read_text():
            problems.append(f"resumed run did not log '{resume_line}'")
    train = [_data(m) for p in (rl, resumed) if p for m in p.metrics if "actor/grad_norm" in _data(m)]
    if not train:
        return problems + ["no RL training metrics were logged"]
    if not any(m["actor/grad_norm"] > 0 for m in train):
        problems.append("actor/grad_norm was 0 at every step: no group had reward variance")
    for m in train:
        bad = [k for k, v in m.items() if isinstance(v, float) and not math.isfinite(v) and "/" in k]
        if bad:
            problems.append(f"non-finite metrics {bad[:5]}")
            break
    if settings.method.startswith("g2rl") and not any(k.startswith("g2rl/") for m in train for k in m):
        problems.append("no g2rl/* metrics were logged")
    if settings.method == "gppo" and not any("gppo" in k for m in train for k in m):
        problems.append("no GPPO metrics (actor/gppo_*, gppo/*) were logged")
    val = [_data(m) for p in (rl, resumed) if p for m in p.metrics]
    if not any(HELDOUT_KEY in m for m in val):
        problems.append(f"validation never logged {HELDOUT_KEY}")
    if settings.code_check_rows and not any("val-aux/taco/score01/mean@1" in m for m in val):
        problems.append("validation lacks the code items' reward keys (val-aux/taco/...)")
    return problems


def rl_hf_dir(workdir: Path, step: int) -> Path:
    return workdir / "rl_checkpoints" / f"global_step_{step}" / "actor" / "huggingface"


def run_pipeline(
    workdir: Path, settings: DemoSettings, echo: bool = True, sft: tuple[Path, float] | None = None
) -> PipelineResult:
    """Data -> SFT -> eval -> RL (+ resume) -> eval under ``workdir``; stops at the first failed stage.

    ``sft``: (HF directory, its held-out pass@1) to start RL from instead of training and evaluating an
    SFT model (the benchmark trains one SFT model per seed and reuses it for the three methods).
    """
    if not RECIPE_DIR.is_dir():
        raise FileNotFoundError(
            f"the demo reads its settings from {RECIPE_DIR}, which exists only in a checkout of the repository; "
            "install from the checkout (pip install -e .) and run the demo from there"
        )
    workdir = Path(workdir).resolve()
    t0 = time.monotonic()
    assets = build_assets(workdir, settings)
    result = PipelineResult(settings, workdir, [])

    def say(text: str) -> None:
        if echo:
            print(f"g2rl-verl demo [{time.monotonic() - t0:5.0f} s] {text}", flush=True)

    def finish() -> PipelineResult:
        result.wall_s = time.monotonic() - t0
        result.problems = check_outcome(result) + result.problems
        return result

    say(f"data and a fresh {_param_count(assets.model_dir)}-parameter model under {workdir}")
    sft_model = None if sft is None else Path(sft[0])
    if sft is None:
        say(f"SFT: verl.trainer.sft_trainer, {settings.sft_steps} steps ...")
        sft_phase = run_phase("sft", sft_command(assets, settings, workdir / "sft_checkpoints"), workdir,
                              settings.phase_timeout_s, echo)  # fmt: skip
        result.phases.append(sft_phase)
        sft_model = workdir / "sft_checkpoints" / f"global_step_{settings.sft_steps}" / "huggingface"
        if sft_phase.returncode != 0 or not sft_model.is_dir():
            result.problems.append(f"SFT produced no HF model at {sft_model} (log: {sft_phase.log_file})")
            return finish()
        result.heldout_pass1_sft, result.eval_reports["sft"] = evaluate(
            sft_model, assets.rl_heldout, settings, workdir / "eval_sft"
        )
    else:
        result.heldout_pass1_sft = float(sft[1])
    say(f"held-out pass@1 after SFT: {result.heldout_pass1_sft:.1%}")
    checkpoint_dir = workdir / "rl_checkpoints"
    stages = [("rl", settings.rl_steps)] + (
        [("rl_resume", settings.total_rl_steps)] if settings.resume_steps else []
    )
    for name, total in stages:
        say(f"RL ({settings.method}) via g2rl_verl.main, steps up to {total} ...")
        phase = run_phase(name, rl_command(sft_model, assets, settings, checkpoint_dir, total), workdir,
                          settings.phase_timeout_s, echo)  # fmt: skip
        result.phases.append(phase)
        if phase.returncode != 0:
            print("\n".join(phase.log_file.read_text().splitlines()[-40:]), file=sys.stderr)
            return finish()
    final = rl_hf_dir(workdir, settings.total_rl_steps)
    if not final.is_dir():
        result.problems.append(f"the last RL checkpoint has no HF model at {final}")
        return finish()
    result.heldout_pass1_rl, result.eval_reports["rl"] = evaluate(
        final, assets.rl_heldout, settings, workdir / "eval_rl"
    )
    say(f"held-out pass@1 after RL: {result.heldout_pass1_rl:.1%}")
    return finish()


def _param_count(model_dir: Path) -> str:
    from safetensors import safe_open

    with safe_open(model_dir / "model.safetensors", "pt") as f:
        n = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118 (safe_open has no __iter__)
    return f"{n / 1e6:.2f}M"


def print_summary(result: PipelineResult) -> None:
    s = result.summary()
    print("\n== g2rl-verl demo summary ==")
    for phase in result.phases:
        print(
            f"{phase.name}: exit {phase.returncode}, {phase.wall_s:.0f} s"
            + (f", steps {phase.steps}" if phase.steps else "")
        )
    acc = s["curve"]["heldout_acc"]
    if acc:
        print(
            "verl validation, held-out accuracy by step: "
            + ", ".join(f"{k}: {v:.1%}" for k, v in sorted(acc.items()))
        )
    if s["heldout_pass1_sft"] is not None:
        print(f"held-out pass@1 ({s['eval_protocol']}): SFT {s['heldout_pass1_sft']:.1%}", end="")
        if s["heldout_pass1_rl"] is not None:
            print(f" -> RL ({s['method']}, {s['steps']} steps) {s['heldout_pass1_rl']:.1%} "
                  f"({100 * s['heldout_pass1_gain']:+.1f} points)", end="")  # fmt: skip
        print()
    print(f"total wall time {s['wall_s']:.0f} s")
