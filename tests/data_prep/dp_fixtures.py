"""Rows shaped exactly like each real source (field names and nesting as in the dataset cards), and
small file writers. Imported by the data_prep tests (conftest puts this folder on sys.path)."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # shared/ sits beside the repo
SHARED_DATA = _SHARED if _SHARED.exists() else Path("/work/shared/data")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def write_jsonl(path: Path, rows: list) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def lcb_compress(obj) -> str:
    """LiveCodeBench's private-test encoding: JSON string -> pickle -> zlib -> base64."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(obj)))).decode()


R1 = "<think>\nLet me work it out step by step.\n</think>\n\nThe answer is \\boxed{4}."

# ---- one row per real source layout (field names and nesting as in each dataset card) ----------


def openthoughts_114k_row(q="What is 2+2?"):
    return {
        "system": "Your role as an assistant involves thoroughly exploring questions ...",
        "conversations": [
            {"from": "user", "value": q},
            {
                "from": "assistant",
                "value": "<|begin_of_thought|>\n\nAdd two and two.\n\n<|end_of_thought|>\n\n"
                "<|begin_of_solution|>\n\n\\boxed{4}\n\n<|end_of_solution|>",
            },
        ],
    }


def openthoughts3_row(q="Compute 3+5."):
    return {
        "difficulty": 6,
        "source": "ai2-adapt-dev/openmath-2-math",
        "domain": "math",
        "conversations": [
            {"from": "human", "value": q},
            {"from": "gpt", "value": "<think>\nThree plus five.\n</think>\n\n\\boxed{8}"},
        ],
    }


def openr1_row(q="Find x if 2x = 8.", gens=None, complete=None):
    gens = gens or [R1, "<think>\nHalve 8.\n</think>\n\nx = \\boxed{4}"]
    return {
        "problem": q,
        "solution": "x = 4",
        "answer": "4",
        "problem_type": "Algebra",
        "question_type": "math-word-problem",
        "source": "olympiads",
        "uuid": "u-1",
        "is_reasoning_complete": complete or [True] * len(gens),
        "generations": gens,
        "correctness_math_verify": [True] * len(gens),
        "correctness_llama": None,
        "finish_reasons": None,
        "correctness_count": len(gens),
        "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": gens[0]}],
    }


def numinamath_cot_row(q="What is 6*7?"):
    return {
        "source": "synthetic_math",
        "problem": q,
        "solution": "Six sevens are 42, so \\boxed{42}.",
        "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "\\boxed{42}"}],
    }


def acereason_row(q="Sum 1..10.", category="math"):
    return {
        "category": category,
        "source": "numina",
        "input": q,
        "output": "<think>\nGauss: 10*11/2.\n</think>\n\n\\boxed{55}",
    }


def ocr_row(i="abc1", q="Read n and print n squared."):
    return {
        "id": i,
        "input": q,
        "output": "<think>\nSquare it.\n</think>\n\n```python\nn=int(input());print(n*n)\n```",
        "source": "codeforces",
        "license": "cc-by-4.0",
        "dataset": "code_contests",
        "split": "train",
        "difficulty": "7",
        "solution": "n=int(input());print(n*n)",
    }


def klear_math_row(q="What is the units digit of 13^2003?", gt="7", idx=0):
    return {
        "data_source": "math_longcot_math_verify",
        "prompt": [{"content": q, "role": "user"}],
        "ability": "math",
        "reward_model": {"ground_truth": gt, "style": "rule"},
        "__index_level_0__": idx,
    }


def skywork_row(q="Compute 1+1.", gt='["2"]', idx=3):
    return {
        "data_source": "train-math-deepscaler",
        "prompt": [{"content": q, "role": "user"}],
        "ability": "math",
        "reward_model": {"ground_truth": gt, "style": "rule"},
        "extra_info": {
            "index": idx,
            "model_difficulty": {
                "DeepSeek-R1-Distill-Qwen-1.5B": 8,
                "DeepSeek-R1-Distill-Qwen-32B": 16,
                "DeepSeek-R1-Distill-Qwen-7B": 12,
            },
        },
    }


def math_train_row(q="Find the center of the circle $x^2+y^2=1$.", gt="(0, 0)", idx=0):
    return {
        "prompt": [
            {
                "content": "Please reason step by step, and put your final answer within \\boxed{}.",
                "role": "system",
            },
            {"content": q, "role": "user"},
        ],
        "data_source": "MATH-TTT",
        "level": "Level 3",
        "type": "Algebra",
        "reward_model": {"ground_truth": gt},
        "extra_info": {"index": f"MATH-TTT-{idx}", "split": "train"},
    }


def deepscaler_row(q="Let $a=3$. Find $a^2$.", answer="9"):
    return {"problem": q, "answer": answer, "solution": "Square 3."}


def numinamath15_row(q="Find the sum of roots of x^2-5x+6.", answer="5", qtype="math-word-problem"):
    return {
        "problem": q,
        "solution": "By Vieta, 5.",
        "answer": answer,
        "problem_type": "Algebra",
        "question_type": qtype,
        "problem_is_valid": "Yes",
        "solution_is_valid": "Yes",
        "source": "olympiads",
        "synthetic": False,
    }


