"""CI smoke test of the pipeline behind `g2rl-verl demo`: data -> SFT (verl's SFT trainer) -> held-out eval
(HF backend) -> RL with G2RL (`python -m g2rl_verl.main`, 2 steps, checkpoint) -> resumed RL (1 step) ->
held-out eval, on CPU, a few steps each.

One pipeline run is shared by every assertion (module-scoped fixture). It checks that the stages run and
hand over to each other (SFT weights reach RL, RL checkpoints resume, the evaluation reads the RL
weights), not that RL improves the model: that needs many more steps (benchmarks/mini_reproduction.py).
"""

import json
import math

import pytest
import torch

from g2rl_verl.demo import HELDOUT_KEY, DemoSettings, rl_hf_dir, run_pipeline

SETTINGS = DemoSettings(
    method="g2rl", sft_steps=4, rl_steps=2, resume_steps=1, test_freq=2, train_rows=128, heldout_rows=16,
    eval_samples=2, phase_timeout_s=420.0,
)  # fmt: skip
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return run_pipeline(tmp_path_factory.mktemp("demo"), SETTINGS, echo=False)


def _train(phase):
    return [r["data"] for r in phase.metrics if "actor/grad_norm" in r["data"]]


def _weights(directory):
    from safetensors.torch import load_file

    return load_file(directory / "model.safetensors")


def test_pipeline_reports_no_problems(pipeline):
    assert pipeline.problems == []
    assert [p.name for p in pipeline.phases] == ["sft", "rl", "rl_resume"]
    assert all(p.returncode == 0 and p.leftover_pids == [] for p in pipeline.phases)


def test_sft_ran_through_verls_trainer_and_changed_the_model(pipeline):
    sft = pipeline.phase("sft")
    losses = [r["data"]["train/loss"] for r in sft.metrics if "train/loss" in r["data"]]
    assert len(losses) == SETTINGS.sft_steps and all(math.isfinite(x) for x in losses)
    initial = _weights(pipeline.workdir / "model")
    trained = _weights(
        pipeline.workdir / "sft_checkpoints" / f"global_step_{SETTINGS.sft_steps}" / "huggingface"
    )
    assert max(float((initial[k] - trained[k]).abs().max()) for k in initial) > 0


def test_rl_started_from_the_sft_weights_checkpointed_and_resumed(pipeline):
    rl, resumed = pipeline.phase("rl"), pipeline.phase("rl_resume")
    assert rl.steps == [1, 2] and resumed.steps == [3]  # continues after the checkpoint
    ckpt = pipeline.workdir / "rl_checkpoints"
    assert (ckpt / "latest_checkpointed_iteration.txt").read_text().strip() == "3"
    assert f"Resuming from {ckpt / 'global_step_2'}" in resumed.log_file.read_text()
    sft = _weights(pipeline.workdir / "sft_checkpoints" / f"global_step_{SETTINGS.sft_steps}" / "huggingface")
    first, last = _weights(rl_hf_dir(pipeline.workdir, 2)), _weights(rl_hf_dir(pipeline.workdir, 3))
    # the RL actor was loaded from the SFT model (same names and shapes), then trained, then trained again
    assert set(first) <= set(sft) | {"lm_head.weight"}
    assert max(float((sft[k] - first[k]).abs().max()) for k in first if k in sft) > 0
    assert max(float((first[k] - last[k]).abs().max()) for k in first) > 0


def test_g2rl_metrics_are_finite_and_match_the_reward(pipeline):
    for record in _train(pipeline.phase("rl")) + _train(pipeline.phase("rl_resume")):
        assert {"g2rl/base_reward_mean", "g2rl/nu_mean"} <= set(record)
        assert all(
            math.isfinite(v) for k, v in record.items() if k.startswith("g2rl/") and isinstance(v, float)
        )
        # profile g2rl: verl's score = 2*score01 - 1, which is exactly G2RL's base reward r
        assert record["g2rl/base_reward_mean"] == pytest.approx(record["critic/score/mean"], abs=1e-5)


def test_validation_covers_heldout_math_and_sandboxed_code(pipeline):
    val = [r["data"] for r in pipeline.phase("rl").metrics]
    assert any(HELDOUT_KEY in m for m in val)
    code = next(m for m in val if "val-aux/taco/score01/mean@1" in m)
    # profile g2rl (hand-derived): score = 2*score01 - 1 sample by sample, so also on the means
    assert code["val-aux/taco/score/mean@1"] == pytest.approx(
        2 * code["val-aux/taco/score01/mean@1"] - 1, abs=1e-5
    )
    assert code["val-aux/taco/valid/mean@1"] == 1.0  # no sandbox/verifier infrastructure failure


def test_evaluation_graded_the_rl_model_and_summary_is_complete(pipeline):
    s = pipeline.summary()
    assert 0.0 <= s["heldout_pass1_sft"] <= 1.0 and 0.0 <= s["heldout_pass1_rl"] <= 1.0
    assert s["steps"] == 3 and s["method"] == "g2rl"
    report = json.loads((pipeline.workdir / "eval_rl" / "report.json").read_text())
    [bench] = report["benchmarks"]
    assert bench["metrics"]["pass@1"]["value"] == s["heldout_pass1_rl"]
    assert (
        bench["num_problems"] == SETTINGS.heldout_rows
        and bench["samples_per_problem"] == SETTINGS.eval_samples
    )
    models = report["provenance"]["generation_runs"]["heldout.generations.jsonl"]["sampling"]["model"]
    assert models == str(rl_hf_dir(pipeline.workdir, 3))
    assert s["curve"]["heldout_acc"] and s["curve"]["train_reward"]
    assert torch.isfinite(torch.tensor(list(s["curve"]["train_reward"].values()))).all()
