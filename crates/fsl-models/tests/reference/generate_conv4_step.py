"""Generates the PyTorch reference of one Conv-4 prototypical-network training step.

Run from this folder: `python3 generate_conv4_step.py` writes
`../fixtures/conv4_step.safetensors`, read by `tests/conv4_step.rs`. The Rust tests never need
Python. Written with torch 2.15.0 (CPU), numpy 2.4.6 and the `safetensors` package 0.8.0, and the
fixture's metadata stores the versions that produced it.

The network is Conv-4 with 16 filters on 28x28 single-channel images, so the four poolings go
28 -> 14 -> 7 -> 3 -> 1, twice on sizes that are not a multiple of the stride. Weights and
batch-norm running statistics are drawn once from `SEED`. Two episodes start from those weights:

- `five_way`: 5-way 1-shot with 3 queries per class (20 images in one encoder batch);
- `twenty_way`: 20-way 1-shot with 1 query per class (40 images).

The images look like Omniglot characters: a flat background of 0 with strokes of 1, so that many
max-pooling windows hold several equal maxima. Each class is a few random strokes, and each
image of a class is that drawing shifted by up to one pixel with each stroke point moved by up
to one pixel.

For each episode the script runs the encoder in training mode on the support images followed by
the query images as one batch, as `FewShotNetwork::episode` does. It computes the prototypical
loss: the mean cross-entropy of the softmax of minus the squared Euclidean distance to each
class's mean support embedding. Then it back-propagates and takes one `torch.optim.Adam` step
with lr 1e-3 and the other settings at their defaults. The forward and backward passes run in
float64 on float32 weights and images, so the references are exact up to the final rounding to
float32.

The script also prints, per block, how many pooling windows hold a tied positive maximum, and how
far the gradients would move if max pooling gave the full gradient to every tied maximum instead
of to one of them: this is how the fixture is known to exercise ties.

Fixture entries (float32 unless stated; `<name>` is the fsl parameter name such as
`encoder.block0.conv.weight`, PyTorch's name prefixed with `encoder.`):

- `initial.<name>`: every parameter and running statistic before the step;
- `<episode>.support`, `<episode>.query`: images as uint8 0/1, `N x 1 x 28 x 28`;
- `<episode>.support_labels`, `<episode>.query_labels`: uint32 episode labels;
- `<episode>.loss`: the loss, shape `[1]`;
- `<episode>.accuracy`: the fraction of queries nearest to their own prototype, shape `[1]`;
- `<episode>.gradient.<name>`: the gradient of every trainable parameter;
- `<episode>.after.<name>`: every parameter after the Adam step and every running statistic
  after the training-mode forward pass.
"""

from pathlib import Path

import numpy as np
import safetensors
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file
from torch import nn

SEED = 20261205
IMAGE_SIZE = 28
HIDDEN_CHANNELS = 16
LEARNING_RATE = 1e-3
OUT = Path(__file__).resolve().parent.parent / "fixtures" / "conv4_step.safetensors"

# Name of each episode, with its n-way and queries per class. Every episode is 1-shot.
EPISODES = {"five_way": (5, 3), "twenty_way": (20, 1)}


class MaxPoolToEveryTie(torch.autograd.Function):
    """2x2 max pooling whose backward pass gives the full gradient to every tied maximum of a
    window, a plausible bug that the fixture must be able to detect."""

    @staticmethod
    def forward(ctx, x):
        y = F.max_pool2d(x, 2)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        height, width = 2 * y.shape[2], 2 * y.shape[3]
        maxima = y.repeat_interleave(2, 2).repeat_interleave(2, 3)
        spread = grad.repeat_interleave(2, 2).repeat_interleave(2, 3)
        grad_x = torch.zeros_like(x)
        grad_x[:, :, :height, :width] = spread * (x[:, :, :height, :width] == maxima)
        return grad_x


