"""Tiny fixtures for tests: a linear regression model and its data (Lightning's BoringModel)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dllab.core.data.datamodule import TensorDataModule
from dllab.core.module import Module


class BoringModel(Module):
    """Linear regression with a fixed-size input; learns ``BoringDataModule`` quickly."""

    def __init__(self, in_features: int = 8, lr: float = 0.05) -> None:
        super().__init__(lr=lr)
        self.save_hyperparameters()
        self.net = nn.Linear(in_features, 1)


class BoringDataModule(TensorDataModule):
    """``y = X @ w + 0.1 * noise`` with a seeded ``w``; 256 samples by default."""

    def __init__(
        self, n: int = 256, in_features: int = 8, batch_size: int = 32, seed: int = 0
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.n, self.in_features = n, in_features

    def build(self) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(self.seed)
        X = torch.randn(self.n, self.in_features, generator=g)
        w = torch.randn(self.in_features, 1, generator=g)
        return X, X @ w + 0.1 * torch.randn(self.n, 1, generator=g)