CODE_PREAMBLE = (
    "You are an expert Python programmer. You will be given a question (problem specification) and "
    "will generate a correct Python program that matches the specification and passes all tests."
)


def klear_code_row(h="h1", gt=None, statement="Print the sum of the numbers."):
    gt = gt or json.dumps({"inputs": [f"{i}\n" for i in range(20)], "outputs": [f"{i}\n" for i in range(20)]})
    return {
        "hash": h,
        "ability": "code",
        "data_source": "coder1_longcot",
        "prompt": [{"content": f"{CODE_PREAMBLE}\n\n{statement}", "role": "user"}],
        "reward_model": {"ground_truth": gt, "style": "rule"},
    }


def taco_row(q="Return the sum of a and b.", n=20, fn_name="add"):
    io = {
        "inputs": [[i, i + 1] for i in range(n)],
        "outputs": [[2 * i + 1] for i in range(n)],
        "fn_name": fn_name,
    }
    return {
        "question": q,
        "solutions": json.dumps(["def add(a,b): return a+b"]),
        "starter_code": "def add(a, b):\n",
        "input_output": json.dumps(io),
        "difficulty": "EASY",
        "raw_tags": "['Math']",
        "name": None,
        "source": "codewars",
        "tags": "['Mathematics']",
        "skill_types": "[]",
        "url": "u",
        "Expected Auxiliary Space": None,
        "time_limit": None,
        "date": None,
        "picture_num": None,
        "memory_limit": None,
        "Expected Time Complexity": None,
    }


def apps_row(pid=7, q="Read n, print 2n.", n=20):
    io = {"inputs": [f"{i}\n" for i in range(n)], "outputs": [f"{2 * i}\n" for i in range(n)]}
    return {
        "problem_id": pid,
        "question": q,
        "solutions": "[]",
        "input_output": json.dumps(io),
        "difficulty": "interview",
        "url": "u",
        "starter_code": "",
    }


def codecontests_row(name="1A. Theatre", n_private=18):
    return {
        "name": name,
        "description": "Cover the square with flagstones.",
        "public_tests": {"input": ["6 6 4\n"], "output": ["4\n"]},
        "private_tests": {
            "input": [f"{i} 1 1\n" for i in range(n_private)],
            "output": [f"{i}\n" for i in range(n_private)],
        },
        "generated_tests": {"input": ["1 1 1\n"], "output": ["1\n"]},
        "source": 2,
        "difficulty": 7,
        "solutions": {"language": [3], "solution": ["print(4)"]},
        "incorrect_solutions": {"language": [], "solution": []},
        "cf_contest_id": 1,
        "cf_index": "A",
        "cf_points": 0.0,
        "cf_rating": 1000,
        "cf_tags": ["math"],
        "is_description_translated": False,
        "untranslated_description": "",
        "time_limit": {"seconds": 1, "nanos": 0},
        "memory_limit_bytes": 256000000,
        "input_file": "",
        "output_file": "",
    }


def lcb_row(
    qid="abc300_a",
    date="2024-09-01T00:00:00",
    functional=False,
    n_private=17,
    compressed=True,
    content="Given N integers, print their sum.",
):
    if functional:
        public = [{"input": "[2,7,11,15]\n9", "output": "[0, 1]", "testtype": "functional"}]
        private = [
            {"input": f"[{i},1]\n{i + 1}", "output": "[0, 1]", "testtype": "functional"}
            for i in range(n_private)
        ]
        meta, starter = (
            json.dumps({"func_name": "twoSum"}),
            "class Solution:\n    def twoSum(self, nums, target):\n",
        )
    else:
        public = [{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"}]
        private = [{"input": f"1\n{i}\n", "output": f"{i}\n", "testtype": "stdin"} for i in range(n_private)]
        meta, starter = "{}", ""
    return {
        "question_title": "Sum",
        "question_content": content,
        "platform": "atcoder",
        "question_id": qid,
        "contest_id": "abc300",
        "contest_date": date,
        "starter_code": starter,
        "difficulty": "easy",
        "public_test_cases": json.dumps(public),
        "private_test_cases": lcb_compress(private) if compressed else json.dumps(private),
        "metadata": meta,
    }


def gpqa_row(rid="rec1"):
    return {
        "Pre-Revision Question": "x",
        "Question": "Which particle mediates the electromagnetic force?",
        "Correct Answer": "Photon",
        "Incorrect Answer 1": "Gluon",
        "Incorrect Answer 2": "W boson",
        "Incorrect Answer 3": "Graviton",
        "Record ID": rid,
        "High-level domain": "Physics",
        "Subdomain": "HEP",
    }


def mmlu_pro_row(qid=70):
    return {
        "question_id": qid,
        "question": "What is 2+3?",
        "options": ["4", "5", "6", "7"],
        "answer": "B",
        "answer_index": 1,
        "cot_content": "",
        "category": "math",
        "src": "ori_mmlu-elementary_mathematics",
    }
