"""The cluster smoke run's inputs: a tiny random model (g2rl_verl.cpu.tiny_model) and toy addition problems.

    python tests/cluster/smoke_assets.py <dir>     # writes <dir>/model, <dir>/train.parquet, <dir>/val.parquet

Used by tests/cluster/test_ray_multinode.py and recipes/cluster/test_slurm_local.sh; the directory must
be readable from every node (on one machine: any local directory). The problems use data_source
"MATH-TTT", which the reward router sends to our math verifier.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

MATH_DATA_SOURCE = "MATH-TTT"


def addition_rows(n: int, split: str, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        rows.append(
            {
                "data_source": MATH_DATA_SOURCE,
                "prompt": [{"role": "user", "content": f"{a}+{b}="}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": str(a + b)},
                "extra_info": {"split": split, "index": index},
            }
        )
    return rows


def build_smoke_assets(out_dir: Path) -> Path:
    import pandas as pd

    from g2rl_verl.cpu.tiny_model import build_tiny_model

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    build_tiny_model(out_dir / "model")
    pd.DataFrame(addition_rows(16, "train", seed=0)).to_parquet(out_dir / "train.parquet")
    pd.DataFrame(addition_rows(4, "test", seed=1)).to_parquet(out_dir / "val.parquet")
    return out_dir


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/cluster/smoke_assets.py <output dir>")
    print(build_smoke_assets(Path(sys.argv[1])))
