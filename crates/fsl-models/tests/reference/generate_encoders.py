"""Generates the PyTorch reference fixtures of the fsl-models encoders.

Run from this folder: `python3 generate_encoders.py` writes `../fixtures/encoders/`, read by
`tests/encoders.rs`; the Rust tests never need Python. Written with torch 2.15.0 (CPU) and the
`safetensors` package 0.8.0; the torch version that produced the files is stored in
`configs.json` as `torch_version`.

Each encoder is written here in PyTorch from its published description, with module names equal to
the Rust parameter names. For every encoder, at a small width and image size:

- `<name>.weights.safetensors` contains every parameter and batch-norm running statistic (float32),
  drawn at random so that batch norm in evaluation mode is not the identity;
- `<name>.io.safetensors` contains `input`, `eval_output` (evaluation mode), and for encoders with
  batch norm `train_output` (training mode, batch statistics) and `running_after.<buffer>`, the
  running statistics after that training pass. For every encoder without dropout it also contains
  `gradient.<parameter>`, the gradient of the sum of the squared training-mode outputs.

The forward passes run in float64 on float32 weights and inputs, so the expected outputs are
exact up to the final rounding to float32. `configs.json` stores each small configuration as the
Rust `EncoderConfig` JSON. `parameter_counts.json` stores, for the published configurations, the
number of trainable parameters (`sum(p.numel() for p in parameters())`), of batch-norm running
statistics, and the embedding and last feature-map shapes for the documented input size.
"""

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

SEED = 20260512
OUT = Path(__file__).resolve().parent.parent / "fixtures" / "encoders"


class ConvNorm(nn.Module):
    """Bias-free convolution padded by half its kernel, then batch norm."""

    def __init__(self, in_channels, out_channels, kernel, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return self.bn(self.conv(x))


def leaky(x):
    return F.leaky_relu(x, 0.1)


class Conv4(nn.Module):
    def __init__(self, in_channels, hidden_channels, image_size):
        super().__init__()
        channels = [in_channels] + [hidden_channels] * 4
        for index in range(4):
            block = nn.Module()
            block.conv = nn.Conv2d(channels[index], channels[index + 1], 3, padding=1)
            block.bn = nn.BatchNorm2d(channels[index + 1])
            setattr(self, f"block{index}", block)

    def forward(self, x):
        for index in range(4):
            block = getattr(self, f"block{index}")
            x = F.max_pool2d(F.relu(block.bn(block.conv(x))), 2)
        return x.flatten(1)


class KochNet(nn.Module):
    KERNELS = [10, 7, 4, 4]

    def __init__(self, in_channels, image_size, channels, embedding_size):
        super().__init__()
        side = image_size
        previous = in_channels
        for index, (kernel, filters) in enumerate(zip(self.KERNELS, channels)):
            setattr(self, f"conv{index}", nn.Conv2d(previous, filters, kernel))
            side = side - kernel + 1
            if index < 3:
                side //= 2
            previous = filters
        self.dense = nn.Linear(previous * side * side, embedding_size)

    def forward(self, x):
        for index in range(4):
            x = F.relu(getattr(self, f"conv{index}")(x))
            if index < 3:
                x = F.max_pool2d(x, 2)
        return torch.sigmoid(self.dense(x.flatten(1)))


class BasicCnn(nn.Module):
    def __init__(self, in_channels, image_size, conv_channels, embedding_size, conv_dropout, dense_dropout):
        super().__init__()
        self.conv0 = nn.Conv2d(in_channels, conv_channels, 3, padding=1)
        self.conv1 = nn.Conv2d(conv_channels, conv_channels, 3, padding=1)
        side = image_size // 2
        self.dense = nn.Linear(conv_channels * side * side, embedding_size)
        self.conv_dropout = nn.Dropout(conv_dropout)
        self.dense_dropout = nn.Dropout(dense_dropout)

    def forward(self, x):
        x = self.conv_dropout(F.relu(self.conv0(x)))
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        return self.dense_dropout(F.relu(self.dense(x.flatten(1))))


class SingleConv2d(nn.Module):
    def __init__(self, in_channels, filters):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, filters, 3)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


class Darknet7(nn.Module):
    def __init__(self, in_channels, base_channels):
        super().__init__()
        previous = in_channels
        for index in range(7):
            setattr(self, f"block{index}", ConvNorm(previous, base_channels * 2**index, 3))
            previous = base_channels * 2**index

    def features(self, x):
        for index in range(7):
            x = leaky(getattr(self, f"block{index}")(x))
            if index < 5:
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            elif index == 5:
                # Darknet's size-2 stride-1 pooling keeps the size: pad bottom and right with -inf.
                x = F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=-math.inf), 2, 1)
        return x

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


