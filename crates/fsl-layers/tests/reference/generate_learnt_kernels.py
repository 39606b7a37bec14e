"""Generates reference values for the learnt kernels of fsl-layers with numpy (float64).

Run from this folder: `python3 generate_learnt_kernels.py` writes `learnt_kernels.json`, read by
`tests/learnt_kernels.rs`; the Rust tests never need Python. Written with numpy 2.4.6; the version
that produced the file is stored in it as `numpy_version`.

Weights and inputs are drawn at random, rounded to float32 so that the Rust tests load exactly the
same numbers, and the kernels are then evaluated in float64, one pair of vectors at a time. Each
formula is written out here from its definition rather than translated from the Rust code: the
convolutions are sums over explicit filter and norm indices, and `pairwise` is a double loop over
all pairs.
"""

import json

import numpy as np

SEED = 20240611


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def relu(z):
    return np.maximum(z, 0.0)


def as_float32(array):
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def uniform(rng, shape, fan_in):
    """Three times PyTorch's default range `1/sqrt(fan_in)`, so kernel values spread over (0, 1)."""
    bound = 3.0 / np.sqrt(fan_in)
    return as_float32(rng.uniform(-bound, bound, size=shape))


def normal(rng, shape):
    return as_float32(rng.normal(size=shape))


def tensor(array):
    array = np.asarray(array, dtype=np.float64)
    return {"shape": list(array.shape), "values": array.ravel().tolist()}


def dense_sigmoid_logit(weights, x, y):
    """Koch et al.: a weighted L1 distance, `w · |x - x'| + b`."""
    return float(np.sum(weights["weight"][0] * np.abs(x - y)) + weights["bias"][0])


def mixed_norms_logit(weights, x, y):
    """Four norms per coordinate, a (4 x 1) convolution with F filters, a (1 x F) one, a dense output."""
    norms = np.stack([x * y, x + y, np.abs(x - y), (x - y) ** 2])  # 4 x D
    filters, rows = weights["norm_conv.weight"].shape
    dim = x.shape[0]
    positions = np.zeros(dim)
    for d in range(dim):
        hidden = np.zeros(filters)
        for f in range(filters):
            total = weights["norm_conv.bias"][f]
            for k in range(rows):
                total += weights["norm_conv.weight"][f, k] * norms[k, d]
            hidden[f] = relu(total)
        positions[d] = weights["channel_conv.weight"][0] @ hidden + weights["channel_conv.bias"][0]
    return float(weights["output.weight"][0] @ positions + weights["output.bias"][0])


def learnt_norms_logit(weights, x, y):
    """The pair stacked as 2 x D, a (2 x 1) convolution with F filters, a 1x1 one, a dense output."""
    stacked = np.stack([x, y])  # 2 x D
    filters = weights["pair_conv.weight"].shape[0]
    dim = x.shape[0]
    positions = np.zeros(dim)
    for d in range(dim):
        hidden = np.array(
            [relu(weights["pair_conv.weight"][f] @ stacked[:, d] + weights["pair_conv.bias"][f]) for f in range(filters)]
        )
        positions[d] = weights["channel_conv.weight"][0] @ hidden + weights["channel_conv.bias"][0]
    return float(weights["output.weight"][0] @ positions + weights["output.bias"][0])


def relation_logit(weights, x, y):
    """A two-layer perceptron on the concatenated pair."""
    pair = np.concatenate([x, y])
    hidden = relu(weights["hidden.weight"] @ pair + weights["hidden.bias"])
    return float(weights["output.weight"][0] @ hidden + weights["output.bias"][0])


def evaluate(logit_of, weights, activation, x, y, a, b):
    logits = np.array([logit_of(weights, x[i], y[i]) for i in range(x.shape[0])])
    pairwise_logits = np.array([[logit_of(weights, a[i], b[j]) for j in range(b.shape[0])] for i in range(a.shape[0])])
    return {
        "logits": logits.tolist(),
        "pairs": activation(logits).tolist(),
        "pairwise_logits": pairwise_logits.ravel().tolist(),
        "pairwise": activation(pairwise_logits).ravel().tolist(),
    }


