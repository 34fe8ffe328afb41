"""Evaluation harness: resumable vLLM sampling, offline grading with the training reward code, avg@n /
pass@k / maj@k metrics with verl's bootstrap variants alongside, and reports next to the papers' numbers.

Modules: `metrics` (pure estimators), `datasets` (benchmark file parsers and loaders), `records` (per-sample JSONL),
`generation` (sampling loop + vLLM engine), `scoring` (reward code glue), `summary` (per-benchmark metrics),
`report` (markdown / JSON / PNG), `paper_results` (published numbers), `cli`.
"""
