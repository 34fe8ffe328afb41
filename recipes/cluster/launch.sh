# shellcheck shell=bash
# Shared launcher, sourced by every recipe script (written once; recipes only build the command).
#
#   g2rl_launch python -m <entry> --config-dir <dir> +recipe=<name> [overrides...]
#
# Behaviour, chosen by environment variables:
#   DRY_RUN=1            print the composed Hydra config (`--cfg job`) and exit; starts nothing.
#   LAUNCHER=local       (default) run the command here; Ray starts locally or joins RAY_ADDRESS
#                        (this is also what the Slurm template runs on the head node).
#   LAUNCHER=ray         `ray job submit` to RAY_ADDRESS (dashboard address, e.g. http://head:8265) with
#                        recipes/cluster/runtime_env.yaml (plugin variables, no working_dir upload: the
#                        package must be pip-installed on every node; docs/cluster.md).
#   RAY_JOB_ARGS         extra arguments for `ray job submit` (e.g. "--no-wait").
set -euo pipefail

G2RL_CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
G2RL_RUNTIME_ENV="${G2RL_RUNTIME_ENV:-$G2RL_CLUSTER_DIR/runtime_env.yaml}"

# verl swallows plugin import errors from the entry point; importing the plugin by name is loud
# (docs/cluster.md). A local ray.init() cluster inherits this; remote clusters get it via runtime_env.
export VERL_USE_EXTERNAL_MODULES="${VERL_USE_EXTERNAL_MODULES:-g2rl_verl.plugin}"

g2rl_launch() {
    if [[ "${DRY_RUN:-0}" == "1" ]]; then
        echo "# DRY_RUN=1: composed config of: $*" >&2
        "$@" --cfg job
        return 0
    fi
    case "${LAUNCHER:-local}" in
        local)
            echo "# launching: $*" >&2
            "$@"
            ;;
        ray)
            : "${RAY_ADDRESS:?LAUNCHER=ray needs RAY_ADDRESS (the Ray dashboard address, e.g. http://head:8265)}"
            echo "# ray job submit to $RAY_ADDRESS: $*" >&2
            # shellcheck disable=SC2086  # RAY_JOB_ARGS is a list of words on purpose
            ray job submit --address "$RAY_ADDRESS" --runtime-env "$G2RL_RUNTIME_ENV" ${RAY_JOB_ARGS:-} -- "$@"
            ;;
        *)
            echo "unknown LAUNCHER=${LAUNCHER}; use local or ray (Slurm: sbatch recipes/cluster/slurm_ray.sbatch)" >&2
            return 2
            ;;
    esac
}

# The Ray runtime env our RL entry point merges into verl's (ray_kwargs.ray_init.runtime_env), so that
# workers on a pre-started cluster import the plugin loudly too. Not with LAUNCHER=ray: the job's runtime
# env (runtime_env.yaml) already carries the variable to every process, and Ray refuses a driver whose
# ray.init names an environment variable the job's runtime env also sets ("Failed to merge the Job's
# runtime env ... conflict").
if [[ "${LAUNCHER:-local}" == "ray" ]]; then
    G2RL_RAY_OVERRIDES=()
else
    G2RL_RAY_OVERRIDES=(
        "+ray_kwargs.ray_init.runtime_env.env_vars.VERL_USE_EXTERNAL_MODULES=${VERL_USE_EXTERNAL_MODULES}"
    )
fi