class Conv4(nn.Module):
    """Four blocks of 3x3 convolution (padding 1), batch norm, ReLU and 2x2 max pooling."""

    def __init__(self, in_channels, hidden_channels, pool=None):
        super().__init__()
        channels = [in_channels] + [hidden_channels] * 4
        for index in range(4):
            block = nn.Module()
            block.conv = nn.Conv2d(channels[index], channels[index + 1], 3, padding=1)
            block.bn = nn.BatchNorm2d(channels[index + 1])
            setattr(self, f"block{index}", block)
        self.pool = pool or (lambda x: F.max_pool2d(x, 2))

    def forward(self, x, pooling_inputs=None):
        for index in range(4):
            block = getattr(self, f"block{index}")
            x = F.relu(block.bn(block.conv(x)))
            if pooling_inputs is not None:
                pooling_inputs.append(x.detach())
            x = self.pool(x)
        return x.flatten(1)


def float32(tensor):
    """Rounds to float32 and back to float64, so Rust loads exactly the numbers used here."""
    return tensor.float().double()


def randomise(model, generator):
    """Draws every parameter and running statistic, so that no batch norm is an identity."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bn.weight"):
                draw = torch.rand(parameter.shape, generator=generator, dtype=torch.float64) + 0.5
            elif name.endswith("bn.bias"):
                draw = 0.2 * torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            else:
                # PyTorch's default convolution initialisation, uniform in +-1/sqrt(fan_in).
                fan_in = model.get_parameter(name.rsplit(".", 1)[0] + ".weight")[0].numel()
                bound = fan_in**-0.5
                draw = (torch.rand(parameter.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound
            parameter.copy_(float32(draw))
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(float32(0.2 * torch.randn(buffer.shape, generator=generator, dtype=torch.float64)))
            elif name.endswith("running_var"):
                buffer.copy_(float32(torch.rand(buffer.shape, generator=generator, dtype=torch.float64) + 0.5))


def state(model):
    """Returns every parameter and running statistic under its fsl name, as float32 numpy arrays."""
    return {
        f"encoder.{name}": tensor.detach().float().numpy().copy()
        for name, tensor in model.state_dict().items()
        if not name.endswith("num_batches_tracked")
    }


def draw_line(image, start, end):
    """Sets to 1 the pixels of a one-pixel-wide segment, sampled densely and rounded."""
    steps = 2 * int(max(abs(end[0] - start[0]), abs(end[1] - start[1]))) + 1
    for t in np.linspace(0.0, 1.0, steps):
        y = int(round(start[0] + t * (end[0] - start[0])))
        x = int(round(start[1] + t * (end[1] - start[1])))
        if 0 <= y < IMAGE_SIZE and 0 <= x < IMAGE_SIZE:
            image[y, x] = 1


def character(rng):
    """Returns a class drawing: two to four strokes, each a polyline of two or three points."""
    strokes = []
    for _ in range(rng.integers(2, 5)):
        points = rng.integers(5, IMAGE_SIZE - 5, size=(rng.integers(2, 4), 2))
        strokes.append(points.astype(float))
    return strokes


def render(strokes, rng):
    """Renders one handwritten instance: the whole drawing shifted by up to one pixel and every
    stroke point moved by up to one pixel."""
    image = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    shift = rng.integers(-1, 2, size=2)
    for points in strokes:
        moved = points + shift + rng.integers(-1, 2, size=points.shape)
        for start, end in zip(moved[:-1], moved[1:]):
            draw_line(image, start, end)
    return image


def episode_images(n_way, queries_per_class, rng):
    """Returns support and query images (uint8, N x 1 x H x W) and their labels (uint32).

    Support images are in class order, and queries are shuffled so that their labels are not sorted.
    """
    drawings = [character(rng) for _ in range(n_way)]
    support = np.stack([render(drawing, rng) for drawing in drawings])
    support_labels = np.arange(n_way, dtype=np.uint32)

    query_labels = np.repeat(np.arange(n_way, dtype=np.uint32), queries_per_class)
    rng.shuffle(query_labels)
    query = np.stack([render(drawings[label], rng) for label in query_labels])
    return support[:, None], support_labels, query[:, None], query_labels


def count_tied_windows(pooling_inputs):
    """Returns, per block, how many 2x2 pooling windows hold their positive maximum more than once,
    the ties at which the gradient's route depends on the tie-breaking rule."""
    counts = []
    for x in pooling_inputs:
        windows = F.unfold(x.flatten(0, 1)[:, None], 2, stride=2)
        maxima = windows.max(dim=1, keepdim=True).values
        tied = ((windows == maxima).sum(dim=1) > 1) & (maxima[:, 0] > 0)
        counts.append(int(tied.sum()))
    return counts


