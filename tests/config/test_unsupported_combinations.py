"""Issue 11: `python -m g2rl_verl.main ... g2rl_verl.dry_run=true` refuses every unsupported combination
before Ray starts, naming the key (items 1, 2, 5, 8, 9). Each case is a real dry run of the entry point."""

import contextlib
import io
import sys
from unittest import mock

import pytest
import ray
from hydra.core.global_hydra import GlobalHydra

COMMON = [
    "actor_rollout_ref.model.path=/nonexistent/model",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=1",
]
G2RL = ["algorithm.adv_estimator=g2rl", "actor_rollout_ref.rollout.n=4"]
NLL = ["actor_rollout_ref.actor.policy_loss.positive_nll_coef=0.1", "actor_rollout_ref.actor.clip_ratio_c=10.0"]

CASES = {
    "legacy trainer": (["trainer.use_v1=false"], "trainer.use_v1"),
    "colocate async": (["trainer.v1.trainer_mode=colocate_async"], "trainer.v1.trainer_mode"),
    "separate async GPPO": (
        ["trainer.v1.trainer_mode=separate_async", "actor_rollout_ref.actor.policy_loss.loss_mode=gppo",
         "actor_rollout_ref.actor.clip_ratio_c=10.0"], "trainer.v1.trainer_mode"),
    "g2rl + klear profile": (G2RL + ["+reward.custom_reward_function.reward_kwargs.profile=klear"],
                             "reward.custom_reward_function.reward_kwargs.profile"),
    "g2rl + dapo overlong": (G2RL + ["reward.reward_manager.name=dapo",
                                     "+reward.reward_kwargs.overlong_buffer_cfg.enable=true"],
                             "reward.reward_kwargs.overlong_buffer_cfg.enable"),
    "g2rl + gdpo manager": (G2RL + ["reward.reward_manager.name=gdpo"], "reward.reward_manager.name"),
    "g2rl + reward model": (G2RL + ["reward.reward_model.enable=true"], "reward.reward_model.enable"),
    "nll + distillation": (NLL + ["distillation.enabled=true"], "distillation.enabled"),
    "g2rl + parameter_sync_step": (G2RL + ["+trainer.v1.sync.parameter_sync_step=2"],
                                   "trainer.v1.sync.parameter_sync_step"),
    "g2rl + verl filter_groups": (G2RL + ["algorithm.filter_groups.enable=true"], "algorithm.filter_groups.enable"),
    "g2rl + klear group filter": (G2RL + ["g2rl_verl.group_filter.enable=true", "+data.gen_batch_size=1024"],
                                  "g2rl_verl.group_filter.enable"),
    "both group filters": (["g2rl_verl.group_filter.enable=true", "+data.gen_batch_size=1024",
                            "algorithm.filter_groups.enable=true"], "algorithm.filter_groups.enable"),
}


def dry_run(tmp_path, name, overrides):
    """The real entry point (Hydra's command line, composition, our main) in this process: it is the
    same code path as `python -m g2rl_verl.main`, without paying verl's import once per case."""
    import g2rl_verl.main as entry

    GlobalHydra.instance().clear()
    argv = ["g2rl_verl.main", "g2rl_verl.dry_run=true", *COMMON, *overrides, f"hydra.run.dir={tmp_path / name}"]
    out, err, code = io.StringIO(), io.StringIO(), 0
    with mock.patch.object(sys, "argv", argv), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            entry.main()
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", list(CASES))
def test_dry_run_refuses_the_combination_naming_the_key(tmp_path, name):
    overrides, key = CASES[name]
    code, out, err = dry_run(tmp_path, "case", overrides)
    assert code != 0 and "ConfigError" in err and key in err, err[-2000:]
    assert "config validated" not in out
    assert not ray.is_initialized()


def test_dry_run_accepts_the_supported_baseline(tmp_path):
    code, out, err = dry_run(tmp_path, "ok", G2RL + ["+reward.custom_reward_function.reward_kwargs.profile=g2rl"])
    assert code == 0 and "config validated" in out, err[-2000:]
