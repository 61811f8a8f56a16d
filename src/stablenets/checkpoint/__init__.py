"""The checkpoint stage: the files a training run leaves, and models rebuilt from them.

    from stablenets.checkpoint import load_model, load_ensemble
    model, meta = load_model("runs/in-resnet-110")          # a run folder or its model.safetensors
    ens, metas = load_ensemble(["runs/a", "runs/b"])         # the average of their logits

Training writes these files (through this package) and ends there; evaluation, analysis and
the demo read them from here and know nothing of training. ``files.py``: the two files, their
checksums and what is refused; ``ensemble.py``: several checkpoints as one model.
"""
from stablenets.checkpoint.ensemble import Ensemble, load_ensemble
from stablenets.checkpoint.files import (MODEL_FILE, STATE_FILE, CheckpointError, NonFiniteWeightsError,
                                         check_finite, load_model, load_train_state, read_meta, save_model,
                                         save_train_state)

__all__ = ["load_model", "read_meta", "save_model", "load_ensemble", "Ensemble", "save_train_state",
           "load_train_state", "check_finite", "CheckpointError", "NonFiniteWeightsError", "MODEL_FILE",
           "STATE_FILE"]
