#!/usr/bin/env python3
"""Time index-level episode sampling in easyfsl and learn2learn, for `benches/sequences.rs`.

Each library samples the item indices of few-shot episodes from an Omniglot-sized label list
(964 classes x 20 images), without loading any image, as `episode_sequence/batch/...` does in
fsl:

- easyfsl's TaskSampler: one episode is one list of indices from iterating the sampler.
- learn2learn's TaskDataset with NWays, KShots and LoadData transforms, when learn2learn is
  installed.

A library that is not installed is skipped with a message. Versions used for the numbers in
docs/benchmarks.md: easyfsl 1.5.0, learn2learn 0.2.0 (built from its .pyx sources with Cython
3.0, because its shipped C sources do not compile on Python 3.11), torch 2.15.0, Python 3.11.

Exit codes: 0 when at least one library was timed, 3 when none is installed.
"""

import argparse
import statistics
import sys
import time

CLASSES = 964
IMAGES_PER_CLASS = 20
SHAPES = [("964x20_5w1s15q", 5, 1, 15), ("964x20_20w5s5q", 20, 5, 5)]
NO_LIBRARY_EXIT_CODE = 3


def episodes_per_second(sample_episode, min_time):
    """Returns the median episodes/s of repeated timed blocks of 100 episodes."""
    for _ in range(20):
        sample_episode()
    rates = []
    started = time.perf_counter()
    while time.perf_counter() - started < min_time or len(rates) < 5:
        block_start = time.perf_counter()
        for _ in range(100):
            sample_episode()
        rates.append(100 / (time.perf_counter() - block_start))
    return statistics.median(rates)


def easyfsl_samplers():
    try:
        from easyfsl.datasets import FewShotDataset
        from easyfsl.samplers import TaskSampler
    except ImportError as error:
        print(f"easyfsl skipped: {error}", file=sys.stderr)
        return None

    labels = [c for c in range(CLASSES) for _ in range(IMAGES_PER_CLASS)]

    class Labels(FewShotDataset):
        def __getitem__(self, item):
            return item, labels[item]

        def __len__(self):
            return len(labels)

        def get_labels(self):
            return labels

    def make(n_way, k_shot, q_query):
        sampler = compatible_task_sampler(TaskSampler, Labels(), n_way, k_shot, q_query)
        iterator = iter(sampler)
        return lambda: next(iterator)

    return make


def compatible_task_sampler(task_sampler, dataset, n_way, k_shot, q_query):
    """Builds an easyfsl TaskSampler, also where torch's Sampler no longer takes `data_source`.

    easyfsl 1.5.0 calls `Sampler.__init__(data_source=None)`, which torch 2.15 rejects. Only
    that call fails, so the same attributes are then set as easyfsl's constructor sets them;
    sampling itself is easyfsl's own `__iter__`.
    """
    try:
        return task_sampler(dataset, n_way=n_way, n_shot=k_shot, n_query=q_query, n_tasks=10**9)
    except TypeError:
        sampler = task_sampler.__new__(task_sampler)
        sampler.n_way, sampler.n_shot, sampler.n_query, sampler.n_tasks = n_way, k_shot, q_query, 10**9
        sampler.items_per_label = {}
        for item, label in enumerate(dataset.get_labels()):
            sampler.items_per_label.setdefault(label, []).append(item)
        return sampler


def learn2learn_samplers():
    try:
        import learn2learn as l2l
    except ImportError as error:
        print(f"learn2learn skipped: {error}", file=sys.stderr)
        return None
    import torch

    labels = [c for c in range(CLASSES) for _ in range(IMAGES_PER_CLASS)]

    class Labels(torch.utils.data.Dataset):
        def __getitem__(self, item):
            return item, labels[item]

        def __len__(self):
            return len(labels)

    dataset = l2l.data.MetaDataset(Labels())

    def make(n_way, k_shot, q_query):
        transforms = [
            l2l.data.transforms.NWays(dataset, n_way),
            l2l.data.transforms.KShots(dataset, k_shot + q_query),
            l2l.data.transforms.LoadData(dataset),
        ]
        tasks = l2l.data.TaskDataset(dataset, task_transforms=transforms, num_tasks=-1)
        return tasks.sample

    return make


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-time", type=float, default=2.0, help="measured seconds per shape (default: 2)")
    args = parser.parse_args()

    timed = False
    for name, make in (("easyfsl TaskSampler", easyfsl_samplers()), ("learn2learn TaskDataset", learn2learn_samplers())):
        if make is None:
            continue
        timed = True
        for shape, n_way, k_shot, q_query in SHAPES:
            rate = episodes_per_second(make(n_way, k_shot, q_query), args.min_time)
            print(f"episode_sequence/batch/{shape:<16} {name:<24} {rate:12.0f} episodes/s", flush=True)
    return 0 if timed else NO_LIBRARY_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
