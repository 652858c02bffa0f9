"""One sample of every built-in layer: how to build it (with non-default arguments where it has them)
and an input to run it on. Shared by the save/load tests (every layer reloads without code) and the
ONNX export tests (every layer exports and runs in onnxruntime). A layer added to ``pyengine.nn``
without an entry here fails ``test_every_layer_has_a_case``.
"""
from pyengine import nn

# name -> (build, input shapes (batch first), kind: "float" | "index")
LAYERS = {
    "Identity": (lambda: nn.Identity(), [(2, 3)]),
    "Linear": (lambda: nn.Linear(5, 4), [(3, 5)]),
    "Linear-3d-no-bias": (lambda: nn.Linear(5, 4, bias=False), [(2, 3, 5)]),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1), [(2, 3, 7, 6)]),
    "Conv2d-stride-dilation-groups": (lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(2, 1), dilation=(2, 1),
                                                        groups=2, bias=False), [(2, 4, 9, 8)]),
    "Conv2d-same": (lambda: nn.Conv2d(2, 3, 4, padding="same"), [(1, 2, 7, 7)]),
    "Conv2d-depthwise": (lambda: nn.Conv2d(4, 4, 3, stride=2, groups=4), [(2, 4, 9, 9)]),
    "Conv2d-reflect": (lambda: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect"), [(2, 2, 6, 7)]),
    "Conv2d-circular-unbatched": (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"), [(2, 5, 5)]),
    "Conv1d": (lambda: nn.Conv1d(3, 4, 3, padding=1), [(2, 3, 9)]),
    "Conv1d-stride-dilation-groups-replicate": (lambda: nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2,
                                                                  bias=False, padding_mode="replicate"), [(2, 4, 11)]),
    "Conv1d-same": (lambda: nn.Conv1d(2, 3, 4, padding="same"), [(1, 2, 7)]),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), [(2, 3, 5, 4)]),
    "ConvTranspose2d-groups-dilation": (lambda: nn.ConvTranspose2d(4, 6, (3, 2), stride=(1, 2), dilation=2, groups=2,
                                                                   bias=False), [(1, 4, 5, 6)]),
    "MaxPool1d": (lambda: nn.MaxPool1d(3, 2, padding=1), [(2, 3, 9)]),
    "AvgPool1d": (lambda: nn.AvgPool1d(3, 2, padding=1, count_include_pad=False), [(2, 3, 9)]),
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(4), [(2, 3, 10)]),
    "AdaptiveMaxPool1d": (lambda: nn.AdaptiveMaxPool1d(4), [(2, 3, 10)]),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d((3, 2)), [(2, 3, 7, 5)]),
    "Dropout1d": (lambda: nn.Dropout1d(0.3), [(2, 3, 5)]),
    "Dropout2d": (lambda: nn.Dropout2d(0.3), [(2, 3, 5, 4)]),
    "Upsample-nearest": (lambda: nn.Upsample(scale_factor=2), [(2, 3, 4, 5)]),
    "Upsample-bilinear": (lambda: nn.Upsample(size=(7, 3), mode="bilinear", align_corners=True), [(2, 3, 4, 5)]),
    "UpsamplingNearest2d": (lambda: nn.UpsamplingNearest2d(size=(3, 7)), [(2, 3, 4, 5)]),
    "UpsamplingBilinear2d": (lambda: nn.UpsamplingBilinear2d(scale_factor=1.5), [(2, 3, 4, 5)]),
    "PixelShuffle": (lambda: nn.PixelShuffle(2), [(2, 8, 3, 4)]),
    "PixelUnshuffle": (lambda: nn.PixelUnshuffle(2), [(2, 2, 4, 6)]),
    "ZeroPad1d": (lambda: nn.ZeroPad1d((1, 2)), [(2, 3, 5)]),
    "ZeroPad2d": (lambda: nn.ZeroPad2d((1, 2, 0, 3)), [(2, 3, 4, 5)]),
    "ConstantPad1d": (lambda: nn.ConstantPad1d(2, 0.5), [(2, 3, 5)]),
    "ConstantPad2d": (lambda: nn.ConstantPad2d((1, 0, 2, 1), -1.0), [(2, 3, 4, 5)]),
    "ReflectionPad1d": (lambda: nn.ReflectionPad1d(2), [(2, 3, 5)]),
    "ReflectionPad2d": (lambda: nn.ReflectionPad2d((1, 2, 3, 0)), [(2, 3, 4, 5)]),
    "ReplicationPad1d": (lambda: nn.ReplicationPad1d((0, 3)), [(2, 3, 5)]),
    "ReplicationPad2d": (lambda: nn.ReplicationPad2d(2), [(2, 3, 4, 5)]),
    "CircularPad1d": (lambda: nn.CircularPad1d(3), [(2, 3, 5)]),
    "CircularPad2d": (lambda: nn.CircularPad2d((1, 1, 2, 0)), [(2, 3, 4, 5)]),
    "MaxPool2d": (lambda: nn.MaxPool2d(3, 2, padding=1), [(2, 3, 9, 8)]),
    "MaxPool2d-ceil-dilation": (lambda: nn.MaxPool2d(3, 2, dilation=2, ceil_mode=True), [(2, 2, 10, 11)]),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, 2, padding=1), [(2, 3, 9, 8)]),
    "AvgPool2d-exclude-pad-ceil": (lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
                                   [(2, 3, 8, 9)]),
    "AdaptiveAvgPool2d-global": (lambda: nn.AdaptiveAvgPool2d(1), [(2, 3, 5, 7)]),
    "AdaptiveAvgPool2d-divisible": (lambda: nn.AdaptiveAvgPool2d((2, 3)), [(2, 3, 6, 9)]),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(5), [(4, 5)]),
    "BatchNorm1d-3d": (lambda: nn.BatchNorm1d(3, eps=1e-3), [(4, 3, 6)]),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3, momentum=0.2), [(4, 3, 5, 5)]),
    "LayerNorm": (lambda: nn.LayerNorm(5), [(4, 5)]),
    "LayerNorm-2d-no-bias": (lambda: nn.LayerNorm((3, 4), eps=1e-3, bias=False), [(2, 5, 3, 4)]),
    "LayerNorm-no-affine": (lambda: nn.LayerNorm(6, elementwise_affine=False), [(2, 6)]),
    "Dropout": (lambda: nn.Dropout(0.3), [(3, 5)]),
    "Flatten": (lambda: nn.Flatten(), [(2, 3, 4, 5)]),
    "Flatten-middle": (lambda: nn.Flatten(1, 2), [(2, 3, 4, 5)]),
    "ReLU": (lambda: nn.ReLU(inplace=True), [(3, 5)]),
    "ReLU6": (lambda: nn.ReLU6(), [(3, 5)]),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), [(3, 5)]),
    "PReLU": (lambda: nn.PReLU(3, init=0.1), [(2, 3, 4)]),
    "PReLU-shared": (lambda: nn.PReLU(), [(2, 3)]),
    "ELU": (lambda: nn.ELU(0.7), [(3, 5)]),
    "Sigmoid": (lambda: nn.Sigmoid(), [(3, 5)]),
    "Tanh": (lambda: nn.Tanh(), [(3, 5)]),
    "Softmax": (lambda: nn.Softmax(dim=1), [(3, 5, 2)]),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=-1), [(3, 5)]),
    "GELU-tanh": (lambda: nn.GELU(approximate="tanh"), [(3, 5)]),
    "SiLU": (lambda: nn.SiLU(), [(3, 5)]),
    "Mish": (lambda: nn.Mish(), [(3, 5)]),
    "Hardswish": (lambda: nn.Hardswish(), [(3, 5)]),
    "Hardsigmoid": (lambda: nn.Hardsigmoid(), [(3, 5)]),
    "SELU": (lambda: nn.SELU(), [(3, 5)]),
    "CELU": (lambda: nn.CELU(0.5), [(3, 5)]),
    "Softplus": (lambda: nn.Softplus(beta=2.0, threshold=5.0), [(3, 5)]),
    "Softsign": (lambda: nn.Softsign(), [(3, 5)]),
    "LogSigmoid": (lambda: nn.LogSigmoid(), [(3, 5)]),
    "Softmin": (lambda: nn.Softmin(dim=1), [(3, 5)]),
    "Hardtanh": (lambda: nn.Hardtanh(-0.5, 2.0), [(3, 5)]),
    "Tanhshrink": (lambda: nn.Tanhshrink(), [(3, 5)]),
    "Softshrink": (lambda: nn.Softshrink(0.3), [(3, 5)]),
    "Hardshrink": (lambda: nn.Hardshrink(), [(3, 5)]),
    "Threshold": (lambda: nn.Threshold(0.1, -1.0), [(3, 5)]),
    "GLU": (lambda: nn.GLU(dim=1), [(3, 6)]),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4, eps=1e-3), [(2, 4, 3, 5)]),
    "GroupNorm-no-affine": (lambda: nn.GroupNorm(3, 3, affine=False), [(2, 3, 7)]),
    "InstanceNorm1d": (lambda: nn.InstanceNorm1d(3, affine=True), [(2, 3, 7)]),
    "InstanceNorm2d-running-stats": (lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), [(2, 3, 4, 5)]),
    "InstanceNorm3d": (lambda: nn.InstanceNorm3d(2), [(2, 2, 3, 4, 3)]),
    "Embedding": (lambda: nn.Embedding(6, 3, padding_idx=1), [(2, 5)]),
    "Unflatten": (lambda: nn.Unflatten(1, (2, -1)), [(3, 6)]),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2, batch_first=True), [(2, 5, 4), (2, 3, 4), (2, 3, 4)]),
    "LSTM": (lambda: nn.LSTM(4, 6), [(5, 2, 4)]),
    "LSTM-2-layers-batch-first": (lambda: nn.LSTM(4, 3, num_layers=2, batch_first=True), [(2, 5, 4)]),
    "LSTMCell": (lambda: nn.LSTMCell(4, 3), [(2, 4)]),
    "RNN": (lambda: nn.RNN(4, 3), [(5, 2, 4)]),
    "RNN-relu-2-layers": (lambda: nn.RNN(4, 3, num_layers=2, nonlinearity="relu", batch_first=True), [(2, 5, 4)]),
    "GRU": (lambda: nn.GRU(4, 6), [(5, 2, 4)]),
    "GRU-2-layers-batch-first-no-bias": (lambda: nn.GRU(4, 3, num_layers=2, batch_first=True, bias=False), [(2, 5, 4)]),
    "GRU-bidirectional": (lambda: nn.GRU(4, 5, bidirectional=True), [(5, 2, 4)]),
    "LSTM-bidirectional-2-layers-batch-first": (lambda: nn.LSTM(3, 4, num_layers=2, batch_first=True,
                                                                bidirectional=True), [(2, 5, 3)]),
    "RNN-relu-bidirectional-3-layers": (lambda: nn.RNN(4, 3, num_layers=3, nonlinearity="relu", bidirectional=True),
                                        [(6, 2, 4)]),
    "GRUCell": (lambda: nn.GRUCell(4, 3), [(2, 4)]),
    "RNNCell": (lambda: nn.RNNCell(4, 3), [(2, 4)]),
    "RNNCell-relu-no-bias": (lambda: nn.RNNCell(4, 3, bias=False, nonlinearity="relu"), [(2, 4)]),
}