def case(rng, logit_of, weights, activation, dim, pairs=5, rows=4, columns=3):
    x, y = normal(rng, (pairs, dim)), normal(rng, (pairs, dim))
    a, b = normal(rng, (rows, dim)), normal(rng, (columns, dim))
    result = {
        "dim": dim,
        "weights": {name: tensor(value) for name, value in weights.items()},
        "x": tensor(x),
        "y": tensor(y),
        "a": tensor(a),
        "b": tensor(b),
    }
    result.update(evaluate(logit_of, weights, activation, x, y, a, b))
    return result


def mixed_norms_spatial(rng, weights, channels, height=3, width=2, pairs=3, rows=3, columns=2):
    """Feature maps N x C x H x W: every kernel value is taken on the spatial means."""
    x, y = normal(rng, (pairs, channels, height, width)), normal(rng, (pairs, channels, height, width))
    a, b = normal(rng, (rows, channels, height, width)), normal(rng, (columns, channels, height, width))
    pooled = [m.mean(axis=(2, 3)) for m in (x, y, a, b)]
    result = {"x": tensor(x), "y": tensor(y), "a": tensor(a), "b": tensor(b)}
    result.update(evaluate(mixed_norms_logit, weights, sigmoid, *pooled))
    return result


def main():
    rng = np.random.default_rng(SEED)
    filters = 32

    dim = 6
    dense_sigmoid = {"weight": uniform(rng, (1, dim), dim), "bias": uniform(rng, (1,), dim)}

    dim = 5
    mixed_norms = {
        "norm_conv.weight": uniform(rng, (filters, 4), 4),
        "norm_conv.bias": uniform(rng, (filters,), 4),
        "channel_conv.weight": uniform(rng, (1, filters), filters),
        "channel_conv.bias": uniform(rng, (1,), filters),
        "output.weight": uniform(rng, (1, dim), dim),
        "output.bias": uniform(rng, (1,), dim),
    }

    learnt_norms = {
        "pair_conv.weight": uniform(rng, (filters, 2), 2),
        "pair_conv.bias": uniform(rng, (filters,), 2),
        "channel_conv.weight": uniform(rng, (1, filters), filters),
        "channel_conv.bias": uniform(rng, (1,), filters),
        "output.weight": uniform(rng, (1, dim), dim),
        "output.bias": uniform(rng, (1,), dim),
    }

    relation_dim, hidden = 4, 8
    relation = {
        "hidden.weight": uniform(rng, (hidden, 2 * relation_dim), 2 * relation_dim),
        "hidden.bias": uniform(rng, (hidden,), 2 * relation_dim),
        "output.weight": uniform(rng, (1, hidden), hidden),
        "output.bias": uniform(rng, (1,), hidden),
    }

    reference = {
        "numpy_version": np.__version__,
        "seed": SEED,
        "dense_sigmoid": case(rng, dense_sigmoid_logit, dense_sigmoid, sigmoid, 6),
        "mixed_norms": case(rng, mixed_norms_logit, mixed_norms, sigmoid, dim),
        "mixed_norms_spatial": mixed_norms_spatial(rng, mixed_norms, dim),
        "learnt_norms_sigmoid": case(rng, learnt_norms_logit, learnt_norms, sigmoid, dim),
        "learnt_norms_identity": case(rng, learnt_norms_logit, learnt_norms, lambda z: z, dim),
        "relation": case(rng, relation_logit, relation, sigmoid, relation_dim),
    }
    reference["mixed_norms_spatial"]["weights"] = reference["mixed_norms"]["weights"]
    reference["relation"]["hidden"] = hidden

    with open("learnt_kernels.json", "w") as f:
        json.dump(reference, f)


if __name__ == "__main__":
    main()
