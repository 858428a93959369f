"""kd_loss / lm_loss / distillation_loss against a plain per-position float64 transcription of
Sources/Trainer/DistillationLoss.swift (loops, no torch), and their gradients against finite differences."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from logitstore.torch import distillation_loss, kd_loss, lm_loss  # noqa: E402

FLOOR = 1e-12


def reference_position(z, ids, p, dropped, kind, tau, both):
    """One position's L_kd, written from the Swift code step by step."""
    k = len(ids)
    lq = [math.log(x) / tau if x > 0 else -math.inf for x in p]
    m = max(lq)
    e = [0.0 if x == -math.inf else math.exp(x - m) for x in lq]
    kept_mass = max(1 - dropped, 0) if dropped is not None else 1.0
    q = [x * kept_mass / sum(e) for x in e]
    qd = dropped
    ts = tau if both else 1.0
    u = [x / ts for x in z]
    mu = max(u)
    log_z = mu + math.log(sum(math.exp(x - mu) for x in u))
    log_s = [u[i] - log_z for i in ids]
    s = [math.exp(x) for x in log_s]
    s_k = sum(s)
    s_d = max(1 - s_k, FLOOR)
    v = 0.0
    if kind in ("nll", "kld"):
        for c in range(k):
            v -= q[c] * log_s[c]
            if kind == "kld" and q[c] > 0:
                v += q[c] * math.log(q[c])
        if qd is not None:
            v -= qd * math.log(s_d)
            if kind == "kld" and qd > 0:
                v += qd * math.log(qd)
    elif kind == "mse":
        v = sum((s[c] - q[c]) ** 2 for c in range(k))
        if qd is not None:
            v += (s_d - qd) ** 2
    elif qd is not None:  # reverse-kl with bucket
        v = sum(s[c] * (log_s[c] - math.log(max(q[c], FLOOR))) for c in range(k))
        v += s_d * (math.log(s_d) - math.log(max(qd, FLOOR)))
    else:  # reverse-kl without bucket: π re-normalised over the kept ids
        log_sk = math.log(max(s_k, FLOOR))
        for c in range(k):
            pi = s[c] / max(s_k, FLOOR)
            v += pi * (log_s[c] - log_sk - math.log(max(q[c], FLOOR)))
    return v


def random_batch(rng, B=2, T=3, V=11, K=5, bucket=False):
    """A batch of sparse targets with varying counts (zero-padded), one +0 kept prob, optional bucket."""
    counts = rng.integers(1, K + 1, size=B * T)
    ids = np.zeros((B * T, K), np.int64)
    probs = np.zeros((B * T, K), np.float32)
    mask = np.zeros((B * T, K), bool)
    dropped = np.zeros(B * T, np.float32)
    for n, c in enumerate(counts):
        ids[n, :c] = rng.choice(V, size=c, replace=False)
        raw = np.sort(rng.random(c))[::-1] + 0.05
        if c >= 3 and n == 0:
            raw[-1] = 0.0
        mass = rng.uniform(0.6, 0.99) if bucket else 1.0
        probs[n, :c] = raw / raw.sum() * mass
        dropped[n] = 1 - probs[n, :c].sum()
        mask[n, :c] = True
    batch = {"target_ids": torch.from_numpy(ids).view(B, T, K), "target_probs": torch.from_numpy(probs).view(B, T, K),
             "target_mask": torch.from_numpy(mask).view(B, T, K),
             "labels": torch.from_numpy(rng.integers(0, V, size=(B, T))).long()}
    batch["labels"][0, -1] = -100
    if bucket:
        batch["dropped_mass"] = torch.from_numpy(np.clip(dropped, 0, 1)).view(B, T)
    logits = torch.from_numpy(rng.normal(scale=2.0, size=(B, T, V)).astype(np.float32))
    return logits, batch


