"""Runs verl's FSDP2 engine (our G2RL subclass) on CPU in a fresh process; used by test_g2rl_engine.py.

A fresh interpreter because verl's platform is a process-wide singleton chosen from VERL_PLATFORM at first
use, and the engine needs its own single-rank gloo process group.

Usage: python engine_check.py OUT.pt   (writes engine outputs and independent references, see main())
"""

import os
import sys
import tempfile

os.environ["VERL_PLATFORM"] = "cpu"
os.environ["VERL_ENGINE_DEVICE"] = "cuda"  # the FSDP engine is registered for cuda/npu only

import torch
from tensordict import TensorDict

from g2rl_verl.cpu import platform as cpu_platform

cpu_platform.register()

from verl.trainer.config import CheckpointConfig
from verl.utils import tensordict_utils as tu
from verl.workers.config import FSDPEngineConfig, FSDPOptimizerConfig, HFModelConfig
from verl.workers.engine.base import EngineRegistry

from g2rl_verl.g2rl import engine as g2rl_engine
from g2rl_verl.g2rl import features as g2rl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import VOCAB, tiny_causal_lm

TEMPERATURE = 0.7
LENGTHS = [7, 12, 5, 9, 10, 6]  # prompt + response
RESPONSE = [3, 6, 2, 5, 4, 3]


def make_batch():
    gen = torch.Generator().manual_seed(11)
    ids = [torch.randint(0, VOCAB, (n,), generator=gen) for n in LENGTHS]
    masks = [torch.ones(r) for r in RESPONSE]
    masks[1][2] = 0.0  # a masked response token (e.g. a tool observation)
    nested = lambda ts: torch.nested.as_nested_tensor(ts, layout=torch.jagged)
    data = TensorDict(
        {
            "input_ids": nested(ids),
            "position_ids": nested([torch.arange(n) for n in LENGTHS]),
            "response_mask": nested(masks),
            "loss_mask": nested(masks),
        },
        batch_size=[len(LENGTHS)],
    )
    return data, ids, masks


def reference(model, ids, masks):
    """Independent Phi and log-probs: per-sequence HF forward of the same weights, masks from the lengths."""
    with torch.no_grad():
        per_seq = [model(input_ids=t.unsqueeze(0)).logits[0] for t in ids]  # [n, V] each
    phis, logps = [], []
    weight = model.get_output_embeddings().weight.detach()
    for t, m, z in zip(ids, masks, per_seq, strict=True):
        n, r = len(t), len(m)
        z_resp = z[n - r - 1 : n - 1]  # rows that predict the response tokens
        labels = t[n - r :]
        phis.append(
            g2rl.sequence_features(
                z_resp.unsqueeze(0), weight, labels.unsqueeze(0), m.unsqueeze(0), temperature=TEMPERATURE
            )[0]
        )
        logps.append(torch.log_softmax(z[:-1] / TEMPERATURE, -1).gather(-1, t[1:].unsqueeze(-1)).squeeze(-1))
    return torch.stack(phis), logps


def build_engine(tied: bool, remove_padding: bool, context_free: bool, work_dir: str):
    model = tiny_causal_lm(tied=tied, context_free=context_free)
    path = tempfile.mkdtemp(prefix="model_", dir=work_dir)
    model.save_pretrained(path)
    model_cfg = HFModelConfig(
        path=path,
        load_tokenizer=False,
        use_remove_padding=remove_padding,
        enable_gradient_checkpointing=False,
        override_config={"attn_implementation": "eager"},
    )
    engine_cfg = FSDPEngineConfig(
        strategy="fsdp2",
        use_torch_compile=False,
        model_dtype="fp32",
        mixed_precision={"param_dtype": "fp32", "reduce_dtype": "fp32", "buffer_dtype": "fp32"},
        pad_to_length=remove_padding,
        pad_to_length_bucket=16,  # a static tail pad in the packed layout
    )
    engine_cls = EngineRegistry.get_engine_cls("language_model", "fsdp2")  # our class after register()
    engine = engine_cls(model_cfg, engine_cfg, FSDPOptimizerConfig(lr=1e-3), CheckpointConfig())
    engine.initialize()
    return engine, model


def infer(engine, remove_padding: bool, dynamic_bsz: bool, flag: bool, chunk: int = 3, fused: bool = False):
    data, _, _ = make_batch()
    tu.assign_non_tensor(
        data,
        use_remove_padding=remove_padding,
        use_dynamic_bsz=dynamic_bsz,
        max_token_len_per_gpu=20,
        micro_batch_size_per_gpu=2,
        use_fused_kernels=fused,
        temperature=TEMPERATURE,
        calculate_entropy=True,
    )
    if flag:
        tu.assign_non_tensor(data, g2rl_compute_phi=True, g2rl_feature_chunk_tokens=chunk)
    with engine.eval_mode():
        return engine.infer_batch(data)["model_output"]


def scenario(
    tied: bool, remove_padding: bool, dynamic_bsz: bool, context_free: bool, chunk: int, work_dir: str
):
    engine, model = build_engine(tied, remove_padding, context_free, work_dir)
    _, ids, masks = make_batch()
    ref_phi, ref_logp = reference(model, ids, masks)
    with_flag = infer(engine, remove_padding, dynamic_bsz, flag=True, chunk=chunk)
    without_flag = infer(engine, remove_padding, dynamic_bsz, flag=False)
    result = {
        "engine_cls": type(engine).__name__,
        "keys": sorted(with_flag.keys()),
        "keys_without_flag": sorted(without_flag.keys()),
        "phi": g2rl.dense_features(with_flag["g2rl_phi"]),
        "ref_phi": ref_phi,
        "log_probs": [t[:-1].clone() for t in with_flag["log_probs"].unbind()],  # last row wraps around
        "log_probs_without_flag": [t[:-1].clone() for t in without_flag["log_probs"].unbind()],
        "ref_log_probs": ref_logp,
    }
    try:
        infer(engine, remove_padding, dynamic_bsz, flag=True, fused=True)
        result["fused_error"] = "not refused"
    except g2rl_engine.G2RLFeatureError as err:
        result["fused_error"] = str(err)
    return result


def main(out_path):
    with tempfile.TemporaryDirectory(prefix="g2rl_engine_check_") as work_dir:
        _run_all(out_path, work_dir)


def _run_all(out_path, work_dir):
    g2rl_engine.register()
    g2rl_engine.register()  # idempotent
    results = {}
    with cpu_platform.single_process_gloo_world():
        # padded layout, tied head (Qwen3-like), fixed micro-batches of 2
        results["padded_tied"] = scenario(
            tied=True, remove_padding=False, dynamic_bsz=False, context_free=False, chunk=3, work_dir=work_dir
        )
        # packed layout with a static tail pad, untied head, dynamic batching (reordered micro-batches)
        results["packed_untied_dynamic"] = scenario(
            tied=False, remove_padding=True, dynamic_bsz=True, context_free=True, chunk=4, work_dir=work_dir
        )
    torch.save(results, out_path)


if __name__ == "__main__":
    main(sys.argv[1])
