"""G2RL (arXiv 2512.15687): gradient-guided reward shaping inside GRPO, for verl 0.9.1.

Mirrors :mod:`g2rl_verl.gppo`; one concept per module:

- `config`: :class:`~g2rl_verl.g2rl.config.G2RLConfig`, the validated ``algorithm.g2rl.*`` keys.
- `validation`: the startup rules of ``adv_estimator=g2rl`` (and the one home of the fused-kernel,
  FSDP2 and bypass-mode rules that the engine re-checks at run time).
- `features`: pure maths of the per-response feature Phi.
- `shaping`: pure maths of the shaped rewards and their diagnostics.
- `estimator`: verl glue: the ``g2rl`` advantage estimator (shaping, then verl's GRPO).
- `engine`: verl glue: the FSDP engine that returns Phi from the old-log-prob pass.

Method, equations and decisions: docs/methods.md. verl internals used: docs/verl-integration.md.
"""