def episode_loss(model, support, support_labels, query, query_labels, pooling_inputs=None):
    """Returns the prototypical loss and accuracy of an episode, with support and query images
    in one encoder batch as `FewShotNetwork::episode` runs them."""
    images = torch.from_numpy(np.concatenate([support, query])).double()
    embeddings = model(images, pooling_inputs)
    support_count = len(support_labels)
    n_way = len(np.unique(support_labels))
    support_labels = torch.from_numpy(support_labels.astype(np.int64))
    query_labels = torch.from_numpy(query_labels.astype(np.int64))

    support_embeddings = embeddings[:support_count]
    prototypes = torch.stack([support_embeddings[support_labels == label].mean(0) for label in range(n_way)])
    distances = ((embeddings[support_count:, None, :] - prototypes[None, :, :]) ** 2).sum(-1)
    loss = F.cross_entropy(-distances, query_labels)
    accuracy = (distances.argmin(1) == query_labels).double().mean().item()
    return loss, accuracy


def relative_gradient_errors(model, reference):
    """Returns `|gradient - reference| / |reference|` per parameter, without the convolution
    biases, whose gradient is zero up to rounding."""
    return {
        name: (parameter.grad - reference[name]).norm().item() / reference[name].norm().item()
        for name, parameter in model.named_parameters()
        if not name.endswith("conv.bias")
    }


def training_step(initial, n_way, queries_per_class, rng, name):
    """Runs one episode and one Adam step from `initial` and returns the fixture entries."""
    model = Conv4(1, HIDDEN_CHANNELS).double()
    model.load_state_dict(initial)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    support, support_labels, query, query_labels = episode_images(n_way, queries_per_class, rng)
    pooling_inputs = []
    loss, accuracy = episode_loss(model, support, support_labels, query, query_labels, pooling_inputs)
    optimizer.zero_grad()
    loss.backward()

    entries = {
        f"{name}.support": support,
        f"{name}.support_labels": support_labels,
        f"{name}.query": query,
        f"{name}.query_labels": query_labels,
        f"{name}.loss": np.array([loss.item()], dtype=np.float32),
        f"{name}.accuracy": np.array([accuracy], dtype=np.float32),
    }
    for parameter_name, parameter in model.named_parameters():
        entries[f"{name}.gradient.encoder.{parameter_name}"] = parameter.grad.float().numpy().copy()
    gradients = {parameter_name: parameter.grad.clone() for parameter_name, parameter in model.named_parameters()}

    optimizer.step()
    for tensor_name, value in state(model).items():
        entries[f"{name}.after.{tensor_name}"] = value

    # The same pass with a max pooling that gives the full gradient to every tied maximum, to
    # show how far such a bug moves the gradients of this episode.
    to_every_tie = Conv4(1, HIDDEN_CHANNELS, MaxPoolToEveryTie.apply).double()
    to_every_tie.load_state_dict(initial)
    to_every_tie.train()
    episode_loss(to_every_tie, support, support_labels, query, query_labels)[0].backward()
    tie_errors = relative_gradient_errors(to_every_tie, gradients)

    ink = np.concatenate([support, query]).mean()
    print(
        f"{name}: {len(support) + len(query)} images, {ink:.1%} stroke pixels, loss {loss.item():.6f}, "
        f"accuracy {accuracy:.3f}, tied positive maxima in pooling windows per block "
        f"{count_tied_windows(pooling_inputs)}"
    )
    print(f"{name}: relative gradient change if every tied maximum got the full gradient:")
    for parameter_name, error in tie_errors.items():
        print(f"  {parameter_name}: {error:.2e}")
    return entries


def main():
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    rng = np.random.default_rng(SEED)

    model = Conv4(1, HIDDEN_CHANNELS).double()
    randomise(model, generator)
    initial = {name: tensor.clone() for name, tensor in model.state_dict().items()}

    entries = {f"initial.{name}": value for name, value in state(model).items()}
    for name, (n_way, queries_per_class) in EPISODES.items():
        entries.update(training_step(initial, n_way, queries_per_class, rng, name))

    metadata = {
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "safetensors_version": safetensors.__version__,
        "seed": str(SEED),
        "learning_rate": str(LEARNING_RATE),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: np.ascontiguousarray(value) for key, value in entries.items()}, OUT, metadata=metadata)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
