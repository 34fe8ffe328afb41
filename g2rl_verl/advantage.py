"""Our advantage step on a padded batch: verl 0.9.1's v1 ``_compute_advantage`` flow, plus G2RL and the
infrastructure-failure mask. No TransferQueue here; :mod:`g2rl_verl.trainer` fetches and writes back.

Steps, in verl's order (each a function below):
1. KL-in-reward (verl's ``apply_kl_penalty``) or token rewards = scores;
2. rollout correction, only when verl would run it (decoupled mode: not under ``bypass_mode``);
3. rows left out (:func:`excluded_rows`): verl's padding samples always for G2RL, and samples whose
   reward failed for infrastructure reasons under ``infra_failure=mask``;
4. advantages: G2RL (:func:`g2rl_advantages`) or verl's estimator (:func:`verl_advantages`), both with
   verl's multi-output rule: only the final output of each agent-loop run is a group member and its
   advantage is copied to the run's other outputs;
5. groups left with a single member get advantage 0 (no baseline), and excluded rows get advantage 0
   and, under ``infra_failure=mask``, a zero loss mask.

Policy and decisions: docs/methods.md, "Infrastructure failures" and "G2RL: edge cases".
verl internals used: ``ray_trainer.apply_kl_penalty``, ``rollout_corr_helper.
compute_rollout_correction_and_add_to_batch``, ``v1.utils.compute_advantage_for_multi_trajectories``
and its key format ``{uid}_{session}_{index}``, ``DataProto.select_idxs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from verl import DataProto

from g2rl_verl.names import G2RL_ESTIMATOR

INFRA_POLICY_KEY = "reward.custom_reward_function.reward_kwargs.infra_failure"


@dataclass
class AdvantageInputs:
    """Per-row facts besides the padded tensors of ``data``; every array has one entry per row."""

    keys: list[str]  # TransferQueue keys
    is_padding: torch.Tensor  # [B] bool: verl's synthetic padding samples
    valid: torch.Tensor  # [B] bool: reward `valid` (False: infrastructure failure)
    mask_infra_failures: bool  # infra_failure=mask
    phi: torch.Tensor | None = None  # [B, d] G2RL features (G2RL runs only)


def final_output_rows(keys: list[str]) -> tuple[list[int], list[int]]:
    """verl's multi-output rule: (rows that are the last output of their run, the final row of every row).

    Keys are ``{uid}_{session}_{index}``; the run is ``{uid}_{session}`` and its final output has the
    largest index (as in verl's ``compute_advantage_for_multi_trajectories``).
    """
    final: dict[str, tuple[int, int]] = {}
    sessions = []
    for row, key in enumerate(keys):
        uid, session, index = key.rsplit("_", 2)
        run = f"{uid}_{session}"
        sessions.append(run)
        if run not in final or final[run][0] < int(index):
            final[run] = (int(index), row)
    final_rows = [row for _, row in final.values()]
    position = {run: i for i, run in enumerate(final)}
    return final_rows, [final_rows[position[run]] for run in sessions]


def apply_kl_in_reward(data: DataProto, algo: Any, kl_ctrl: Any, metrics: dict) -> DataProto:
    if algo.use_kl_in_reward:
        from verl.trainer.ppo.ray_trainer import apply_kl_penalty

        data, kl_metrics = apply_kl_penalty(data, kl_ctrl=kl_ctrl, kl_penalty=algo.kl_penalty)
        metrics.update(kl_metrics)
    else:
        data.batch["token_level_rewards"] = data.batch["token_level_scores"]
    return data


def apply_rollout_correction(data: DataProto, algo: Any, metrics: dict) -> tuple[DataProto, bool]:
    """verl's condition exactly: a rollout_correction section, rollout log-probs, and not bypass mode."""
    corr = algo.get("rollout_correction", None)
    bypass = bool(corr and corr.get("bypass_mode", False))
    if corr is None or "rollout_log_probs" not in data.batch or bypass:
        return data, False
    from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_and_add_to_batch

    data, is_metrics = compute_rollout_correction_and_add_to_batch(data, corr)
    metrics.update(is_metrics)
    return data, True


def excluded_rows(inputs: AdvantageInputs, g2rl: bool) -> torch.Tensor:
    """[B] bool: rows left out of group statistics (and given advantage 0)."""
    out = inputs.is_padding.clone() if g2rl else torch.zeros_like(inputs.is_padding)
    if inputs.mask_infra_failures:
        out |= ~inputs.valid & ~inputs.is_padding
    return out


def _scatter_final(final_adv: torch.Tensor, row_to_final: list[int], finals: list[int], mask: torch.Tensor):
    """Copy each final row's advantage (its value at the first response token) to its run's rows."""
    first = mask[finals].argmax(dim=1)  # [F]
    value = final_adv[torch.arange(len(finals)), first]  # [F]
    local = {row: i for i, row in enumerate(finals)}
    return value[[local[r] for r in row_to_final]].unsqueeze(1) * mask  # [B', T]


def _zero_lone_groups(adv: torch.Tensor, uids: list, finals: list[int]) -> torch.Tensor:
    """Rows whose group has fewer than two final outputs get advantage 0 (no baseline)."""
    count: dict = {}
    for row in finals:
        count[uids[row]] = count.get(uids[row], 0) + 1
    lone = torch.tensor([count.get(uid, 0) < 2 for uid in uids], dtype=torch.bool)  # [B']
    return adv.masked_fill(lone.to(adv.device).unsqueeze(1), 0.0)


def g2rl_advantages(data: DataProto, inputs: AdvantageInputs, algo: Any) -> tuple[torch.Tensor, dict]:
    """G2RL advantages [B, T] on the rows not excluded, and the ``g2rl/*`` metrics of those rows."""
    from g2rl_verl.g2rl.estimator import compute_g2rl_advantage_with_metrics

    keep = (~excluded_rows(inputs, g2rl=True)).nonzero().squeeze(1).tolist()
    advantages = torch.zeros_like(data.batch["response_mask"], dtype=torch.float32)  # [B, T]
    if not keep:
        return advantages, {}
    sub = data.select_idxs(keep)
    finals, row_to_final = final_output_rows([inputs.keys[i] for i in keep])
    uid = sub.non_tensor_batch["uid"]
    final_adv, _, metrics = compute_g2rl_advantage_with_metrics(
        token_level_rewards=sub.batch["token_level_rewards"][finals],
        response_mask=sub.batch["response_mask"][finals],
        index=uid[finals],
        config=algo,
        g2rl_phi=inputs.phi[keep][finals].float(),
    )
    mask = sub.batch["response_mask"].float()  # [B', T]
    advantages[keep] = _scatter_final(final_adv, row_to_final, finals, mask).to(advantages.dtype)
    return advantages, metrics


def verl_advantages(
    data: DataProto, inputs: AdvantageInputs, algo: Any, num_repeat: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """verl's estimator (and its multi-output rule); excluded rows leave the groups and get 0."""
    from verl.trainer.ppo.v1.utils import compute_advantage_for_multi_trajectories

    def run(part: DataProto, keys: list[str]) -> DataProto:
        return compute_advantage_for_multi_trajectories(
            part, batch_keys=keys, adv_estimator=algo.adv_estimator, gamma=algo.gamma, lam=algo.lam,
            num_repeat=num_repeat, norm_adv_by_std_in_grpo=algo.get("norm_adv_by_std_in_grpo", True), config=algo,
        )

    excluded = excluded_rows(inputs, g2rl=False)
    if not excluded.any():
        full = run(data, inputs.keys)  # verl, untouched
        return full.batch["advantages"], full.batch["returns"]
    keep = (~excluded).nonzero().squeeze(1).tolist()
    advantages = torch.zeros_like(data.batch["response_mask"], dtype=torch.float32)  # [B, T]
    returns = advantages.clone()  # [B, T]
    if not keep:
        return advantages, returns
    keys = [inputs.keys[i] for i in keep]
    sub = run(data.select_idxs(keep), keys)
    adv, ret = sub.batch["advantages"], sub.batch["returns"]
    if num_repeat >= 2:  # a group reduced to one member by the mask has no baseline
        finals = final_output_rows(keys)[0]
        adv = _zero_lone_groups(adv, list(sub.non_tensor_batch["uid"]), finals)
        ret = _zero_lone_groups(ret, list(sub.non_tensor_batch["uid"]), finals)
    advantages[keep] = adv.to(advantages.dtype)
    returns[keep] = ret.to(returns.dtype)
    return advantages, returns


def compute_advantages(
    data: DataProto, inputs: AdvantageInputs, algo: Any, *, kl_ctrl: Any, num_repeat: int, metrics: dict
) -> tuple[DataProto, list[str]]:
    """Steps 1-5 of the module docstring on ``data`` (padded, with ``token_level_scores`` and ``uid``).

    Returns the batch with ``advantages`` / ``returns`` (and a masked ``response_mask``) and the names of
    the fields to write back.
    """
    data = apply_kl_in_reward(data, algo, kl_ctrl, metrics)
    data, corrected = apply_rollout_correction(data, algo, metrics)
    if algo.adv_estimator == G2RL_ESTIMATOR:
        advantages, g2rl_metrics = g2rl_advantages(data, inputs, algo)
        returns = advantages.clone()  # GRPO's returns equal its advantages (verl's estimator)
        metrics.update(g2rl_metrics)
    else:
        advantages, returns = verl_advantages(data, inputs, algo, num_repeat)
    data.batch["advantages"] = advantages
    data.batch["returns"] = returns
    out = ["advantages", "returns"]
    if algo.use_kl_in_reward:
        out.append("token_level_rewards")
    masked = inputs.mask_infra_failures and bool((~inputs.valid & ~inputs.is_padding).any())
    if masked:
        drop = (~inputs.valid).to(data.batch["response_mask"].device).unsqueeze(1)  # [B, 1]
        data.batch["response_mask"] = data.batch["response_mask"].masked_fill(drop, 0)
    if corrected or masked:
        out.append("response_mask")
    if corrected and "rollout_is_weights" in data.batch:
        out.append("rollout_is_weights")
    return data, out
