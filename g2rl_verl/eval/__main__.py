"""Entry point: `python -m g2rl_verl.eval {generate,score} ...` (see g2rl_verl/eval/cli.py)."""

import sys

from g2rl_verl.eval.cli import main

if __name__ == "__main__":
    sys.exit(main())
