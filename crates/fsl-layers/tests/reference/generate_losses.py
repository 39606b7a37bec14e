"""Generates reference values for the Gram-matrix losses and metrics of fsl-layers.

Run from this folder: `python3 generate_losses.py` writes `losses.json`. Written and run with
numpy 2.4.6; the version that produced the fixture is also stored in the JSON as `numpy_version`.

Inputs are drawn in float32, because the Rust tests run in f32, and every reference value is then
computed in float64 from those float32 values. The formulas are written here from their
definitions, independently of the Rust code:

- adjacency A = Y Y^T of the one-hot labels Y;
- binary cross-entropy with probabilities clipped once to [eps, 1 - eps], eps = 1e-7 rounded to
  the dtype of the predictions (the clip bounds differ between f32 and f64);
- the logits form through numpy's logaddexp, which is exact where the Rust code uses ln(1 + e^-|z|);
- reductions by numpy's mean, max, std (ddof 0, variance floored at 1e-12) and percentile (linear);
- semi-hard triplet mining with a loop over every anchor-positive pair.
"""

import json

import numpy as np

EPSILON = 1e-7
SQUARED_DISTANCE_FLOOR = 1e-12
VARIANCE_FLOOR = 1e-12
PERCENTILES = [0.0, 25.0, 37.5, 50.0, 90.0, 100.0]
# Error bounds for the clipped cross-entropy; the last pair keeps no element of these inputs.
CLIP_BOUNDS = [(0.1, 0.9), (0.0, 1.0), (0.3, 0.6), (0.96, 0.99)]


def clip_bounds(dtype):
    if dtype == "f32":
        eps = np.float32(EPSILON)
        return float(eps), float(np.float32(1.0) - eps)
    return EPSILON, 1.0 - EPSILON


def one_hot(labels, n_classes):
    matrix = np.zeros((len(labels), n_classes))
    matrix[np.arange(len(labels)), labels] = 1.0
    return matrix


def bce_map(probabilities, targets, dtype):
    low, high = clip_bounds(dtype)
    p = np.clip(probabilities, low, high)
    return -(targets * np.log(p) + (1.0 - targets) * np.log(1.0 - p))


def reductions(losses):
    flat = losses.ravel()
    return {
        "mean": float(flat.mean()),
        "max": float(flat.max()),
        "std": float(np.sqrt(max(flat.var(), VARIANCE_FLOOR))),
        "percentiles": [float(np.percentile(flat, q)) for q in PERCENTILES],
    }


def clipped_bce(losses, lower, upper):
    low_loss = -np.log(1.0 - lower)
    high_loss = np.inf if upper == 1.0 else -np.log(1.0 - upper)
    kept = losses[(losses >= low_loss) & (losses <= high_loss)]
    return float(kept.mean()) if kept.size else 0.0, int(kept.size)


def class_means(y_pred, y):
    sizes = y.sum(0)
    safe = np.where(sizes > 0, sizes, 1.0)
    return (y_pred @ y) / safe


def mean_score_loss(y_pred, y):
    scores = class_means(y_pred, y)
    l1 = np.abs(scores).sum(1, keepdims=True)
    normalised = scores / np.where(l1 > 0, l1, 1.0)
    return float(-(y * np.log(np.maximum(normalised, EPSILON))).sum(1).mean())


def class_consistency(y_pred, y, dtype):
    present = y.sum(0) > 0
    if not present.any():
        return 0.0
    yp = y[:, present]
    weights = yp / yp.sum(0)
    mean_scores = weights.T @ y_pred @ weights
    return float(bce_map(mean_scores, np.eye(present.sum()), dtype).mean())


