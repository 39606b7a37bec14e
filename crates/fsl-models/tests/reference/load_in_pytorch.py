"""Loads networks written by `FewShotNetwork::save` into PyTorch and checks them against Rust.

Usage, from any folder:

    python3 load_in_pytorch.py --model DIR --io FILE [--model DIR --io FILE ...]
    python3 load_in_pytorch.py --write-names

For each `--model DIR` (holding `config.json` and `model.safetensors`) and its `--io FILE`, the
script builds the PyTorch module of `config.json` with the encoders of `generate_encoders.py`,
loads the weights with `load_state_dict(strict=True)` and runs it in evaluation mode in float64.
The io file is a safetensors file written by the Rust test `tests/pytorch_loading.rs` with
`input` (images), `embeddings` (the Rust evaluation-mode embeddings) and, for a siamese head
with a learnt kernel, `pair_scores` (the Rust kernel on every pair of embeddings). The script
exits with status 1 and names each difference if a tensor name, a shape or an output differs:
outputs must agree within a relative error of 1e-4, `max|torch - rust| / max|rust|`.

PyTorch's `BatchNorm2d` has one state entry that fsl does not store: `num_batches_tracked`, the
number of training batches seen. PyTorch reads it only when `momentum=None` (a cumulative
average), never with the momentum 0.1 that fsl and PyTorch use by default, so the script sets it
to 0. Every other name must match exactly in both directions.

`--write-names` writes `../fixtures/pytorch/parameter_names.json`: for each test case its Rust
`ModelConfig` JSON, its input shape and the name and shape of every entry of the PyTorch state
dict except `num_batches_tracked`. The Rust test compares saved networks with that list without
Python. Written with torch 2.15.0 and safetensors 0.8.0; the file stores the torch version.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

# Python puts this script's folder first on sys.path, so the sibling module imports from anywhere.
from generate_encoders import SMALL, build

NAMES_FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "pytorch" / "parameter_names.json"
RELATIVE_TOLERANCE = 1e-4
TORCH_ONLY_SUFFIX = ".num_batches_tracked"

# Heads without parameters: the scores come from the embeddings alone.
PARAMETER_FREE_HEADS = {"prototypical", "matching"}
FIXED_KERNELS = {"l1", "squared_l2", "linf", "cosine_distance", "cosine_similarity", "dot"}

# The test cases of the names fixture: every encoder at its small size from `generate_encoders.py`
# with a prototypical head, and KochNet with the dense-sigmoid siamese head of Koch et al.
PROTOTYPICAL = {"kind": "prototypical"}
DENSE_SIGMOID = {"kind": "siamese", "kernel": {"kind": "dense_sigmoid"}}
CASES = {name: (encoder, PROTOTYPICAL, shape) for name, (encoder, shape) in SMALL.items()}
CASES["koch_net_dense_sigmoid"] = (SMALL["koch_net"][0], DENSE_SIGMOID, SMALL["koch_net"][1])


class ConfigError(Exception):
    """A `config.json` that this script cannot turn into a PyTorch module."""


class Mismatch(Exception):
    """A difference between the Rust network and its PyTorch module."""


class FewShotModel(nn.Module):
    """An fsl `FewShotNetwork` in PyTorch: `encoder.*` from `generate_encoders.py` and `head.*`.

    The dense-sigmoid head is `nn.Linear(D, 1)`, so its parameters are `head.weight` (`1 x D`) and
    `head.bias` (`1`), as fsl names them.
    """

    def __init__(self, config, input_shape):
        super().__init__()
        encoder_config = config.get("encoder")
        if not isinstance(encoder_config, dict) or "kind" not in encoder_config:
            raise ConfigError(f"`encoder` must be an object with a `kind`, got {encoder_config!r}")
        try:
            self.encoder = build(encoder_config)
        except KeyError as error:
            raise ConfigError(f"encoder kind {encoder_config['kind']!r} has no PyTorch reference") from error
        except TypeError as error:
            raise ConfigError(
                f"encoder configuration {encoder_config} does not fit the PyTorch reference: {error}"
            ) from error

        head = config.get("head", PROTOTYPICAL)
        kind = head.get("kind")
        kernel = head.get("kernel", {}).get("kind") if kind == "siamese" else None
        if kind in PARAMETER_FREE_HEADS or kernel in FIXED_KERNELS:
            self.head = None
        elif kernel == "dense_sigmoid":
            self.head = nn.Linear(self.embedding_size(input_shape), 1)
        else:
            raise ConfigError(
                f"head {head} has no PyTorch reference: this script supports parameter-free heads and dense_sigmoid"
            )

    def embedding_size(self, input_shape):
        was_training = self.encoder.training
        self.encoder.eval()
        with torch.no_grad():
            size = self.encoder(torch.zeros((1, *input_shape[1:]))).shape[1]
        self.encoder.train(was_training)
        return size

    def pair_scores(self, a, b):
        """Returns `sigmoid(w · |a_i - b_j| + b)` for every pair, an `len(a) x len(b)` matrix."""
        distances = (a[:, None, :] - b[None, :, :]).abs()
        return torch.sigmoid(self.head(distances)).squeeze(-1)


def load_weights(model, path):
    """Loads a safetensors file written by fsl into `model`, after naming every difference."""
    stored = load_file(str(path))
    expected = model.state_dict()

    problems = []
    missing = sorted(name for name in expected if name not in stored and not name.endswith(TORCH_ONLY_SUFFIX))
    unexpected = sorted(name for name in stored if name not in expected)
    if missing:
        problems.append(f"names the PyTorch module has but {path} lacks: {missing}")
    if unexpected:
        problems.append(f"names in {path} that the PyTorch module lacks: {unexpected}")
    for name in sorted(set(stored) & set(expected)):
        if tuple(stored[name].shape) != tuple(expected[name].shape):
            problems.append(
                f"{name}: shape {list(stored[name].shape)} in {path}, {list(expected[name].shape)} in PyTorch"
            )
        if stored[name].dtype != torch.float32:
            problems.append(f"{name}: dtype {stored[name].dtype} in {path}, expected torch.float32")
    if problems:
        raise Mismatch("; ".join(problems))

    for name in expected:
        if name.endswith(TORCH_ONLY_SUFFIX):
            stored[name] = torch.zeros((), dtype=torch.long)
    model.load_state_dict(stored, strict=True)


def compare(label, actual, expected):
    """Returns the relative error `max|actual - expected| / max|expected|`, raising past the tolerance."""
    if tuple(actual.shape) != tuple(expected.shape):
        raise Mismatch(f"{label}: PyTorch shape {list(actual.shape)}, Rust shape {list(expected.shape)}")
    expected = expected.double()
    scale = expected.abs().max().item()
    difference = (actual - expected).abs().max().item()
    error = difference / scale if scale > 0 else difference
    if not error <= RELATIVE_TOLERANCE:
        raise Mismatch(
            f"{label}: relative error {error:.3e} exceeds {RELATIVE_TOLERANCE:.0e} "
            f"(max |difference| {difference:.3e}, max |Rust value| {scale:.3e})"
        )
    return error


def check(model_dir, io_path):
    """Builds, loads and runs one saved network and returns a summary line, raising on any difference."""
    config = json.loads((model_dir / "config.json").read_text())
    io = load_file(str(io_path))
    for key in ("input", "embeddings"):
        if key not in io:
            raise Mismatch(f"{io_path} has no `{key}` tensor")
    images = io["input"]

    model = FewShotModel(config, tuple(images.shape))
    load_weights(model, model_dir / "model.safetensors")
    model = model.double().eval()
    with torch.no_grad():
        embeddings = model.encoder(images.double())
        errors = [f"embeddings {compare('embeddings', embeddings, io['embeddings']):.1e}"]
        if model.head is not None:
            if "pair_scores" not in io:
                raise Mismatch(f"{io_path} has no `pair_scores` tensor for the learnt head")
            scores = model.pair_scores(embeddings, embeddings)
            errors.append(f"pair scores {compare('pair_scores', scores, io['pair_scores']):.1e}")
        elif "pair_scores" in io:
            raise Mismatch(f"{io_path} has `pair_scores` but the head {config.get('head')} has no parameters")
    return f"{model_dir.name}: {len(model.state_dict())} state entries loaded, relative error " + ", ".join(errors)


def write_names():
    cases = {}
    for name, (encoder, head, input_shape) in CASES.items():
        config = {"encoder": encoder, "head": head, "seed": 0}
        model = FewShotModel(config, input_shape)
        cases[name] = {
            "config": config,
            "input_shape": list(input_shape),
            "parameters": {
                key: list(value.shape)
                for key, value in model.state_dict().items()
                if not key.endswith(TORCH_ONLY_SUFFIX)
            },
        }
    NAMES_FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    document = {"torch_version": torch.__version__, "cases": cases}
    NAMES_FIXTURE.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {len(cases)} cases to {NAMES_FIXTURE}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", action="append", default=[], type=Path, help="folder written by FewShotNetwork::save"
    )
    parser.add_argument(
        "--io", action="append", default=[], type=Path, help="safetensors file of the inputs and Rust outputs"
    )
    parser.add_argument("--write-names", action="store_true", help=f"write {NAMES_FIXTURE.name} and exit")
    arguments = parser.parse_args()

    if arguments.write_names:
        write_names()
        return 0
    if not arguments.model or len(arguments.model) != len(arguments.io):
        parser.error("give one --io file for each --model folder, and at least one pair")

    failures = 0
    for model_dir, io_path in zip(arguments.model, arguments.io):
        try:
            print(f"ok: {check(model_dir, io_path)}")
        except (ConfigError, Mismatch, OSError, RuntimeError, ValueError, SafetensorError) as error:
            failures += 1
            print(f"FAILED: {model_dir}: {error}", file=sys.stderr)
    if failures:
        print(f"{failures} of {len(arguments.model)} networks failed the comparison with PyTorch", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
