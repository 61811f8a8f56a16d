"""The ``stablenets`` commands, one module each, above every stage they drive.

Each module has ``register(subparsers)``, which adds its subcommand, and the function that runs it.
:mod:`stablenets.cli` imports a command's module only when that command runs or shows its help.
A command may import any stage and :mod:`stablenets.pipeline`; no stage imports a command, so data
flows one way (configuration → data → model → training → checkpoint → evaluation → report, the
reproduction above them all; ``tests/test_pipeline_imports.py``).
"""
