"""The math pool never imports the caller's `__main__` (issue 12 item 6).

A script without `if __name__ == "__main__":` that scores math answers must run once, and its answers
must be scored. Before the fix the forkserver workers re-imported the script: it re-ran in every worker
(or failed with "An attempt has been made to start a new process before the current process has
finished its bootstrapping phase") and the answers came back as errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_script_without_a_main_guard(tmp_path):
    runs = tmp_path / "runs.txt"
    script = tmp_path / "no_guard.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from g2rl_verl.rewards import compute_score

            with open({str(runs)!r}, "a") as f:  # a side effect of running this file's top level
                f.write("ran\\n")
            kinds = [
                compute_score("MATH-TTT", r"\\boxed{{0.5}}", r"\\frac{{1}}{{2}}", math_pool_size=2)["kind"],
                compute_score("MATH-TTT", r"\\boxed{{\\sqrt{{12}}}}", r"2\\sqrt{{3}}", math_pool_size=2)["kind"],
                compute_score("MATH-TTT", r"\\boxed{{0.4}}", r"\\frac{{1}}{{2}}", math_pool_size=2)["kind"],
            ]
            print("KINDS", kinds)
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, str(script)], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "KINDS ['correct', 'correct', 'wrong']" in proc.stdout, (proc.stdout, proc.stderr[-2000:])
    assert runs.read_text() == "ran\n", "the script's top level ran more than once (a worker imported it)"
    assert "bootstrapping phase" not in proc.stderr
