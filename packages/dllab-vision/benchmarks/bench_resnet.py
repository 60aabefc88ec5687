"""dllab.vision against its references, in one process, interleaved after a warm-up.

1. Training throughput (images/s) of dllab's CIFAR ResNet-18 against torchvision's resnet18
   adapted the same way (3×3 stem, no max-pool), from the same weights, on the same batch.
2. Batched on-tensor augmentation (crop, flip, colour jitter, normalisation) of a batch of
   256 images against the per-image torchvision v2 pipeline run through a DataLoader.
3. One epoch of the narrow ResNet on ShapesData (augmented on the device): dllab's Trainer
   against a hand-written loop doing the same steps.

The last line is one JSON object: ``resnet18_over_torchvision`` (throughput ratio, target
>= 0.95), ``batched_aug_speedup`` (target >= 5) and ``trainer_over_raw`` (epoch-time ratio,
target <= 1.05).

    uv run python packages/dllab-vision/benchmarks/bench_resnet.py [--repeats 5]
    uv run python packages/dllab-vision/benchmarks/bench_resnet.py --device cuda  # bf16, NHWC
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import tempfile
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from dllab.core.bench import interleaved, ratio, report
from dllab.vision.augment import BatchAugment, standard_pipeline
from dllab.vision.resnet import ResNetConfig, ResNetNetwork, load_torchvision_weights


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="Samples per contender.")
    parser.add_argument("--batch-size", type=int, default=32, help="ResNet-18 training batch.")
    parser.add_argument("--size", type=int, default=32, help="Image side for ResNet-18.")
    parser.add_argument("--steps", type=int, default=2, help="ResNet-18 steps per sample.")
    parser.add_argument("--aug-batch", type=int, default=256, help="Images to augment.")
    parser.add_argument("--samples", type=int, default=2000, help="ShapesData images (part 3).")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for bf16 + channels_last.")
    return parser.parse_args(argv)


# ---- 1. ResNet-18 training throughput -----------------------------------------------------
def torchvision_cifar_resnet18() -> nn.Module:
    """torchvision's resnet18 with the CIFAR stem: a 3×3 stride-1 conv and no max-pool."""
    import torchvision

    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    return net


def train_steps(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> Callable[[], None]:
    """A closure running ``steps`` SGD steps on one batch (bf16 autocast on CUDA)."""
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    cuda = x.device.type == "cuda"

    def run() -> None:
        for _ in range(steps):
            autocast = torch.autocast("cuda", torch.bfloat16) if cuda else contextlib.nullcontext()
            with autocast:
                loss = F.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if cuda:
            torch.cuda.synchronize()

    return run


def bench_resnet18(args: argparse.Namespace) -> float:
    device = torch.device(args.device)
    torch.manual_seed(0)
    reference = torchvision_cifar_resnet18()
    ours = ResNetNetwork(ResNetConfig(stem="cifar"))
    load_torchvision_weights(ours, reference.state_dict())  # the same starting weights
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    ours, reference = (m.to(device, memory_format=fmt).train() for m in (ours, reference))
    x = torch.randn(args.batch_size, 3, args.size, args.size, device=device)
    x = x.contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (args.batch_size,), device=device)
    samples = interleaved(
        {
            "dllab": train_steps(ours, x, y, args.steps),
            "torchvision": train_steps(reference, x, y, args.steps),
        },
        repeats=args.repeats,
    )
    images = args.batch_size * args.steps
    print(f"ResNet-18 (CIFAR stem) training, batch {args.batch_size}, {args.size}x{args.size}, "
          f"{device.type}: images/s = {images} / time")  # fmt: skip
    best = report("  seconds per sample", samples, unit=1.0, unit_name="s")
    for name, seconds in best.items():
        print(f"  {name:>12}: {images / seconds:9.1f} images/s")
    return ratio(best, "torchvision", "dllab")  # throughput ratio: ours over torchvision


# ---- 2. batched augmentation ----------------------------------------------------------------
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def bench_augmentation(args: argparse.Namespace) -> float:
    from torch.utils.data import DataLoader, Dataset

    torch.manual_seed(0)
    images = torch.randint(0, 256, (args.aug_batch, 3, 32, 32), dtype=torch.uint8)
    pipeline = standard_pipeline(mean=MEAN, std=STD)

    class PerImage(Dataset):
        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, i: int) -> torch.Tensor:
            return pipeline(images[i])

    loader = DataLoader(PerImage(), batch_size=args.aug_batch, num_workers=0)
    augment = BatchAugment()
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)

    def per_image() -> None:
        for batch in loader:
            assert batch.shape == images.shape

    def batched() -> None:
        out = (augment(images) - mean) / std
        assert out.shape == images.shape

    samples = interleaved({"per-image v2": per_image, "batched": batched}, repeats=args.repeats)
    best = report(f"augmentation of {args.aug_batch} images (crop, flip, jitter, normalise)",
                  samples)  # fmt: skip
    return ratio(best, "per-image v2", "batched")


# ---- 3. Trainer against a hand-written loop -------------------------------------------------
def bench_trainer(args: argparse.Namespace) -> float:
    from lightning.pytorch.callbacks import Callback

    from dllab.core.trainer import Trainer
    from dllab.vision.data.shapes import ShapesData
    from dllab.vision.model import ResNetSmall

    data = ShapesData(samples=args.samples, test_samples=1, val_fraction=0.0, batch_size=64)
    data.setup("fit")
    X, y = data.train_tensors
    steps = math.ceil(len(X) / data.batch_size)
    times: dict[str, list[float]] = {"dllab Trainer": [], "raw loop": []}

    def model() -> ResNetSmall:
        torch.manual_seed(0)
        return ResNetSmall(mean=data.mean, std=data.std, schedule="onecycle")

    class EpochTimer(Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.tic = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            times["dllab Trainer"].append(time.perf_counter() - self.tic)

    def trainer_epoch() -> None:
        with tempfile.TemporaryDirectory() as root:
            trainer = Trainer(max_epochs=1, runs_dir=root, progress_bar=False,
                              accelerator="cpu", callbacks=[EpochTimer()])  # fmt: skip
            trainer.fit(model(), data)

    def raw_epoch() -> None:
        """The same step by hand: on-device scaling and augmentation, the recipe, one-cycle."""
        net = model()
        decay = [p for p in net.parameters() if p.ndim > 1]
        no_decay = [p for p in net.parameters() if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}]
        opt = torch.optim.SGD(groups, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps)
        net.train()
        tic = time.perf_counter()
        order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
        for idx in order.split(data.batch_size):
            images = data.augment(X[idx])
            loss = F.cross_entropy(net(images), y[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        times["raw loop"].append(time.perf_counter() - tic)

    interleaved({"trainer": trainer_epoch, "raw": raw_epoch}, repeats=args.repeats, warmup=1)
    samples = {name: values[1:] for name, values in times.items()}  # drop the warm-up
    best = report(f"one epoch of ResNet-small on {len(X)} shapes (batch 64, augmented)",
                  samples, unit=1.0, unit_name="s")  # fmt: skip
    return ratio(best, "dllab Trainer", "raw loop")


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    import lightning.pytorch  # noqa: F401  (sets its loggers up; quiet them afterwards)

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*Total length of .* across ranks is zero.*")  # no val split
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    ratios = {
        "resnet18_over_torchvision": bench_resnet18(args),
        "batched_aug_speedup": bench_augmentation(args),
        "trainer_over_raw": bench_trainer(args),
    }
    print(json.dumps(ratios))
    return ratios


if __name__ == "__main__":
    main()
