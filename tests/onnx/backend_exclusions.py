"""What of ONNX's backend node tests pyengine does not run, and why (reviewed by hand).

NOT_COVERED: ONNX ops with no importer, because pyengine has no such layer or tensor op. A node
test that uses one of them is skipped with this reason. ``test_not_covered_is_exact`` keeps the
list honest: it must name exactly the ops of the installed onnx's node tests that have no
importer (add an importer → remove the op here; a new onnx adds ops → review them here).

EXCLUDED: node tests of covered ops that are skipped anyway, as regular expressions over the test
name, each with its reason. Every pattern must match at least one test (no stale entries).
"""

_NO_OP = "pyengine has no such op"
_TRIG = "pyengine has no trigonometric or hyperbolic ops"
_TRAIN = "an ONNX training op; pyengine's optimizers are Python objects, not graph ops"
_CONTROL = "control flow, sequences and optionals are not part of pyengine's static graphs"
_ML = "string or ai.onnx.ml op"
_QUANT = "quantized ops belong to pyengine.quantization, which does not import ONNX graphs"
_SIGNAL = "signal processing op; pyengine has none"
_IMAGE = "image op with no pyengine layer"
_TRANSFORMER = "transformer op with no pyengine layer"
_NORM = "normalisation with no pyengine layer (LayerNormalization is imported by composition)"
_DATA = "its output shape or values depend on data in a way pyengine's ops do not cover"
_ROUND = "rounding / bit ops: pyengine has no such Tensor ops"

NOT_COVERED = {
    **{op: _TRIG for op in ("Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Cos", "Cosh", "Sin", "Sinh",
                            "Tan")},
    **{op: _TRAIN for op in ("Adagrad", "Adam", "Momentum")},
    **{op: _CONTROL for op in ("If", "Loop", "Scan", "SequenceEmpty", "SequenceInsert", "SequenceLength",
                               "SequenceMap", "SplitToSequence", "OptionalGetElement", "OptionalHasElement")},
    **{op: _ML for op in ("ArrayFeatureExtractor", "Binarizer", "LabelEncoder", "TreeEnsemble", "StringConcat",
                          "StringNormalizer", "StringSplit", "RegexFullMatch", "TfIdfVectorizer")},
    **{op: _QUANT for op in ("ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul", "QuantizeLinear",
                             "DequantizeLinear", "DynamicQuantizeLinear")},
    **{op: _SIGNAL for op in ("DFT", "STFT", "BlackmanWindow", "HammingWindow", "HannWindow", "MelWeightMatrix")},
    **{op: _IMAGE for op in ("ImageDecoder", "GridSample", "AffineGrid", "RoiAlign",
                             "CenterCropPad", "Col2Im", "DepthToSpace", "SpaceToDepth", "DeformConv", "LRN",
                             "LpPool", "MaxUnpool", "NonMaxSuppression")},
    **{op: _NORM for op in ("GroupNormalization", "RMSNormalization", "MeanVarianceNormalization",
                            "LpNormalization")},
    **{op: _TRANSFORMER for op in ("Attention", "FlexAttention", "LinearAttention", "RotaryEmbedding", "SwiGLU",
                                   "CausalConvWithState")},
    **{op: _DATA for op in ("NonZero", "Unique", "Compress", "TopK", "GatherElements", "GatherND", "Scatter",
                            "ScatterElements", "ScatterND", "TensorScatter", "OneHot", "Trilu", "EyeLike", "CumSum",
                            "CumProd", "ReverseSequence", "Det", "Einsum", "Bernoulli", "RandomUniformLike")},
    **{op: _ROUND for op in ("Floor", "Ceil", "Round", "Sign", "Mod", "BitShift", "BitwiseAnd", "BitwiseNot",
                             "BitwiseOr", "BitwiseXor", "BitCast", "IsInf", "IsNaN", "Shrink")},
    **{op: _NO_OP for op in ("Swish",)},
}

_DTYPE = "an element type pyengine tensors do not have (bfloat16, float8, float4, int4/int2, e8m0, strings)"
_F16 = "float16 through a kernel: pyengine's kernels take float32 and float64"

EXCLUDED = {
    r"bfloat16|BFLOAT16|FLOAT8|FLOAT4|INT4|UINT4|INT2|UINT2|E8M0|e8m0|_string": _DTYPE,
    r"^test_(celu_float16|causal_conv_with_state(_silu)?_fp16)": _F16,
    r"^test_(average|max)pool_3d": "pyengine's pooling kernels are 2-D (1-D runs as 2-D)",
    r"^test_averagepool_2d_dilations$": "pyengine's average pooling has no dilation",
    r"^test_maxpool_2d_uint8$": "pyengine's pooling kernels take float32 and float64",
    r"^test_maxpool_with_argmax": "MaxPool's Indices output (ONNX counts over N·C·H·W) is not produced",
    r"^test_identity_(opt|sequence)$": _CONTROL,
    r"^test_not_[234]d$": "an opset-1 model; pyengine reads opset 7 and later",
    r"^test_training_dropout": "training-mode dropout draws its mask from ONNX's generator, which cannot be "
                               "reproduced (pyengine's dropout is tested against its own seed)",
}
