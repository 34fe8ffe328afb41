"""verl's FSDP2 engine with our G2RL subclass on CPU: `g2rl_phi` from compute_log_prob's forward pass.

The engine runs in a fresh interpreter (engine_check.py; verl's platform is a process-wide singleton):
single process, gloo, fsdp2, eager attention, fp32, the CPU platform of g2rl_verl.cpu. The reference is
independent of the engine: a per-sequence HF forward of the same weights, with the response rows located
from the sequence lengths, through the pure function (itself checked against autograd in
test_g2rl_features.py). The engine's own log-probs are compared to the same forward first, so the
reference is known to see the engine's logits.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from g2rl_verl.g2rl import estimator as g2rl_estimator

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def engine_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("engine") / "results.pt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "MASTER_"))}
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "engine_check.py"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return torch.load(out, weights_only=False)


@pytest.mark.parametrize("case", ["padded_tied", "packed_untied_dynamic"])
def test_engine_phi_matches_the_pure_function(engine_results, case):
    res = engine_results[case]
    assert res["engine_cls"] == "FSDPEngineWithFeaturesAndPositiveCount"  # register() replaced verl's engine
    for ours, ref in zip(res["log_probs"], res["ref_log_probs"], strict=True):
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)  # same logits as the reference forward
    phi = res["phi"]
    assert phi.dtype == torch.float32 and phi.shape == res["ref_phi"].shape == (6, 24)
    assert torch.isfinite(phi).all()
    # per-sample alignment survives micro-batching, dynamic-batch reordering and the packed tail pad
    torch.testing.assert_close(phi, res["ref_phi"], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("case", ["padded_tied", "packed_untied_dynamic"])
def test_flag_gates_the_feature_pass(engine_results, case):
    res = engine_results[case]
    assert "g2rl_phi" in res["keys"] and "g2rl_phi" not in res["keys_without_flag"]
    for a, b in zip(res["log_probs"], res["log_probs_without_flag"], strict=True):
        assert torch.equal(a, b)  # the feature pass does not disturb verl's own outputs


def test_fused_kernels_are_refused_with_the_reason(engine_results):
    for case in ("padded_tied", "packed_untied_dynamic"):
        message = engine_results[case]["fused_error"]
        assert "use_fused_kernels" in message and "logits" in message


def test_engine_features_change_the_advantages(engine_results):
    # the features from the engine drive the estimator; shaping moves the advantages
    phi = engine_results["padded_tied"]["phi"]
    score01 = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    index = np.array(["a", "a", "a", "b", "b", "b"], dtype=object)
    mask = torch.ones(6, 4)
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"adv_estimator": "g2rl", "g2rl": {"shaping_lambda": 0.5}})
    shaped, _ = g2rl_estimator.compute_g2rl_advantage(
        torch.zeros(6, 4), mask, index, cfg, g2rl_phi=phi, score01=score01
    )
    cfg.g2rl.shaping_lambda = 0.0
    plain, _ = g2rl_estimator.compute_g2rl_advantage(
        torch.zeros(6, 4), mask, index, cfg, g2rl_phi=phi, score01=score01
    )
    assert torch.isfinite(shaped).all() and not torch.allclose(shaped, plain)
