"""PyTorch side of logitstore: a streaming distillation dataset and the trainer's KD losses.

`DistillationDataset` turns a store into batches of fixed-length windows with padded sparse teacher targets;
`kd_loss`, `lm_loss` and `distillation_loss` compute the losses with the Swift trainer's definitions.
Needs torch (``pip install 'logitstore[torch]'``).
"""
from .dataset import DistillationDataset, DistillationLoader
from .loss import KD_KINDS, kd_loss, lm_loss, distillation_loss

__all__ = ["DistillationDataset", "DistillationLoader", "KD_KINDS", "kd_loss", "lm_loss", "distillation_loss"]
