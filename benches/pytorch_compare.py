#!/usr/bin/env python3
"""Time the workloads of the fsl criterion benchmarks in PyTorch on the CPU.

`cargo xtask bench --compare` runs this script and divides each fsl median by the matching
PyTorch median. Every result names the criterion id of its fsl counterpart:

- training_step/conv4_adam/{5w1s15q,60w5s5q}: one prototypical-network step on Conv-4 (64
  filters, 28x28 single-channel inputs): forward pass of support and query images in training
  mode, squared Euclidean distances to the prototypes, cross-entropy, backward pass, one Adam
  update (learning rate 1e-3, no weight decay) and the episode accuracy.
- embed/conv4_eval/256: Conv-4 forward pass of 256 images in eval mode, without autograd.
- kernel/squared_l2/1024x1024_d1600: squared distances between 1024 and 1024 vectors of size
  1600, once with torch.cdist squared and once with the matrix-product identity that fsl uses.
- support/{gram,centroids}_{squared_l2,cosine}/...: the Gram matrix of 1024 embeddings and the
  matrix of 1024 queries against the centroids of 1024 support embeddings in 64 classes, for
  embedding sizes 64 and 1600; squared l2 by torch.cdist and by the identity, cosine by
  normalize and one matrix product.

Inputs come from a seeded generator and are built before timing. Each workload runs a few
untimed warm-up iterations, then at least five timed ones and at least --min-time seconds;
the median per-iteration time is reported.

Exit codes: 0 on success, 3 when torch cannot be imported (install it with `pip install torch`).
"""

import argparse
import json
import statistics
import sys
import time

# Read by `cargo xtask bench --compare` (xtask/src/pytorch.rs) to tell a missing torch apart
# from a failure.
TORCH_MISSING_EXIT_CODE = 3

IMAGE_SIZE = 28
HIDDEN_CHANNELS = 64
LEARNING_RATE = 1e-3


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="OUT", help="write the results to this JSON file")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads (default: 2)")
    parser.add_argument(
        "--min-time", type=float, default=3.0, help="minimum measured seconds per workload (default: 3)"
    )
    parser.add_argument("--warm-up", type=int, default=5, help="untimed iterations per workload (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and inputs (default: 0)")
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.min_time <= 0:
        parser.error(f"--min-time must be positive, got {args.min_time}")
    if args.warm_up < 0:
        parser.error(f"--warm-up must be 0 or more, got {args.warm_up}")
    return args


def median_seconds(step, warm_up, min_time, min_iterations=5):
    """Return the median wall-clock time of `step()` over the timed iterations."""
    for _ in range(warm_up):
        step()

    times = []
    start = time.perf_counter()
    while len(times) < min_iterations or time.perf_counter() - start < min_time:
        before = time.perf_counter()
        step()
        times.append(time.perf_counter() - before)
    return statistics.median(times)


def conv4(torch):
    """Build Conv-4: four blocks of 3x3 convolution, batch norm, ReLU and 2x2 max pooling.

    fsl applies ReLU after pooling, which gives the same values and gradients because max is
    monotone; PyTorch's usual order is kept here.
    """
    nn = torch.nn

    def block(in_channels):
        return nn.Sequential(
            nn.Conv2d(in_channels, HIDDEN_CHANNELS, kernel_size=3, padding=1),
            nn.BatchNorm2d(HIDDEN_CHANNELS),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )

    return nn.Sequential(
        block(1), block(HIDDEN_CHANNELS), block(HIDDEN_CHANNELS), block(HIDDEN_CHANNELS), nn.Flatten()
    )


def squared_l2(a, b):
    """Return squared distances as fsl's SquaredL2 does: centre on b's mean, expand, clamp at 0."""
    centre = b.mean(dim=0, keepdim=True)
    a = a - centre
    b = b - centre
    a_norms = a.pow(2).sum(dim=1, keepdim=True)
    b_norms = b.pow(2).sum(dim=1).unsqueeze(0)
    return (a_norms + b_norms - 2.0 * (a @ b.T)).clamp_min(0.0)


