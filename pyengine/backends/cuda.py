"""CUDA backend switches.

``allow_tf32`` (default False): when True, float32 GEMMs and convolutions of pyengine.kernels.cuda
run on the tensor cores with TF32 inputs (10-bit mantissa, float32 accumulation), about 2x faster
on an A100/H100 and correct to about 1e-3 relative instead of 1e-6. Like
``torch.backends.cuda.matmul.allow_tf32``; read at each call, so it can be flipped at any time.
"""
allow_tf32 = False