# Layers whose input is integer indices (0 <= index < their first constructor argument), not floats.
INDEX_LAYERS = {"Embedding"}

LOSSES = {
    "CrossEntropyLoss": lambda: nn.CrossEntropyLoss(label_smoothing=0.1),
    "NLLLoss": lambda: nn.NLLLoss(),
    "MSELoss": lambda: nn.MSELoss(reduction="sum"),
    "L1Loss": lambda: nn.L1Loss(),
    "SmoothL1Loss": lambda: nn.SmoothL1Loss(beta=0.5),
    "BCELoss": lambda: nn.BCELoss(),
    "BCEWithLogitsLoss": lambda: nn.BCEWithLogitsLoss(),
    "MultiMarginLoss": lambda: nn.MultiMarginLoss(margin=2.0),
    "HingeEmbeddingLoss": lambda: nn.HingeEmbeddingLoss(),
    "KLDivLoss": lambda: nn.KLDivLoss(reduction="batchmean"),
    "HuberLoss": lambda: nn.HuberLoss(delta=0.5),
    "SoftMarginLoss": lambda: nn.SoftMarginLoss(reduction="sum"),
    "CosineEmbeddingLoss": lambda: nn.CosineEmbeddingLoss(margin=0.2),
    "MarginRankingLoss": lambda: nn.MarginRankingLoss(margin=1.0),
    "GaussianNLLLoss": lambda: nn.GaussianNLLLoss(full=True, eps=1e-4),
    "PoissonNLLLoss": lambda: nn.PoissonNLLLoss(log_input=False),
    "TripletMarginLoss": lambda: nn.TripletMarginLoss(margin=0.5, swap=True),
    "MultiLabelSoftMarginLoss": lambda: nn.MultiLabelSoftMarginLoss(),
}


def layer_classes():
    """Every Module class pyengine.nn exports, containers excluded."""
    import inspect
    return {n for n in nn.__all__ if inspect.isclass(getattr(nn, n)) and issubclass(getattr(nn, n), nn.Module)
            and n not in ("Module", "Sequential", "ModuleList", "ModuleDict")}


def covered():
    names = set(LOSSES)
    for build, _ in LAYERS.values():
        names.add(type(build()).__name__)
    return names
