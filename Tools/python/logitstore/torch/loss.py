"""The Swift trainer's losses (Sources/Trainer/DistillationLoss.swift, LMHeadLoss.swift) in PyTorch.

Per position with kept teacher probabilities p_1..p_K (already re-truncated and re-normalised by the store's
read-time arithmetic, or with a dropped-mass bucket d) and student logits z over the vocabulary:

  teacher   q_c = p_c^(1/τ) / Σ p^(1/τ) over the kept entries; with a bucket the kept entries keep their mass:
            q_c ·= max(1 − d, 0) and q_bucket = d.
  student   π = softmax(z) (temperature_on="teacher", the default and the paper's Eq. 3–4) or softmax(z/τ)
            (temperature_on="both", Hinton); π_bucket = max(1 − Σ_kept π_c, 1e-12).
  kld       Σ q (log q − log π)             nll  −Σ q log π
  mse       Σ (π − q)²                      reverse-kl  Σ π (log π − log max(q, 1e-12)); without a bucket π is
                                            the student re-normalised over the kept ids.
  The sums run over the kept ids (and the bucket when present). tau_squared multiplies L_kd by τ².
Positions are averaged: L_kd over every position with a target, L_lm over positions with a known next token,
L = (1 − α)·L_lm + α·L_kd.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: The KD loss kinds, spelled as the Swift trainer's `--kd-loss`.
KD_KINDS = ("kld", "nll", "mse", "reverse-kl")

#: Floor on probabilities inside logarithms (DistillationLoss.probabilityFloor).
PROBABILITY_FLOOR = 1e-12


def _flat(batch, logits):
    ids = batch["target_ids"]
    k = ids.shape[-1]
    probs = batch["target_probs"].reshape(-1, k).to(device=logits.device, dtype=torch.float32)
    mask = batch.get("target_mask")
    mask = (probs > 0) if mask is None else mask.reshape(-1, k).to(logits.device)
    dropped = batch.get("dropped_mass")
    if dropped is not None:
        dropped = dropped.reshape(-1).to(device=logits.device, dtype=torch.float32)
    return ids.reshape(-1, k).to(device=logits.device, dtype=torch.long), probs, mask, dropped


def kd_loss(student_logits, batch, kind="kld", temperature=1.0, temperature_on="teacher", tau_squared=False,
            reduction="mean"):
    """L_kd between the batch's teacher targets and the student, with the Swift trainer's definitions.

    student_logits: [B, T, V] (or [N, V]) raw logits; batch: a `DistillationDataset` batch (target_ids,
    target_probs, target_mask and, in bucket mode, dropped_mass). reduction: "mean" (over positions, as the
    trainer), "sum" or "none" (per position, shaped like the batch's positions). Computed in float32.
    """
    if kind not in KD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(KD_KINDS)} (got {kind!r})")
    if temperature_on not in ("teacher", "both"):
        raise ValueError(f"temperature_on must be 'teacher' or 'both' (got {temperature_on!r})")
    tau = float(temperature)
    if not (tau > 0 and tau < float("inf")):
        raise ValueError(f"temperature must be positive (got {temperature})")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none' (got {reduction!r})")
    vocab = student_logits.shape[-1]
    z = student_logits.reshape(-1, vocab).float()
    ids, p, mask, dropped = _flat(batch, z)
    if ids.shape[0] != z.shape[0]:
        raise ValueError(f"student logits have {z.shape[0]} positions, the targets {ids.shape[0]}")
    floor = PROBABILITY_FLOOR
    kept = mask & (p > 0)

    # Teacher: q ∝ p^(1/τ) over the kept entries (p = 0 gives q = 0).
    lq = torch.where(kept, torch.log(torch.where(kept, p, torch.ones_like(p))) / tau, torch.full_like(p, -float("inf")))
    lq = lq - torch.logsumexp(lq, dim=-1, keepdim=True)
    q = torch.where(kept, torch.exp(lq), torch.zeros_like(p))
    if dropped is not None:
        q = q * torch.clamp(1 - dropped, min=0)[:, None]

    # Student: log π at τ_s over the whole vocabulary, gathered at the kept ids.
    tau_s = tau if temperature_on == "both" else 1.0
    log_pi = torch.log_softmax(z / tau_s if tau_s != 1 else z, dim=-1).gather(-1, ids)
    log_pi = torch.where(mask, log_pi, torch.zeros_like(log_pi))
    pi = torch.where(mask, torch.exp(log_pi), torch.zeros_like(log_pi))
    s_kept = pi.sum(-1)
    s_drop = torch.clamp(1 - s_kept, min=floor)

    if kind in ("kld", "nll"):
        value = -(q * log_pi).sum(-1)
        if kind == "kld":
            value = value + torch.xlogy(q, q).sum(-1)
        if dropped is not None:
            value = value - dropped * torch.log(s_drop)
            if kind == "kld":
                value = value + torch.xlogy(dropped, dropped)
    elif kind == "mse":
        value = torch.where(mask, (pi - q) ** 2, torch.zeros_like(q)).sum(-1)
        if dropped is not None:
            value = value + (s_drop - dropped) ** 2
    else:  # reverse-kl
        log_q = torch.log(torch.clamp(q, min=floor))
        if dropped is not None:
            value = torch.where(mask, pi * (log_pi - log_q), torch.zeros_like(q)).sum(-1)
            value = value + s_drop * (torch.log(s_drop) - torch.log(torch.clamp(dropped, min=floor)))
        else:
            norm = torch.clamp(s_kept, min=floor)
            pi_r = pi / norm[:, None]
            value = torch.where(mask, pi_r * (log_pi - torch.log(norm)[:, None] - log_q), torch.zeros_like(q)).sum(-1)
    if tau_squared:
        value = value * (tau * tau)
    if reduction == "mean":
        return value.mean()
    if reduction == "sum":
        return value.sum()
    return value.reshape(student_logits.shape[:-1])


def lm_loss(student_logits, batch, reduction="mean"):
    """Cross-entropy of the true next token (`labels`, −100 = unknown), averaged over known positions."""
    vocab = student_logits.shape[-1]
    labels = batch["labels"].reshape(-1).to(device=student_logits.device, dtype=torch.long)
    if reduction == "mean" and not bool((labels != -100).any()):
        return student_logits.new_zeros((), dtype=torch.float32)   # the trainer's mean over no positions is 0
    return F.cross_entropy(student_logits.reshape(-1, vocab).float(), labels, ignore_index=-100, reduction=reduction)


def distillation_loss(student_logits, batch, alpha, kind="kld", temperature=1.0, temperature_on="teacher",
                      tau_squared=False):
    """L = (1 − α)·L_lm + α·L_kd, as the Swift trainer's step loss (the KD term is skipped when α = 0)."""
    alpha = float(alpha)
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1] (got {alpha})")
    total = (1 - alpha) * lm_loss(student_logits, batch) if alpha < 1 else student_logits.new_zeros(())
    if alpha > 0:
        total = total + alpha * kd_loss(student_logits, batch, kind=kind, temperature=temperature,
                                        temperature_on=temperature_on, tau_squared=tau_squared)
    return total
