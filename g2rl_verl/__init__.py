"""g2rl-verl: GPPO / CE-GPPO and G2RL for verl 0.9.1.

This package is import-light on purpose: `import g2rl_verl` pulls in neither torch nor verl.
verl loads the registrations through the `verl.plugins` entry point (`g2rl_verl.plugin`).
"""

__version__ = "0.1.0"
