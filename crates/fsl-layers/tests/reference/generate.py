"""Generates reference values for the fsl-layers tests with numpy (float64).

Run from this folder: `python3 generate.py` writes `layers.json`. The Rust tests read the JSON and
never need Python. numpy version used: printed into the JSON as `numpy_version`.
"""

import json

import numpy as np


def squared_l2_case(rng):
    a = rng.normal(size=(7, 5)).astype(np.float32)
    b = rng.normal(size=(4, 5)).astype(np.float32) + 3.0
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    # Direct differences, not the matrix-product identity the library uses.
    distances = ((a64[:, None, :] - b64[None, :, :]) ** 2).sum(-1)
    return {"a": a.ravel().tolist(), "a_shape": a.shape, "b": b.ravel().tolist(),
            "b_shape": b.shape, "distances": distances.ravel().tolist()}


def prototypical_case(rng):
    support = rng.normal(size=(6, 3)).astype(np.float32)
    labels = [0, 0, 1, 1, 2, 2]
    queries = rng.normal(size=(5, 3)).astype(np.float32)
    query_labels = [2, 0, 1, 1, 0]
    s, q = support.astype(np.float64), queries.astype(np.float64)
    prototypes = np.stack([s[[i for i, l in enumerate(labels) if l == c]].mean(0) for c in range(3)])
    distances = ((q[:, None, :] - prototypes[None, :, :]) ** 2).sum(-1)
    logits = -distances
    log_probabilities = logits - logits.max(1, keepdims=True)
    log_probabilities -= np.log(np.exp(log_probabilities).sum(1, keepdims=True))
    loss = -log_probabilities[np.arange(5), query_labels].mean()
    # Gradient of the loss with respect to the queries, by central differences in float64.
    def loss_of(qq):
        d = ((qq[:, None, :] - prototypes[None, :, :]) ** 2).sum(-1)
        lp = -d - (-d).max(1, keepdims=True)
        lp -= np.log(np.exp(lp).sum(1, keepdims=True))
        return -lp[np.arange(5), query_labels].mean()
    grad = np.zeros_like(q)
    h = 1e-6
    for index in np.ndindex(q.shape):
        plus, minus = q.copy(), q.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (loss_of(plus) - loss_of(minus)) / (2 * h)
    return {"support": support.ravel().tolist(), "labels": labels, "queries": queries.ravel().tolist(),
            "query_labels": query_labels, "prototypes": prototypes.ravel().tolist(),
            "distances": distances.ravel().tolist(), "loss": float(loss),
            "grad_queries": grad.ravel().tolist()}


def max_pool_case(rng, shape, kernel, stride, padding):
    """Max pooling with PyTorch's rule: the first maximum of each window gets the gradient."""
    x = rng.normal(size=shape)
    # Quantise so that ties occur, as on Omniglot's flat backgrounds.
    x = np.round(x * 2) / 2
    n, c, h, w = shape
    oh = (h + 2 * padding - kernel) // stride + 1
    ow = (w + 2 * padding - kernel) // stride + 1
    upstream = rng.normal(size=(n, c, oh, ow))
    out = np.zeros((n, c, oh, ow))
    grad = np.zeros(shape)
    for i in range(n):
        for j in range(c):
            for oy in range(oh):
                for ox in range(ow):
                    best, best_pos = -np.inf, None
                    for y in range(oy * stride - padding, oy * stride - padding + kernel):
                        for xx in range(ox * stride - padding, ox * stride - padding + kernel):
                            if 0 <= y < h and 0 <= xx < w and x[i, j, y, xx] > best:
                                best, best_pos = x[i, j, y, xx], (y, xx)
                    out[i, j, oy, ox] = best
                    grad[i, j, best_pos[0], best_pos[1]] += upstream[i, j, oy, ox]
    return {"input": x.ravel().tolist(), "shape": shape, "kernel": kernel, "stride": stride,
            "padding": padding, "upstream": upstream.ravel().tolist(), "output": out.ravel().tolist(),
            "output_shape": [n, c, oh, ow], "grad_input": grad.ravel().tolist()}