@pytest.mark.parametrize("kind", ["kld", "nll", "mse", "reverse-kl"])
@pytest.mark.parametrize("bucket", [False, True])
@pytest.mark.parametrize("tau,both", [(1.0, False), (2.0, False), (2.0, True), (0.7, True)])
def test_kd_loss_matches_per_position_reference(kind, bucket, tau, both):
    rng = np.random.default_rng(hash((kind, bucket, tau, both)) % 2**32)
    logits, batch = random_batch(rng, bucket=bucket)
    got = kd_loss(logits, batch, kind=kind, temperature=tau, temperature_on="both" if both else "teacher",
                  reduction="none").reshape(-1).double().numpy()
    z = logits.reshape(-1, logits.shape[-1]).double().numpy()
    ids, p, mask = (batch[k].reshape(-1, batch[k].shape[-1]).numpy() for k in ("target_ids", "target_probs", "target_mask"))
    d = batch["dropped_mass"].reshape(-1).numpy() if bucket else None
    want = [reference_position(list(z[n]), list(ids[n][mask[n]]), [float(x) for x in p[n][mask[n]]],
                               None if d is None else float(d[n]), kind, tau, both) for n in range(len(z))]
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    mean = kd_loss(logits, batch, kind=kind, temperature=tau, temperature_on="both" if both else "teacher")
    assert abs(float(mean) - np.mean(want)) < 1e-5 * max(1.0, abs(np.mean(want)))


def test_tau_squared_scales_and_alpha_mixes():
    rng = np.random.default_rng(1)
    logits, batch = random_batch(rng)
    base = kd_loss(logits, batch, temperature=2.0)
    assert torch.allclose(kd_loss(logits, batch, temperature=2.0, tau_squared=True), 4 * base)
    lm = lm_loss(logits, batch)
    labels = batch["labels"].reshape(-1).numpy()
    z = logits.reshape(-1, logits.shape[-1]).double()
    ce = [float(torch.logsumexp(z[n], 0) - z[n, y]) for n, y in enumerate(labels) if y != -100]
    assert abs(float(lm) - np.mean(ce)) < 1e-5
    mixed = distillation_loss(logits, batch, alpha=0.3, temperature=2.0)
    assert abs(float(mixed) - (0.7 * float(lm) + 0.3 * float(base))) < 1e-5
    assert float(distillation_loss(logits, batch, alpha=0.0)) == pytest.approx(float(lm))


@pytest.mark.parametrize("kind", ["kld", "nll", "mse", "reverse-kl"])
@pytest.mark.parametrize("bucket", [False, True])
def test_kd_loss_gradient_matches_finite_differences(kind, bucket):
    rng = np.random.default_rng(7)
    logits, batch = random_batch(rng, B=1, T=2, V=7, K=4, bucket=bucket)
    # float64 student logits: kd_loss computes in float32 by design, so check the float64 autograd graph.
    x = logits.double().requires_grad_(True)

    def f(t):
        return kd_loss(t, batch, kind=kind, temperature=1.5, temperature_on="both").double()

    loss = f(x)
    (grad,) = torch.autograd.grad(loss, x)
    eps = 1e-3
    fd = torch.zeros_like(x)
    with torch.no_grad():
        flat = x.detach().clone().reshape(-1)
        for i in range(flat.numel()):
            a, b = flat.clone(), flat.clone()
            a[i] += eps
            b[i] -= eps
            fd.view(-1)[i] = (f(a.view_as(x)) - f(b.view_as(x))) / (2 * eps)
    np.testing.assert_allclose(grad.numpy(), fd.numpy(), rtol=2e-2, atol=2e-4)


def test_bad_arguments_are_clear_errors():
    logits, batch = random_batch(np.random.default_rng(0))
    with pytest.raises(ValueError, match="kind"):
        kd_loss(logits, batch, kind="js")
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(logits, batch, temperature=0)
    with pytest.raises(ValueError, match="positions"):
        kd_loss(logits[:, :2], batch)
