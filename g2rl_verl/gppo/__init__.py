"""GPPO / CE-GPPO policy losses (Klear-Reasoner, arXiv 2508.07629; CE-GPPO, arXiv 2509.20712).

- `token_loss`: the pure per-token maths (plain torch, no verl types).
- `config`: `GPPOPolicyLossConfig`, the validated home of beta_low / beta_high / positive_nll_coef.
- `policy_loss`: the verl glue: the three losses in verl's `POLICY_LOSS_REGISTRY`.
- `positive_nll`: Klear's positive-sample NLL term, as a whole-loss wrapper installed with `set_loss_fn`.
"""