def semi_hard_triplet(distances, labels, margin):
    labels = np.asarray(labels)
    terms = []
    for a in range(len(labels)):
        negatives = np.flatnonzero(labels != labels[a])
        if negatives.size == 0:
            continue
        for p in np.flatnonzero(labels == labels[a]):
            if p == a:
                continue
            d_ap = distances[a, p]
            d_an = distances[a, negatives]
            farther = d_an[d_an > d_ap]
            d_neg = farther.min() if farther.size else d_an.max()
            terms.append(max(d_ap - d_neg + margin, 0.0))
    return float(np.mean(terms)) if terms else 0.0


def contrastive_terms(squared, similar, margin):
    floored = np.maximum(squared, SQUARED_DISTANCE_FLOOR)
    d = np.sqrt(floored)
    return similar * floored + (1.0 - similar) * np.maximum(margin - d, 0.0) ** 2


def contrastive_gram(squared, y, margin):
    b = squared.shape[0]
    if b == 1:
        return 0.0
    terms = contrastive_terms(squared, y @ y.T, margin)
    off_diagonal = ~np.eye(b, dtype=bool)
    return float(terms[off_diagonal].mean())


def best_other_accuracy(y_pred, labels, ascending):
    scores = y_pred.copy()
    np.fill_diagonal(scores, np.inf if ascending else -np.inf)
    best = scores.argmin(1) if ascending else scores.argmax(1)
    return float((np.asarray(labels)[best] == np.asarray(labels)).mean())


def mean_score_accuracy(y_pred, y, ascending):
    present = np.flatnonzero(y.sum(0) > 0)
    scores = class_means(y_pred, y)[:, present]
    best = present[scores.argmin(1) if ascending else scores.argmax(1)]
    return float((best == y.argmax(1)).mean())


def gram_losses(similarity, distances, y, labels, dtype):
    adjacency = y @ y.T
    losses = bce_map(similarity, adjacency, dtype)
    clipped = []
    for lower, upper in CLIP_BOUNDS:
        value, kept = clipped_bce(losses, lower, upper)
        clipped.append({"lower": lower, "upper": upper, "loss": value, "kept": kept})
    return {
        "bce": reductions(losses),
        "clipped_bce": clipped,
        "mean_score_loss": mean_score_loss(similarity, y),
        "class_consistency_loss": class_consistency(similarity, y, dtype),
        "triplet_margin_1": semi_hard_triplet(distances, labels, 1.0),
        "triplet_margin_0_2": semi_hard_triplet(distances, labels, 0.2),
        "contrastive_margin_1_5": contrastive_gram(distances, y, 1.5),
    }


def metrics(similarity, distances, kernels, y, labels):
    adjacency = y @ y.T
    return {
        "top_score_similarity": best_other_accuracy(similarity, labels, False),
        "top_score_distance": best_other_accuracy(distances, labels, True),
        "mean_score_similarity": mean_score_accuracy(similarity, y, False),
        "mean_score_distance": mean_score_accuracy(distances, y, True),
        "same_image_score": float(np.diag(similarity).mean()),
        "margin_accuracy_0_3": float((np.abs(adjacency - similarity) < 0.3).mean()),
        "margin_accuracy_0_5": float((np.abs(adjacency - similarity) < 0.5).mean()),
        "min_eigenvalues": [float(np.linalg.eigvalsh((k + k.T) / 2).min()) for k in kernels],
    }


def random_batch(rng, labels, n_classes, dimension):
    b = len(labels)
    embeddings = rng.normal(size=(b, dimension)).astype(np.float32)
    e = embeddings.astype(np.float64)
    # The squared distances are an input of the Rust tests, so they are rounded to f32 first.
    distances = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1).astype(np.float32)
    raw = rng.uniform(0.05, 0.95, size=(b, b))
    similarity = ((raw + raw.T) / 2).astype(np.float32)
    np.fill_diagonal(similarity, np.float32(0.97))
    linear_kernel = (e @ e.T).astype(np.float32)
    gaussian_kernel = np.exp(-distances.astype(np.float64)).astype(np.float32)
    return similarity, distances, [similarity, linear_kernel, gaussian_kernel]


