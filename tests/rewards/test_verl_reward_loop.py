"""Done-when check: verl 0.9.1's own reward machinery scores a batch through our router on CPU.

Path exercised (all verl code): `load_reward_manager` -> `get_custom_reward_fn` (pkg:// loading,
coroutine detection, reward_kwargs merge) -> `NaiveRewardManager.run_single` (decode with
skip_special_tokens=True, await our async function) -> the reward loop's stacking of
`reward_extra_info` into numpy arrays and `assemble_rm_scores`. Uses a tiny byte-level BPE tokenizer
trained in the test (no downloads).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast
from verl import DataProto
from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
from verl.trainer.ppo.reward import load_reward_manager

SAMPLES = [
    # (data_source, response, gold, expected score, expected acc)
    ("MATH-TTT", "We get \\boxed{\\frac{1}{2}}.", "0.5", 1.0, 1.0),  # g2rl, via math-verify
    ("MATH-TTT", "So \\boxed{41}", "42", -1.0, 0.0),  # g2rl wrong, integer fast path
    ("math_longcot_math_verify", "<think>\nhmm\n</think>\nAnswer: \\boxed{7}", "7", 1.0, 1.0),  # klear
    ("math_longcot_math_verify", "<think>\nstill thinking \\boxed{7}", "7", -0.5, 0.0),  # klear truncated
    ("gpqa_diamond", "Answer: C", "C", 1.0, 1.0),  # multiple choice
]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([s[1] for s in SAMPLES] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")


def build_batch(tokenizer, prompt_len: int = 4, response_len: int = 48) -> DataProto:
    prompts, responses, masks = [], [], []
    for _, response, *_ in SAMPLES:
        ids = tokenizer.encode(response) + [tokenizer.eos_token_id]  # eos is special: stripped on decode
        assert len(ids) <= response_len
        pad = response_len - len(ids)
        prompts.append([tokenizer.pad_token_id] * prompt_len)
        responses.append(ids + [tokenizer.pad_token_id] * pad)
        masks.append([1] * prompt_len + [1] * len(ids) + [0] * pad)
    batch = {
        "prompts": torch.tensor(prompts),  # (B, P)
        "responses": torch.tensor(responses),  # (B, R)
        "attention_mask": torch.tensor(masks),  # (B, P + R)
    }
    non_tensors = {
        "data_source": np.array([s[0] for s in SAMPLES], dtype=object),
        "reward_model": np.array([{"ground_truth": s[2], "style": "rule"} for s in SAMPLES], dtype=object),
        "extra_info": np.array([{"index": i} for i in range(len(SAMPLES))], dtype=object),
    }
    return DataProto.from_dict(tensors=batch, non_tensors=non_tensors)


def verl_config():
    return OmegaConf.create(
        {
            "reward": {
                "reward_manager": {"source": "register", "name": "naive"},
                "custom_reward_function": {
                    "path": "pkg://g2rl_verl.rewards.router",
                    "name": "compute_score_async",
                    "reward_kwargs": {
                        "math_pool_size": 2,
                        "math_parse_timeout_s": 4,
                        "math_verify_timeout_s": 4,
                        "math_deadline_s": 15.0,
                    },
                },
            }
        }
    )


async def test_naive_reward_manager_scores_a_batch_through_the_router(math_pool):
    tokenizer = tiny_tokenizer()
    data = build_batch(tokenizer)
    manager = load_reward_manager(verl_config(), tokenizer)
    assert isinstance(manager, NaiveRewardManager) and manager.is_async_reward_score

    # RewardLoopWorker.compute_score_batch: one run_single per sample, gathered.
    outputs = await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in range(len(data))))
    scores = [o["reward_score"] for o in outputs]
    assert scores == [s[3] for s in SAMPLES]
    infos = [o["reward_extra_info"] for o in outputs]
    assert [i["acc"] for i in infos] == [s[4] for s in SAMPLES]

    # RewardLoopManager.compute_rm_score: key list from the first sample, each key stacked with np.array.
    keys = list(infos[0].keys())
    assert all(list(i.keys()) == keys for i in infos)
    stacked = {k: np.array([i[k] for i in infos]) for k in keys}
    assert stacked["valid"].dtype.kind == "f" and stacked["kind_id"].tolist() == [0, 1, 0, 3, 0]
    assert stacked["pred"].tolist() == ["\\frac{1}{2}", "41", "7", "", "C"]
    rm_scores = NaiveRewardManager.assemble_rm_scores(data, scores)  # (B, R): score at the last valid token
    assert rm_scores.sum(dim=1).tolist() == pytest.approx([s[3] for s in SAMPLES])


def test_validation_metrics_accept_our_extra_info():
    # verl's validation aggregation skips string-valued keys (kind, pred) and uses pred for maj@N.
    from verl.trainer.ppo.metric_utils import process_validation_metrics

    infos = {
        "acc": [1.0, 0.0, 1.0],
        "kind": ["correct", "wrong", "correct"],
        "kind_id": [0, 1, 0],
        "pred": ["7", "8", "7"],
    }
    metrics = process_validation_metrics(["aime24"] * 3, ["u0"] * 3, infos)
    assert "kind" not in metrics["aime24"] and metrics["aime24"]["acc"]["maj@2/mean"] > 0