def training_step(torch, n_way, k_shot, q_query, seed):
    """Return a function that runs one prototypical training step on a fixed episode."""
    torch.manual_seed(seed)
    model = conv4(torch).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    generator = torch.Generator().manual_seed(seed + 10)
    support = torch.rand(n_way * k_shot, 1, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
    query = torch.rand(n_way * q_query, 1, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
    # Class-major labels, as the fsl episode samplers produce them.
    query_labels = torch.arange(n_way).repeat_interleave(q_query)
    support_count = n_way * k_shot

    def step():
        optimizer.zero_grad(set_to_none=True)

        # Support and query go through the encoder as one batch, so batch norm uses the
        # statistics of the whole episode, as in fsl.
        embeddings = model(torch.cat([support, query]))
        prototypes = embeddings[:support_count].reshape(n_way, k_shot, -1).mean(dim=1)
        distances = squared_l2(embeddings[support_count:], prototypes)
        loss = torch.nn.functional.cross_entropy(-distances, query_labels)

        loss.backward()
        optimizer.step()
        return (distances.argmin(dim=1) == query_labels).float().mean().item()

    return step


def embed_eval(torch, count, seed):
    """Return a function that embeds `count` images in eval mode without autograd."""
    torch.manual_seed(seed)
    model = conv4(torch).eval()
    generator = torch.Generator().manual_seed(seed + 20)
    images = torch.rand(count, 1, IMAGE_SIZE, IMAGE_SIZE, generator=generator)

    def step():
        with torch.no_grad():
            return model(images)

    return step


def pairwise(torch, rows, cols, dim, seed, use_cdist):
    """Return a function that computes squared distances between two fixed matrices."""
    generator = torch.Generator().manual_seed(seed + 30)
    a = torch.rand(rows, dim, generator=generator) * 2.0 - 1.0
    b = torch.rand(cols, dim, generator=generator) * 2.0 - 1.0

    def step():
        with torch.no_grad():
            if use_cdist:
                return torch.cdist(a, b).pow(2)
            return squared_l2(a, b)

    return step


def support_layers(torch, kernel, layer, dim, seed, method):
    """Return a function for the Gram or centroids matrix of 1024 embeddings (64 classes)."""
    generator = torch.Generator().manual_seed(seed + 40)
    embeddings = torch.rand(1024, dim, generator=generator) * 2.0 - 1.0
    queries = torch.rand(1024, dim, generator=generator) * 2.0 - 1.0
    labels = torch.arange(1024) % 64
    one_hot = torch.nn.functional.one_hot(labels, 64).float()

    def step():
        with torch.no_grad():
            if layer == "gram":
                a, b = embeddings, embeddings
            else:
                a = queries
                b = (one_hot / one_hot.sum(0, keepdim=True)).T @ embeddings
            if kernel == "cosine":
                normalize = torch.nn.functional.normalize
                return normalize(a, dim=1) @ normalize(b, dim=1).T
            if method == "cdist":
                return torch.cdist(a, b).pow(2)
            return squared_l2(a, b)

    return step


def main():
    args = parse_args()
    try:
        import torch
    except ImportError:
        print(
            "pytorch_compare.py: torch is not installed; install it with `pip install torch`",
            file=sys.stderr,
        )
        return TORCH_MISSING_EXIT_CODE

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        # Inter-op threads can only be set before the first parallel operation. The default
        # then stays, which matters little because these workloads run one operation at a time.
        pass

    workloads = [
        ("conv4 + Adam step", "training_step/conv4_adam/5w1s15q", training_step(torch, 5, 1, 15, args.seed)),
        ("conv4 + Adam step", "training_step/conv4_adam/60w5s5q", training_step(torch, 60, 5, 5, args.seed)),
        ("conv4 eval, no_grad", "embed/conv4_eval/256", embed_eval(torch, 256, args.seed)),
        ("torch.cdist squared", "kernel/squared_l2/1024x1024_d1600", pairwise(torch, 1024, 1024, 1600, args.seed, True)),
        ("matmul identity", "kernel/squared_l2/1024x1024_d1600", pairwise(torch, 1024, 1024, 1600, args.seed, False)),
    ]
    for dim in (64, 1600):
        for layer, shape in (("gram", f"1024_d{dim}"), ("centroids", f"1024x64_d{dim}")):
            for method in ("cdist", "identity"):
                fsl_id = f"support/{layer}_squared_l2/{shape}"
                step = support_layers(torch, "squared_l2", layer, dim, args.seed, method)
                label = "torch.cdist squared" if method == "cdist" else "matmul identity"
                workloads.append((label, fsl_id, step))
            fsl_id = f"support/{layer}_cosine/{shape}"
            workloads.append(("normalize + matmul", fsl_id, support_layers(torch, "cosine", layer, dim, args.seed, "")))

    results = []
    for workload, fsl_id, step in workloads:
        median = median_seconds(step, args.warm_up, args.min_time)
        results.append({"workload": workload, "fsl_id": fsl_id, "median_s": median})
        print(f"{fsl_id:<36} {workload:<22} {median * 1e3:10.3f} ms", flush=True)

    report = {"torch_version": torch.__version__, "threads": torch.get_num_threads(), "results": results}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as output:
            json.dump(report, output, indent=2)
            output.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