class Darknet53(nn.Module):
    def __init__(self, in_channels, base_channels, residual_blocks):
        super().__init__()
        self.stem = ConvNorm(in_channels, base_channels, 3)
        previous = base_channels
        self.blocks = residual_blocks
        for stage_index, blocks in enumerate(residual_blocks):
            channels = base_channels * 2 ** (stage_index + 1)
            stage = nn.Module()
            stage.downsample = ConvNorm(previous, channels, 3, stride=2)
            for block in range(blocks):
                residual = nn.Module()
                residual.reduce = ConvNorm(channels, channels // 2, 1)
                residual.expand = ConvNorm(channels // 2, channels, 3)
                setattr(stage, f"residual{block}", residual)
            setattr(self, f"stage{stage_index}", stage)
            previous = channels

    def features(self, x):
        x = leaky(self.stem(x))
        for stage_index, blocks in enumerate(self.blocks):
            stage = getattr(self, f"stage{stage_index}")
            x = leaky(stage.downsample(x))
            for block in range(blocks):
                residual = getattr(stage, f"residual{block}")
                x = x + leaky(residual.expand(leaky(residual.reduce(x))))
        return x

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


class ResNet12(nn.Module):
    def __init__(self, in_channels, channels):
        super().__init__()
        previous = in_channels
        for index, filters in enumerate(channels):
            block = nn.Module()
            block.conv0 = ConvNorm(previous, filters, 3)
            block.conv1 = ConvNorm(filters, filters, 3)
            block.conv2 = ConvNorm(filters, filters, 3)
            block.shortcut = ConvNorm(previous, filters, 1)
            setattr(self, f"block{index}", block)
            previous = filters

    def features(self, x):
        for index in range(4):
            block = getattr(self, f"block{index}")
            y = leaky(block.conv0(x))
            y = leaky(block.conv1(y))
            y = block.conv2(y)
            x = F.max_pool2d(leaky(y + block.shortcut(x)), 2)
        return x

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


def build(config):
    """Builds the PyTorch module of a Rust `EncoderConfig` JSON object."""
    fields = {key: value for key, value in config.items() if key not in ("kind", "dropout_seed", "backend")}
    kind = config["kind"]
    return {
        "conv4": Conv4,
        "koch_net": KochNet,
        "basic_cnn": BasicCnn,
        "single_conv2d": SingleConv2d,
        "darknet7": Darknet7,
        "darknet53": Darknet53,
        "resnet12": ResNet12,
    }[kind](**fields)


# Small configurations for the forward-pass fixtures, with input shapes. Odd sides exercise the
# ceil-mode poolings of Darknet and the floor-mode ones of the others.
SMALL = {
    "conv4": ({"kind": "conv4", "in_channels": 1, "hidden_channels": 4, "image_size": 19}, (3, 1, 19, 19)),
    "koch_net": (
        {"kind": "koch_net", "in_channels": 1, "image_size": 80, "channels": [4, 6, 6, 8], "embedding_size": 12},
        (2, 1, 80, 80),
    ),
    "basic_cnn": (
        {
            "kind": "basic_cnn",
            "in_channels": 2,
            "image_size": 11,
            "conv_channels": 4,
            "embedding_size": 10,
            "conv_dropout": 0.2,
            "dense_dropout": 0.5,
            "dropout_seed": 0,
        },
        (3, 2, 11, 11),
    ),
    "single_conv2d": ({"kind": "single_conv2d", "in_channels": 3, "filters": 5}, (2, 3, 9, 7)),
    "darknet7": ({"kind": "darknet7", "in_channels": 3, "base_channels": 1}, (2, 3, 70, 45)),
    "darknet53": (
        {"kind": "darknet53", "in_channels": 3, "base_channels": 1, "residual_blocks": [1, 2, 2, 2, 1]},
        (2, 3, 37, 37),
    ),
    "resnet12": ({"kind": "resnet12", "in_channels": 3, "channels": [3, 4, 5, 6]}, (2, 3, 35, 35)),
}

# Published configurations and their documented input sizes, for the parameter counts and shapes.
FULL = {
    "conv4": ({"kind": "conv4", "in_channels": 1, "hidden_channels": 64, "image_size": 28}, (1, 1, 28, 28)),
    "koch_net": (
        {"kind": "koch_net", "in_channels": 1, "image_size": 105, "channels": [64, 128, 128, 256], "embedding_size": 4096},
        (1, 1, 105, 105),
    ),
    "basic_cnn": (
        {
            "kind": "basic_cnn",
            "in_channels": 1,
            "image_size": 28,
            "conv_channels": 32,
            "embedding_size": 512,
            "conv_dropout": 0.2,
            "dense_dropout": 0.5,
            "dropout_seed": 0,
        },
        (1, 1, 28, 28),
    ),
    "single_conv2d": ({"kind": "single_conv2d", "in_channels": 1, "filters": 10}, (1, 1, 28, 28)),
    "darknet7": ({"kind": "darknet7", "in_channels": 3, "base_channels": 16}, (1, 3, 224, 224)),
    "darknet53": (
        {"kind": "darknet53", "in_channels": 3, "base_channels": 32, "residual_blocks": [1, 2, 8, 8, 4]},
        (1, 3, 224, 224),
    ),
    "resnet12": ({"kind": "resnet12", "in_channels": 3, "channels": [64, 160, 320, 640]}, (1, 3, 84, 84)),
}


def float32(tensor):
    """Rounds to float32 and back to float64, so Rust loads exactly the numbers used here."""
    return tensor.float().double()


def randomise(model, generator):
    """Draws every parameter and running statistic so that no layer is an identity."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bn.weight"):
                parameter.copy_(float32(torch.rand(parameter.shape, generator=generator, dtype=torch.float64) + 0.5))
            elif name.endswith("bn.bias"):
                parameter.copy_(float32(0.2 * torch.randn(parameter.shape, generator=generator, dtype=torch.float64)))
            else:
                fan_in = parameter[0].numel() if parameter.dim() > 1 else max(1, parameter.numel())
                bound = 1.0 / math.sqrt(fan_in) if parameter.dim() > 1 else 0.3
                draw = torch.rand(parameter.shape, generator=generator, dtype=torch.float64) * 2 - 1
                parameter.copy_(float32(draw * bound * 1.7))
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(float32(0.2 * torch.randn(buffer.shape, generator=generator, dtype=torch.float64)))
            elif name.endswith("running_var"):
                buffer.copy_(float32(torch.rand(buffer.shape, generator=generator, dtype=torch.float64) + 0.5))


def state(model):
    """Returns parameters and running statistics as float32, without `num_batches_tracked`."""
    return {
        name: tensor.detach().float().contiguous()
        for name, tensor in model.state_dict().items()
        if not name.endswith("num_batches_tracked")
    }


def has_dropout(model):
    return any(isinstance(module, nn.Dropout) and module.p > 0 for module in model.modules())


def has_batch_norm(model):
    return any(isinstance(module, nn.BatchNorm2d) for module in model.modules())


def small_fixture(name, config, input_shape, generator):
    model = build(config).double()
    randomise(model, generator)
    images = float32(torch.rand(input_shape, generator=generator, dtype=torch.float64) * 2 - 1)
    save_file(state(model), OUT / f"{name}.weights.safetensors")

    model.eval()
    with torch.no_grad():
        io = {"input": images.float(), "eval_output": model(images).float()}

    if has_batch_norm(model):
        model.train()
        trained = model(images)
        io["train_output"] = trained.detach().float()
        for buffer, value in model.named_buffers():
            if not buffer.endswith("num_batches_tracked"):
                io[f"running_after.{buffer}"] = value.float()
    elif not has_dropout(model):
        trained = model(images)
    else:
        trained = None

    # Gradients of the sum of squared training-mode outputs, unless dropout makes that pass random.
    if trained is not None:
        (trained**2).sum().backward()
        for parameter_name, parameter in model.named_parameters():
            io[f"gradient.{parameter_name}"] = parameter.grad.float()
    save_file({key: value.contiguous() for key, value in io.items()}, OUT / f"{name}.io.safetensors")

    scale = io["eval_output"].abs().max().item()
    print(f"{name}: eval output {tuple(io['eval_output'].shape)}, max |value| {scale:.3f}")
    return config


def full_counts(config, input_shape):
    model = build(config).eval()
    images = torch.zeros(input_shape)
    with torch.no_grad():
        embedding = model(images)
        features = model.features(images) if hasattr(model, "features") else None
    return {
        "config": config,
        "trainable": sum(parameter.numel() for parameter in model.parameters()),
        "buffers": sum(
            buffer.numel() for name, buffer in model.named_buffers() if not name.endswith("num_batches_tracked")
        ),
        "input_shape": list(input_shape),
        "embedding_shape": list(embedding.shape),
        "feature_shape": list(features.shape) if features is not None else None,
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(SEED)

    configs = {"torch_version": torch.__version__, "encoders": {}}
    for name, (config, input_shape) in SMALL.items():
        configs["encoders"][name] = small_fixture(name, config, input_shape, generator)
    (OUT / "configs.json").write_text(json.dumps(configs, indent=2) + "\n")

    counts = {"torch_version": torch.__version__, "encoders": {}}
    for name, (config, input_shape) in FULL.items():
        counts["encoders"][name] = full_counts(config, input_shape)
        print(f"{name}: {counts['encoders'][name]['trainable']:,} trainable parameters")
    (OUT / "parameter_counts.json").write_text(json.dumps(counts, indent=2) + "\n")


if __name__ == "__main__":
    main()
