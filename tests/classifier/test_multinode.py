"""Training across nodes: two `torchrun` launchers on loopback (c10d rendezvous, one process each) train
a few steps, pause (--max-steps), and one process resumes the run with the other world size."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from doodlelab import modelfile
from doodlelab.classifier.train import LAST
from tests.classifier.conftest import SHAPES

FLAGS = [
    "--categories",
    *SHAPES,
    "--widths",
    "8",
    "16",
    "--blocks",
    "1",
    "1",
    "--epochs",
    "2",
    "--lr",
    "0.01",
    "--batch-size",
    "32",
    "--workers",
    "0",
    "--threads",
    "1",
    "--bf16",
    "false",
    "--patience",
    "0",
]
TIMEOUT = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(out, *extra: str) -> list[str]:
    return ["-m", "doodlelab", "train", "classifier", "--out", str(out), "--no-export", *FLAGS, *extra]


@pytest.mark.slow
def test_two_nodes_on_loopback_then_a_resume_on_one_process(shapes_data, tmp_path):
    data, cache = shapes_data
    env = os.environ | {"DOODLELAB_DATA": str(data), "DOODLELAB_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    port = _free_port()
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                "2",
                "--nproc-per-node",
                "1",
                "--node-rank",
                str(rank),
                "--rdzv-backend",
                "c10d",
                "--rdzv-endpoint",
                f"127.0.0.1:{port}",
                "--rdzv-id",
                "doodlelab-test",
                *_train(tmp_path, "--max-steps", "12"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=TIMEOUT) for node in nodes]
    for node, (_, err) in zip(nodes, outputs):
        assert node.returncode == 0, err[-3000:]
    assert sum("paused after 12 steps" in out for out, _ in outputs) == 1  # global rank 0 reports
    meta = modelfile.load(tmp_path / LAST)[1]
    steps_per_epoch = 640 // 32  # 4 shapes x 200 drawings, 80% train, global batches of 32
    assert meta["config"]["max_steps"] == 12 and meta["state"]["epoch"] == 0
    assert meta["state"]["step"] == 12 < steps_per_epoch  # paused inside epoch 1, on two ranks

    alone = subprocess.run(
        [sys.executable, *_train(tmp_path)], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert alone.returncode == 0, alone.stderr[-3000:]  # world size 2 -> 1: the same global batches
    state = modelfile.load(tmp_path / LAST)[1]["state"]
    assert state["epoch"] == 2 and "step" not in state
    assert max(state["history"]["val_accuracy"]) > 0.35  # it learned: chance is 0.25 (2 epochs of 20 steps)
    assert "test top-1" in alone.stdout