def batch_case(rng, labels, n_classes, dimension):
    similarity, distances, kernels = random_batch(rng, labels, n_classes, dimension)
    y = one_hot(labels, n_classes)
    s64, d64 = similarity.astype(np.float64), distances.astype(np.float64)
    k64 = [k.astype(np.float64) for k in kernels]
    return {
        "labels": labels,
        "n_classes": n_classes,
        "similarity": similarity.ravel().tolist(),
        "squared_distances": distances.ravel().tolist(),
        "kernels": [k.ravel().tolist() for k in kernels],
        "losses_f32": gram_losses(s64, d64, y, labels, "f32"),
        "losses_f64": gram_losses(s64, d64, y, labels, "f64"),
        "metrics": metrics(s64, d64, k64, y, labels),
    }


def saturated_case(labels, n_classes):
    """Predictions of exactly 0 and 1: the adjacency itself, its complement, and all zeros."""
    y = one_hot(labels, n_classes)
    adjacency = y @ y.T
    zero_distances = np.zeros_like(adjacency)
    cases = {}
    for name, y_pred in [("exact", adjacency), ("inverted", 1.0 - adjacency), ("zeros", zero_distances)]:
        cases[name] = {
            "y_pred": y_pred.ravel().tolist(),
            "losses_f32": gram_losses(y_pred, zero_distances, y, labels, "f32"),
            "losses_f64": gram_losses(y_pred, zero_distances, y, labels, "f64"),
        }
    return {"labels": labels, "n_classes": n_classes, "cases": cases}


def elementwise_case(rng):
    probabilities = rng.uniform(0.01, 0.99, size=12).astype(np.float32)
    targets = np.array([0, 1, 1, 0, 0.3, 1, 0, 0.8, 1, 0, 1, 0], dtype=np.float32)
    logits = (rng.normal(size=(3, 5)) * 4).astype(np.float32)
    logit_targets = rng.integers(0, 2, size=(3, 5)).astype(np.float32)
    logit_targets[0, :2] = [0.25, 0.75]
    z, t = logits.astype(np.float64), logit_targets.astype(np.float64)
    squared = (rng.uniform(0.0, 2.0, size=8) ** 2).astype(np.float32)
    similar = np.array([1, 0, 0, 1, 0, 1, 0, 0], dtype=np.float32)
    return {
        "probabilities": probabilities.tolist(),
        "targets": targets.tolist(),
        "bce_map": bce_map(probabilities.astype(np.float64), targets.astype(np.float64), "f32").tolist(),
        "logits": logits.ravel().tolist(),
        "logit_targets": logit_targets.ravel().tolist(),
        "logits_shape": list(logits.shape),
        "bce_with_logits": float((np.logaddexp(0.0, z) - z * t).mean()),
        "pair_squared_distances": squared.tolist(),
        "pair_similar": similar.tolist(),
        "pair_contrastive_margin_1": float(
            contrastive_terms(squared.astype(np.float64), similar.astype(np.float64), 1.0).mean()
        ),
    }


def main():
    rng = np.random.default_rng(20260522)
    reference = {
        "numpy_version": np.__version__,
        "percentiles": PERCENTILES,
        # Class 3 is absent from the batch.
        "batch": batch_case(rng, [0, 0, 1, 1, 1, 2, 2], 4, 3),
        # Classes 2 and 3 have a single item, so their anchors have no positive.
        "singletons": batch_case(rng, [1, 0, 0, 2, 0, 1, 3], 4, 2),
        "saturated": saturated_case([0, 0, 1, 2, 2], 3),
        "elementwise": elementwise_case(rng),
    }
    for case in (reference["batch"], reference["singletons"]):
        empty = case["losses_f32"]["clipped_bce"][-1]
        assert empty["kept"] == 0, "the last clip bounds must keep no element"
    with open("losses.json", "w") as f:
        json.dump(reference, f, indent=1)


if __name__ == "__main__":
    main()
