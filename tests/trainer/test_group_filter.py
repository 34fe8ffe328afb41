"""Issue 11 item 8: Klear's zero-variance group filter (generate N groups, keep the mixed ones up to the
train batch, never top up), on an in-memory TransferQueue: what one step trains on."""

import pytest
import torch

from g2rl_verl.group_filter import GroupFilterConfig, ZeroVarianceGroupFilter, select_mixed_groups
from g2rl_verl.trainer import RewardAwareSyncTrainer

# acc of each group's 4 responses, in generation order
GROUPS = {
    "g0": [1, 1, 1, 1],  # uniform correct
    "g1": [1, 0, 0, 1],  # mixed
    "g2": [0, 0, 0, 0],  # uniform wrong
    "g3": [0, 1, 0, 0],  # mixed
    "g4": [1, 1, 1, 1],  # uniform correct
    "g5": [0, 0, 1, 1],  # mixed
}


def generate(fake_tq, groups=GROUPS, step=1):
    """What verl's agent loop leaves in TransferQueue: prompt tags (finished) and 4 trajectories each."""
    for order, (uid, accs) in enumerate(groups.items()):
        fake_tq.tags.setdefault("train", {})[uid] = {"is_prompt": True, "status": "finished", "global_steps": step}
        for session, acc in enumerate(accs):
            key = f"{uid}_{session}_0"
            fake_tq.tags["train"][key] = {"seq_len": 4, "order": order}
            fake_tq.values.setdefault("train", {})[key] = {
                "response_mask": torch.ones(2, dtype=torch.int64),
                "extra_fields": {"reward_extra_info": {"acc": float(acc)}},
            }


def make_buffer(refills):
    return ZeroVarianceGroupFilter(
        trainer_mode="sync", trainer_config={}, max_off_policy_threshold=None, max_off_policy_strategy="drop",
        sampler_kwargs={}, refill_fn=lambda n: refills.append(n) or n, group_metric="acc",
    )


def test_pure_rule_keeps_mixed_groups_in_order_up_to_the_target():
    values = {uid: [float(a) for a in accs] for uid, accs in GROUPS.items()}
    sel = select_mixed_groups(values, list(GROUPS), target=2)
    assert sel.kept == ["g1", "g3"] and sel.dropped_uniform == ["g0", "g2", "g4"] and sel.dropped_surplus == ["g5"]
    assert select_mixed_groups({"a": [1.0]}, ["a"], 4).dropped_uniform == ["a"]  # one response: no spread


@pytest.mark.parametrize(
    ("target", "generated", "kept", "uniform", "surplus"),
    [(2, 6, 2, 3, 1), (4, 6, 3, 3, 0)],  # 4 wanted, 3 mixed: train on 3, never top up
)
def test_one_step_counts_generated_kept_dropped(fake_tq, target, generated, kept, uniform, surplus):
    generate(fake_tq)
    refills = []
    batch, metrics = make_buffer(refills).sample(global_steps=1, partition_id="train", batch_size=target)
    assert metrics == {
        "training/group_filter/generated": generated,
        "training/group_filter/kept": kept,
        "training/group_filter/dropped_uniform": uniform,
        "training/group_filter/dropped_surplus": surplus,
    }
    assert refills == []  # no top-up generation
    trained_groups = sorted({key.split("_")[0] for key in batch.keys})
    assert trained_groups == ["g1", "g3", "g5"][:kept] and len(batch.keys) == 4 * kept
    left = {key.split("_")[0] for key in fake_tq.values["train"]}
    assert left == set(trained_groups)  # dropped groups were cleared from TransferQueue


def test_a_step_without_any_mixed_group_fails_loudly(fake_tq):
    generate(fake_tq, {"g0": [1, 1], "g1": [0, 0]})
    with pytest.raises(RuntimeError, match="nothing to train on.*data.gen_batch_size"):
        make_buffer([]).sample(global_steps=1, partition_id="train", batch_size=1)


def test_trainer_generates_gen_batch_size_prompts_and_uses_the_filter(compose_config):
    cfg = compose_config(["g2rl_verl.group_filter.enable=true", "data.train_batch_size=128", "+data.gen_batch_size=256"])
    trainer = RewardAwareSyncTrainer.__new__(RewardAwareSyncTrainer)
    trainer.config, trainer.trainer_mode = cfg, "sync"
    submitted = []
    trainer._add_prompts_to_generate = submitted.append
    assert type(trainer._build_replay_buffer()) is ZeroVarianceGroupFilter
    trainer.prepare_step()
    assert submitted == [256]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["g2rl_verl.group_filter.enable=true", "data.train_batch_size=128"], "data.gen_batch_size"),
        (["g2rl_verl.group_filter.enable=yes"], "g2rl_verl.group_filter.enable"),
        (["+g2rl_verl.group_filter.metrc=acc"], "g2rl_verl.group_filter.metrc"),
    ],
)
def test_filter_config_errors_name_the_key(compose_config, overrides, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        GroupFilterConfig.from_config(compose_config(overrides))


def test_an_epoch_counts_generated_batches(compose_config):
    cfg = compose_config(["g2rl_verl.group_filter.enable=true", "data.train_batch_size=128",
                          "+data.gen_batch_size=256", "trainer.total_epochs=2"])
    trainer = RewardAwareSyncTrainer.__new__(RewardAwareSyncTrainer)
    trainer.config, trainer.parameter_sync_step, trainer.train_dataset = cfg, 1, list(range(1024))
    trainer._count_steps_per_generated_batch()
    assert trainer.steps_per_epoch == 4 and trainer.total_training_steps == 8  # 1024 prompts / 256 per step
    assert cfg.actor_rollout_ref.actor.optim.total_training_steps == 8
