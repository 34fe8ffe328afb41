"""`python -m g2rl_verl.eval generate --backend hf`: the transformers engine on CPU.

Expectations come from transformers' own `generate` (greedy, one prompt at a time, no padding) and from
the model's softmax computed directly, not from the engine's code."""

import collections
import json
import math

import pytest
import torch

from g2rl_verl.eval.generation import SamplingConfig, make_engine
from g2rl_verl.eval.hf_generation import HFEngine

PROMPTS = ("1+2=", "47+38=", "a much longer prompt: 123+456=")


def _msgs(text):
    return ({"role": "user", "content": text},)


def _engine(model_dir, **cfg):
    return HFEngine(
        SamplingConfig(model=str(model_dir), **{"max_tokens": 6, "top_p": 1.0, **cfg}), batch_size=8
    )


def test_greedy_matches_transformers_generate_despite_left_padding(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    engine = _engine(tiny_model_dir, temperature=0.0)
    got = engine.generate([(_msgs(p), 0) for p in PROMPTS])  # one padded batch of three lengths
    for prompt, completion in zip(PROMPTS, got):
        ids = tok.apply_chat_template(
            list(_msgs(prompt)), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        out = model.generate(
            **ids,
            max_new_tokens=6,
            do_sample=False,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        new = out[0, ids["input_ids"].shape[1] :].tolist()
        if tok.eos_token_id in new:
            new = new[: new.index(tok.eos_token_id)]
        assert completion.text == tok.decode(new, skip_special_tokens=True)
        assert completion.prompt_tokens == ids["input_ids"].shape[1]


def test_a_sample_depends_on_its_seed_not_on_its_batch(tiny_model_dir):
    engine = _engine(tiny_model_dir, temperature=1.0)
    batched = engine.generate([(_msgs(p), 100 + i) for i, p in enumerate(PROMPTS)])
    alone = [engine.generate([(_msgs(p), 100 + i)])[0] for i, p in enumerate(PROMPTS)]
    assert [c.text for c in batched] == [c.text for c in alone]
    reordered = engine.generate([(_msgs(p), 100 + i) for i, p in reversed(list(enumerate(PROMPTS)))])
    assert [c.text for c in reversed(reordered)] == [c.text for c in batched]
    many = {c.text for c in engine.generate([(_msgs(PROMPTS[0]), s) for s in range(16)])}
    assert len(many) > 1  # different seeds give different samples


def test_first_token_frequencies_follow_the_model_softmax(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    ids = tok.apply_chat_template(
        list(_msgs("7+8=")), add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        probs = torch.softmax(model(**ids).logits[0, -1].double() / 0.5, -1)  # temperature 0.5
    engine = _engine(tiny_model_dir, temperature=0.5, max_tokens=1)
    n = 1500
    texts = [c.text for c in engine.generate([(_msgs("7+8="), s) for s in range(n)])]
    counts = collections.Counter(texts)
    # special tokens all decode to "" (skip_special_tokens), so compare the most likely ordinary ones
    ordinary = [i for i in torch.argsort(probs, descending=True).tolist() if i not in tok.all_special_ids]
    for token_id in ordinary[:3]:
        p = float(probs[token_id])
        observed = counts[tok.decode([token_id], skip_special_tokens=True)] / n
        assert abs(observed - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-3, (token_id, observed, p)


def test_top_k_one_is_greedy_and_budget_sets_finish_reason(tiny_model_dir):
    greedy = _engine(tiny_model_dir, temperature=0.0).generate([(_msgs(p), 0) for p in PROMPTS])
    top1 = _engine(tiny_model_dir, temperature=1.0, top_k=1).generate([(_msgs(p), 7) for p in PROMPTS])
    assert [c.text for c in top1] == [c.text for c in greedy]
    for c in greedy:
        assert (c.finish_reason, c.completion_tokens) in {("length", 6)} or c.finish_reason == "stop"


def test_vllm_only_options_and_bad_paths_are_refused(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="max-model-len"):
        HFEngine(SamplingConfig(model=str(tiny_model_dir), max_model_len=64))
    with pytest.raises(FileNotFoundError, match="local model directory"):
        HFEngine(SamplingConfig(model=str(tmp_path / "missing")))
    with pytest.raises(ValueError, match="unknown generation backend"):
        make_engine("tpu", SamplingConfig(model=str(tiny_model_dir)))


def test_cli_generate_then_score_on_cpu(tiny_model_dir, tmp_path):
    """The full CLI path: RL-format parquet -> generations -> report (a random model scores ~0)."""
    import pandas as pd

    from g2rl_verl.eval.cli import main

    data = tmp_path / "held.parquet"
    rows = [
        {"data_source": "math", "prompt": [{"role": "user", "content": f"{a}+1="}], "ability": "math",
         "reward_model": {"style": "rule", "ground_truth": str(a + 1)}, "extra_info": {"index": a}}
        for a in range(5)
    ]  # fmt: skip
    pd.DataFrame(rows).to_parquet(data)
    out = tmp_path / "eval"
    argv = ["generate", "--backend", "hf", "--benchmark", "held", "--data", str(data), "--format", "rl",
            "--out-dir", str(out), "--model", str(tiny_model_dir), "--n", "2", "--temperature", "1.0",
            "--top-p", "1.0", "--max-tokens", "4"]  # fmt: skip
    assert main(argv) == 0
    lines = [json.loads(x) for x in (out / "held.generations.jsonl").read_text().splitlines()]
    assert len(lines) == 10 and {x["sample_idx"] for x in lines} == {0, 1}
    assert main(argv) == 0  # resuming a complete file generates nothing new
    assert len((out / "held.generations.jsonl").read_text().splitlines()) == 10
    assert main(["score", "--in-dir", str(out), "--reward-kwarg", "think_mode=none"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["benchmarks"][0]["num_problems"] == 5
    assert (out / "report.md").exists() and (out / "pass_at_k.png").exists()
