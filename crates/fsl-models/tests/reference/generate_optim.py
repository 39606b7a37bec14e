"""Writes tests/fixtures/optim/reference.json: parameter trajectories of PyTorch's optimisers,
learning-rate schedules and gradient clipping, for crates/fsl-models/tests/optim.rs.

Run from crates/fsl-models: python3 tests/reference/generate_optim.py
Written with torch 2.15.0 (CPU) and numpy 2.4.6.

Every case minimises the same loss, sum(a * p**2 + b * p), from the same start, so each step's
gradient is 2 * a * p + b and the Rust test can recompute it without autograd.
"""

import json
import math
from pathlib import Path

import torch

torch.set_default_dtype(torch.float64)

START = [0.5, -1.5, 2.0, 0.0, -0.25]
A = [1.0, 0.5, 2.0, 3.0, 0.1]
B = [0.1, -0.2, 0.0, 0.3, 1.0]
STEPS = 6


def trajectory(make_optimizer, max_norm=None):
    p = torch.tensor(START, requires_grad=True)
    a = torch.tensor(A)
    b = torch.tensor(B)
    optimizer = make_optimizer([p])
    steps = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = (a * p**2 + b * p).sum()
        loss.backward()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_([p], max_norm)
        optimizer.step()
        steps.append(p.detach().tolist())
    return steps


cases = {
    "sgd": trajectory(lambda params: torch.optim.SGD(params, lr=0.1)),
    "sgd_momentum": trajectory(lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov": trajectory(lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True)),
    "adam": trajectory(lambda params: torch.optim.Adam(params, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)),
    "adamw": trajectory(lambda params: torch.optim.AdamW(params, lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    "sgd_clipped": trajectory(lambda params: torch.optim.SGD(params, lr=0.1), max_norm=1.0),
}

# Cosine annealing over 10 steps from 0.1 down to 0.001, read before each step.
optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10, eta_min=0.001)
cosine = []
for _ in range(10):
    cosine.append(optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler.step()

reference = {
    "torch": torch.__version__,
    "start": START,
    "a": A,
    "b": B,
    "cases": cases,
    "cosine_lr": cosine,
}
out = Path(__file__).resolve().parent.parent / "fixtures" / "optim" / "reference.json"
out.write_text(json.dumps(reference, indent=1))
print(f"wrote {out}")
