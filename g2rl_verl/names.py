"""The one home of every name g2rl_verl shares across modules: registry names, config targets and
the per-sample field / flag keys that travel between our trainer, verl's TransferQueue and our engine.

Plain constants, no imports: any module (pure maths included) may import this.
"""

# -- names we register in verl's registries -----------------------------------------------------
G2RL_ESTIMATOR = "g2rl"  # ADV_ESTIMATOR_REGISTRY / algorithm.adv_estimator
GENERAL_BETA_LOSS = "ce_gppo"  # the only loss that reads gppo_beta1 / gppo_beta2
GPPO_LOSS_NAMES = ("gppo", "gppo_only_high", GENERAL_BETA_LOSS)  # POLICY_LOSS_REGISTRY / policy_loss.loss_mode

# -- config values the entry point's YAML sets and startup validation insists on ----------------
GPPO_CONFIG_TARGET = "g2rl_verl.gppo.config.GPPOPolicyLossConfig"  # policy_loss._target_
REWARD_ROUTER_PATH = "pkg://g2rl_verl.rewards.router"  # reward.custom_reward_function.path

# -- G2RL feature pass: trainer -> engine (batch.extra_info) and engine -> trainer (output field) --
PHI_FLAG = "g2rl_compute_phi"  # non-tensor flag: also return the features from this forward pass
CHUNK_KEY = "g2rl_feature_chunk_tokens"  # non-tensor: softmax chunk size of the feature pass
PHI_FIELD = "g2rl_phi"  # per-sample [d] feature, stored in TransferQueue

# -- GPPO positive-sample NLL: trainer -> actor update ------------------------------------------
POSITIVE_FIELD = "gppo_positive"  # per-sample 0/1: the response is fully correct (reward `acc`)
NUM_POSITIVE_TOKENS_KEY = "gppo_num_positive_tokens"  # non-tensor: positive tokens of the mini-batch

# -- per-sample reward results our reward router returns (reward_extra_info) ---------------------
REWARD_INFO_KEYS = ("acc", "score01", "valid")
