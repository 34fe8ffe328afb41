"""Shared fixtures for data_prep tests: a tiny offline tokenizer, loaders that read our output with
verl's own dataset classes, and a build runner. Source-shaped rows live in dp_fixtures.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# test folders are not packages (pytest --import-mode=importlib): make dp_fixtures importable
sys.path.insert(0, str(Path(__file__).parent))

from dp_fixtures import CHAT_TEMPLATE

# ---- tokenizer and verl loaders ------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    """A character-level tokenizer with a ChatML-like template, built offline."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["[UNK]", "[PAD]", "<|im_start|>", "<|im_end|>"]
    chars = [chr(i) for i in range(32, 127)] + ["\n", "\t"]
    vocab = {tok: i for i, tok in enumerate(specials + chars)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()  # characters join back without spaces
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    fast.chat_template = CHAT_TEMPLATE
    out = tmp_path_factory.mktemp("tok")
    fast.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_tokenizer_dir, local_files_only=True)


@pytest.fixture
def load_rl(tiny_tokenizer, tmp_path, monkeypatch):
    """Read an RL parquet with verl's RLHFDataset; returns the dataset."""
    import datasets
    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")

    def load(path: Path) -> RLHFDataset:
        cfg = OmegaConf.create(
            {
                "max_prompt_length": 100_000,
                "filter_overlong_prompts": False,
                "cache_dir": str(tmp_path / "verl_cache"),
                "truncation": "error",
            }
        )
        return RLHFDataset(str(path), tiny_tokenizer, cfg)

    return load


@pytest.fixture
def load_sft(tiny_tokenizer):
    from omegaconf import OmegaConf
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    def load(path: Path) -> MultiTurnSFTDataset:
        cfg = OmegaConf.create(
            {
                "max_length": 100_000,
                "truncation": "error",
                "pad_mode": "no_padding",
                "messages_key": "messages",
            }
        )
        return MultiTurnSFTDataset(str(path), tiny_tokenizer, cfg)

    return load


@pytest.fixture
def run_build(tmp_path):
    """Build with the Python API (no progress bars, one worker); returns (report, output path)."""
    from data_prep.pipeline import BuildConfig, build

    def run(builder: str, inputs: list, out_name: str = "out.parquet", **kw):
        out = tmp_path / out_name
        cfg = BuildConfig(
            builder=builder,
            inputs=[str(p) for p in inputs],
            output=out,
            progress=False,
            workers=kw.pop("workers", 1),
            **kw,
        )
        return build(cfg), out

    return run
