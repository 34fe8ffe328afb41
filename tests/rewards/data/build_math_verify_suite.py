"""Rebuild math_verify_suite.json from a checkout of huggingface/Math-Verify (Apache-2.0).

Reads the (gold, prediction, expected) tuples of its pytest parametrize tables as DATA (`ast.literal_eval`
of the decorator arguments; none of its code is copied or run) and records, for each case, the answer
strings math-verify 0.9.0 itself extracts from the gold and the prediction under the configuration that
test uses. Our suite test boxes the extracted prediction and scores it against the extracted gold.

    python tests/rewards/data/build_math_verify_suite.py /path/to/Math-Verify [commit] > tests/rewards/data/math_verify_suite.json
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

FILES = (
    "test_all.py",
    "test_boxed.py",
    "test_numina_cases.py",
    "test_open_thoughts.py",
    "test_strict.py",
    "test_yujianll.py",
)


def _options(call_src: str) -> dict:
    """match_types / precision / strict / allow_set_relation_comp named in the test's assert line."""
    opts = {
        "match_types": ["latex", "expr"],
        "precision": 6,
        "strict": True,
        "allow_set_relation_comp": False,
    }
    if "match_types=['expr']" in call_src:
        opts["match_types"] = ["expr"]
    elif "match_types=['latex']" in call_src:
        opts["match_types"] = ["latex"]
    for key in ("precision", "strict", "allow_set_relation_comp"):
        if f"{key}=5" in call_src:
            opts[key] = 5
        elif f"{key}={key}" in call_src:
            opts[key] = "per-case"
    if "verify(parse(gold), parse(pred))" in call_src:
        opts["match_types"] = "math-verify defaults"
    return opts


def cases(repo: Path):
    for name in FILES:
        tree = ast.parse((repo / "tests" / name).read_text())
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if not (isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize"):
                    continue
                fields = [f.strip() for f in ast.literal_eval(deco.args[0]).split(",")]
                try:
                    rows = ast.literal_eval(deco.args[1])
                except ValueError:
                    continue  # computed tables (test_float_precision) are not data
                opts = _options(ast.unparse(node.body[-1]))
                for row in rows:
                    rec = dict(zip(fields, row))
                    case_opts = dict(opts)
                    for key in ("strict", "allow_set_relation_comp", "precision"):
                        if key in rec:
                            case_opts[key] = rec[key]
                    yield {
                        "source": f"tests/{name}::{node.name}",
                        "gold": rec["gold"],
                        "pred": rec["pred"],
                        "expected": int(rec.get("expected", rec.get("result"))),
                        "options": case_opts,
                    }


def extracted(text: str, match_types) -> str | None:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    if match_types == "math-verify defaults":
        parsed = parse(text)
    else:
        config = [
            LatexExtractionConfig(boxed_match_priority=0) if m == "latex" else ExprExtractionConfig()
            for m in match_types
        ]
        parsed = parse(text, config)
    return parsed[1] if len(parsed) >= 2 and isinstance(parsed[1], str) else None


def main() -> None:
    repo = Path(sys.argv[1])
    commit = (
        sys.argv[2]
        if len(sys.argv) > 2
        else subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], check=False, capture_output=True, text=True
        ).stdout.strip()
    )
    out = []
    for case in cases(repo):
        case["gold_answer"] = extracted(case["gold"], case["options"]["match_types"])
        case["pred_answer"] = extracted(case["pred"], case["options"]["match_types"])
        out.append(case)
    header = {
        "source": f"https://github.com/huggingface/Math-Verify tests/ at commit {commit or 'unknown'}",
        "license": "Apache-2.0 (Math-Verify's pyproject and LICENCE file; its test files also carry an MIT notice)",
        "how": "gold/pred/expected taken as data from the parametrize tables; gold_answer/pred_answer are "
        "math-verify 0.9.0's own parse(...)[1] under the test's extraction config",
        "cases": out,
    }
    json.dump(header, sys.stdout, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
