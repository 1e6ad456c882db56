"""A dense neural network from scratch in NumPy (no torch): layers with forward/backward, optimizers,
the MNIST training loop (`doodlelab.scratch.train`) and `.npz` weights. Read layers.py, optim.py, train.py.
"""

from doodlelab.lr_schedules import lr_at
from doodlelab.scratch.digits import DigitClassifier
from doodlelab.scratch.layers import (
    Dropout,
    Linear,
    Param,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
    mlp,
    softmax,
)
from doodlelab.scratch.model_io import load_model, save_model
from doodlelab.scratch.optim import SGD, Adam
from doodlelab.scratch.train import MLPConfig, TrainResult, evaluate

__all__ = [
    "SGD",
    "Adam",
    "DigitClassifier",
    "Dropout",
    "Linear",
    "MLPConfig",
    "Param",
    "ReLU",
    "Sequential",
    "SoftmaxCrossEntropy",
    "TrainResult",
    "evaluate",
    "load_model",
    "lr_at",
    "mlp",
    "save_model",
    "softmax",
]
