"""DDP under torchrun (two CPU processes, gloo) equals single-process full-batch training.

Tolerance 1e-6 on every parameter (float64; see test_manual.py).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from dllab.core.testing import assert_close_to_reference
from dllab.parallel.launch import free_port
from dllab.parallel.toy import ToyProblem, train_single


@pytest.mark.slow
@pytest.mark.distributed
def test_ddp_under_torchrun_equals_single_process(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    command += ["--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    command += ["-m", "dllab.parallel.toy", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    reference = train_single(ToyProblem())
    for rank in range(2):
        saved = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert saved["problem"] == ToyProblem().__dict__
        for key, value in reference.items():
            assert_close_to_reference(saved["state"][key], value, atol=1e-6, name=key)