def conv_case(rng, shape, out_channels, kernel, stride, padding):
    """Cross-correlation as in PyTorch's conv2d; gradients of loss = sum(upstream * y) by hand."""
    x = rng.normal(size=shape)
    n, c, h, w = shape
    weight = rng.normal(size=(out_channels, c, kernel, kernel))
    bias = rng.normal(size=(out_channels,))
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kernel) // stride + 1
    ow = (w + 2 * padding - kernel) // stride + 1
    y = np.zeros((n, out_channels, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            patch = padded[:, :, oy * stride:oy * stride + kernel, ox * stride:ox * stride + kernel]
            y[:, :, oy, ox] = np.einsum("nckl,ockl->no", patch, weight) + bias
    upstream = rng.normal(size=y.shape)
    grad_padded = np.zeros_like(padded)
    grad_weight = np.zeros_like(weight)
    for oy in range(oh):
        for ox in range(ow):
            patch = padded[:, :, oy * stride:oy * stride + kernel, ox * stride:ox * stride + kernel]
            g = upstream[:, :, oy, ox]
            grad_weight += np.einsum("no,nckl->ockl", g, patch)
            grad_padded[:, :, oy * stride:oy * stride + kernel, ox * stride:ox * stride + kernel] += np.einsum("no,ockl->nckl", g, weight)
    grad_x = grad_padded[:, :, padding:padding + h, padding:padding + w]
    return {"input": x.ravel().tolist(), "shape": shape, "weight": weight.ravel().tolist(),
            "weight_shape": weight.shape, "bias": bias.tolist(), "stride": stride, "padding": padding,
            "output": y.ravel().tolist(), "output_shape": y.shape, "upstream": upstream.ravel().tolist(),
            "grad_input": grad_x.ravel().tolist(), "grad_weight": grad_weight.ravel().tolist(),
            "grad_bias": upstream.sum((0, 2, 3)).tolist()}


def batch_norm_case(rng, shape):
    """Training-mode batch norm (biased variance, eps 1e-5) and its closed-form gradients."""
    x = rng.normal(size=shape) * 3 + 1
    c = shape[1]
    gamma = rng.normal(size=c)
    beta = rng.normal(size=c)
    eps = 1e-5
    mean = x.mean((0, 2, 3), keepdims=True)
    var = x.var((0, 2, 3), keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + eps)
    y = x_hat * gamma.reshape(1, c, 1, 1) + beta.reshape(1, c, 1, 1)
    upstream = rng.normal(size=shape)
    g_hat = upstream * gamma.reshape(1, c, 1, 1)
    grad_x = (g_hat - g_hat.mean((0, 2, 3), keepdims=True)
              - x_hat * (g_hat * x_hat).mean((0, 2, 3), keepdims=True)) / np.sqrt(var + eps)
    count = x.size // c
    return {"input": x.ravel().tolist(), "shape": shape, "gamma": gamma.tolist(), "beta": beta.tolist(),
            "output": y.ravel().tolist(), "upstream": upstream.ravel().tolist(),
            "grad_input": grad_x.ravel().tolist(), "grad_gamma": (upstream * x_hat).sum((0, 2, 3)).tolist(),
            "grad_beta": upstream.sum((0, 2, 3)).tolist(),
            "running_mean": (0.1 * mean.ravel()).tolist(),
            "running_var": (0.9 + 0.1 * var.ravel() * count / (count - 1)).tolist()}


def fixed_kernels(a, b):
    """Every fixed kernel on all pairs, from explicit differences and norms in float64."""
    differences = a[:, None, :] - b[None, :, :]
    norms_a = np.linalg.norm(a, axis=1)
    norms_b = np.linalg.norm(b, axis=1)
    products = a @ b.T
    # Zero vectors have similarity 0 to everything by convention.
    denominators = np.outer(norms_a, norms_b)
    cosine = np.divide(products, denominators, out=np.zeros_like(products), where=denominators > 0)
    return {"l1": np.abs(differences).sum(-1), "squared_l2": (differences ** 2).sum(-1),
            "linf": np.abs(differences).max(-1), "cosine_similarity": cosine,
            "cosine_distance": 1.0 - cosine, "dot": products}


def fixed_kernels_case(rng):
    a = rng.normal(size=(6, 5)).astype(np.float32)
    b = (rng.normal(size=(4, 5)) * 2 + 1).astype(np.float32)
    a[2] = 0.0          # a zero vector
    a[4] = b[1]         # an item identical to a support item
    values = fixed_kernels(a.astype(np.float64), b.astype(np.float64))
    case = {"a": a.ravel().tolist(), "a_shape": a.shape, "b": b.ravel().tolist(), "b_shape": b.shape}
    case.update({name: value.ravel().tolist() for name, value in values.items()})
    return case


def softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def support_layers_case(rng):
    """Gram matrix, centroids matrix and support-set classifier scores on one small set."""
    support = rng.normal(size=(7, 3)).astype(np.float32)
    labels = [1, 0, 1, 2, 0, 2, 2]
    queries = rng.normal(size=(4, 3)).astype(np.float32)
    s, q = support.astype(np.float64), queries.astype(np.float64)

    gram = fixed_kernels(s, s)
    prototypes = np.stack([s[[i for i, l in enumerate(labels) if l == c]].mean(0) for c in range(3)])
    to_prototypes = fixed_kernels(q, prototypes)
    to_support = fixed_kernels(q, s)
    # Classifier: mean kernel value over each class's items, classes in order of first appearance.
    order = [1, 0, 2]
    class_means = {name: np.stack([values[:, [i for i, l in enumerate(labels) if l == c]].mean(1)
                                   for c in order], axis=1)
                   for name, values in to_support.items()}
    return {"support": support.ravel().tolist(), "labels": labels, "queries": queries.ravel().tolist(),
            "gram_squared_l2": gram["squared_l2"].ravel().tolist(),
            "gram_cosine_similarity": gram["cosine_similarity"].ravel().tolist(),
            "centroids_squared_l2": to_prototypes["squared_l2"].ravel().tolist(),
            "centroids_softmax_squared_l2": softmax(-to_prototypes["squared_l2"]).ravel().tolist(),
            "centroids_softmax_cosine_similarity": softmax(to_prototypes["cosine_similarity"]).ravel().tolist(),
            "classifier_classes": order,
            "classifier_squared_l2": class_means["squared_l2"].ravel().tolist(),
            "classifier_cosine_similarity": class_means["cosine_similarity"].ravel().tolist(),
            "classifier_l1": class_means["l1"].ravel().tolist()}


def main():
    rng = np.random.default_rng(20261204)
    reference = {
        "numpy_version": np.__version__,
        "squared_l2": squared_l2_case(rng),
        "prototypical": prototypical_case(rng),
        "conv": [
            conv_case(rng, (2, 3, 7, 7), 4, 3, 1, 1),
            conv_case(rng, (1, 2, 6, 5), 3, 3, 2, 1),
            conv_case(rng, (2, 1, 5, 5), 2, 2, 1, 0),
        ],
        "batch_norm": batch_norm_case(rng, (4, 3, 5, 5)),
        "max_pool": [
            max_pool_case(rng, (2, 3, 7, 7), 2, 2, 0),
            max_pool_case(rng, (1, 2, 3, 3), 2, 2, 0),
            max_pool_case(rng, (1, 2, 6, 5), 3, 2, 1),
            max_pool_case(rng, (2, 1, 5, 5), 2, 1, 0),
        ],
    }
    # A second generator, so that the cases above keep their values when cases are added here.
    support_rng = np.random.default_rng(20261205)
    reference["fixed_kernels"] = fixed_kernels_case(support_rng)
    reference["support_layers"] = support_layers_case(support_rng)
    with open("layers.json", "w") as f:
        json.dump(reference, f)


if __name__ == "__main__":
    main()
