"""Dataset builders for verl 0.9.1: long-CoT SFT, math/code RL and evaluation parquet files.

Entry point: ``python -m data_prep <builder> --input PATH ... --output OUT.parquet`` (see cli.py).
Layout: readers (streaming input), sources/ (one module per builder: shape recognition and row
conversion), code_tests (Klear-layout test specs), gold (math-verify gold checks), decontam and
filters (the composable filter steps), schemas, writer (atomic parquet), report, pipeline.
"""
