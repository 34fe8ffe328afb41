"""Resumable generation: skip what is present, refuse changed settings, repair a torn final line."""

import json

import pytest

from g2rl_verl.eval.datasets import Problem
from g2rl_verl.eval.generation import Completion, SamplingConfig, plan_generation, run_generation, sample_seed
from g2rl_verl.eval.records import read_generations


class RecordingEngine:
    """Deterministic test engine: the response is a function of the seed; can fail after some calls."""

    def __init__(self, fail_after_calls: int | None = None):
        self.calls = 0
        self.requests = 0
        self.fail_after_calls = fail_after_calls

    def generate(self, requests):
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt("simulated interruption")
        self.calls += 1
        self.requests += len(requests)
        return [
            Completion(f"seed={seed} \\boxed{{{seed % 10}}}", "length" if seed % 3 == 0 else "stop", 5, 7)
            for _, seed in requests
        ]


PROBLEMS = [
    Problem("toy", f"p{i}", "aime24", ({"role": "user", "content": f"q{i}"},), str(i)) for i in range(3)
]


def test_uninterrupted_run_writes_every_sample(tmp_path):
    cfg = SamplingConfig(model="m", n=4, temperature=1.0, top_p=1.0, max_tokens=16, seed=3)
    out = tmp_path / "toy.generations.jsonl"
    assert run_generation(PROBLEMS, cfg, RecordingEngine(), out, batch_size=5) == 12
    recs = read_generations(out)
    assert sorted(r.key for r in recs) == sorted((p.problem_id, i) for p in PROBLEMS for i in range(4))
    for r in recs:
        assert r.seed == sample_seed(3, r.problem_id, r.sample_idx)
        assert r.response.startswith(f"seed={r.seed} ")
        assert r.truncated == (r.finish_reason == "length")
        assert r.config_hash == cfg.config_hash()
    run = json.loads((tmp_path / "toy.run.json").read_text())
    assert run["sampling"]["temperature"] == 1.0 and run["config_hash"] == cfg.config_hash()


def test_resume_after_interruption_matches_uninterrupted(tmp_path):
    cfg = SamplingConfig(model="m", n=4, temperature=1.0, top_p=1.0, max_tokens=16)
    ref = tmp_path / "ref" / "toy.generations.jsonl"
    run_generation(PROBLEMS, cfg, RecordingEngine(), ref, batch_size=5)

    out = tmp_path / "toy.generations.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_generation(PROBLEMS, cfg, RecordingEngine(fail_after_calls=1), out, batch_size=5)
    assert len(read_generations(out)) == 5  # the first batch survived
    engine = RecordingEngine()
    assert run_generation(PROBLEMS, cfg, engine, out, batch_size=5) == 7
    assert engine.requests == 7  # nothing present was regenerated
    got = {r.key: r.response for r in read_generations(out)}
    want = {r.key: r.response for r in read_generations(ref)}
    assert got == want
    # a second resume has nothing to do
    assert run_generation(PROBLEMS, cfg, RecordingEngine(), out) == 0


def test_raising_n_extends_without_regenerating(tmp_path):
    out = tmp_path / "toy.generations.jsonl"
    small = SamplingConfig(model="m", n=2, temperature=1.0, top_p=1.0, max_tokens=16)
    run_generation(PROBLEMS, small, RecordingEngine(), out)
    big = SamplingConfig(model="m", n=5, temperature=1.0, top_p=1.0, max_tokens=16)
    assert small.config_hash() == big.config_hash()
    assert run_generation(PROBLEMS, big, RecordingEngine(), out) == 9


def test_changed_settings_are_refused(tmp_path):
    out = tmp_path / "toy.generations.jsonl"
    run_generation(
        PROBLEMS,
        SamplingConfig(model="m", n=1, temperature=1.0, top_p=1.0, max_tokens=16),
        RecordingEngine(),
        out,
    )
    other = SamplingConfig(model="m", n=1, temperature=0.6, top_p=1.0, max_tokens=16)
    with pytest.raises(ValueError, match="settings hash"):
        plan_generation(PROBLEMS, other, out)


def test_torn_final_line_is_repaired(tmp_path):
    cfg = SamplingConfig(model="m", n=2, temperature=1.0, top_p=1.0, max_tokens=16)
    out = tmp_path / "toy.generations.jsonl"
    run_generation(PROBLEMS, cfg, RecordingEngine(), out)
    text = out.read_text()
    out.write_text(text + text.splitlines()[0][:40])  # a killed writer left half a line
    plan = plan_generation(PROBLEMS, cfg, out)
    assert plan.done == 6 and plan.todo == []
    assert out.read_text() == text


def test_generate_cli_then_score_pipeline(tmp_path, monkeypatch):
    """`generate` (engine replaced by the recording engine: vLLM needs a GPU) then `score`, end to end."""
    from g2rl_verl.eval import generation
    from g2rl_verl.eval.cli import main
    from g2rl_verl.eval.datasets import SIMPLERL_SYSTEM_PROMPT

    seen = {}

    class CliEngine(RecordingEngine):
        def __init__(self, cfg, tensor_parallel_size, gpu_memory_utilization):
            super().__init__()
            seen["cfg"] = cfg

        def generate(self, requests):
            seen.setdefault("messages", requests[0][0])
            return super().generate(requests)

    monkeypatch.setattr(generation, "require_vllm", lambda: None)
    monkeypatch.setattr(generation, "VLLMEngine", CliEngine)
    data = tmp_path / "toy.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "data_source": "aime24",
                    "prompt": [{"role": "user", "content": f"q{i}"}],
                    "reward_model": {"ground_truth": str(i)},
                    "extra_info": {"index": i},
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    args = ["generate", "--benchmark", "toy", "--data", str(data), "--out-dir", str(tmp_path / "out"),
            "--model", "m", "--n", "2", "--temperature", "0.8", "--top-p", "0.95", "--max-tokens", "64",
            "--simplerl-prompt"]  # fmt: skip
    assert main(args) == 0
    assert seen["cfg"].temperature == 0.8 and seen["cfg"].system_prompt == SIMPLERL_SYSTEM_PROMPT
    assert seen["messages"][0] == {"role": "system", "content": SIMPLERL_SYSTEM_PROMPT}
    run = json.loads((tmp_path / "out" / "toy.run.json").read_text())
    assert run["num_problems"] == 3 and len(run["data_sha256"]) == 64
    assert main(args) == 0  # resume: nothing left to do, nothing duplicated
    assert len(read_generations(tmp_path / "out" / "toy.generations.jsonl")) == 6
    # the engine answers \boxed{seed % 10}; score with the real reward code
    assert main(["score", "--in-dir", str(tmp_path / "out"), "--concurrency", "2"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    [bench] = report["benchmarks"]
    assert bench["num_problems"] == 3 and bench["samples_per_problem"] == 2
    assert report["provenance"]["generation_runs"]["toy.generations.jsonl"]["sampling"]["top_p"] == 0.95
