#!/usr/bin/env python3
"""Write models/block_example/: a small transformer-style block (linear+GELU, linear,
residual add, LayerNorm, softmax) as an accgen model directory, with deterministic
pseudo-random int8 weights and an input x.npy. Standard library only (no numpy):
.npy version 1.0 files are written directly."""

import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "..", "models", "block_example")


def lcg(seed):
    state = seed
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield state >> 33


def save(name, shape, values, dtype):
    code, fmt = {"int8": ("|i1", "b"), "int32": ("<i4", "i")}[dtype]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        code,
        ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""),
    )
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))


def ints(gen, n, lo, hi):
    return [lo + next(gen) % (hi - lo + 1) for _ in range(n)]


def main():
    os.makedirs(OUT, exist_ok=True)
    g = lcg(2026)
    rows, dim, hidden = 32, 48, 64
    save("fc1_w.npy", [dim, hidden], ints(g, dim * hidden, -64, 63), "int8")
    save("fc1_b.npy", [hidden], ints(g, hidden, -2000, 2000), "int32")
    save("fc2_w.npy", [hidden, dim], ints(g, hidden * dim, -64, 63), "int8")
    save("ln_g.npy", [dim], ints(g, dim, 32, 96), "int8")
    save("ln_b.npy", [dim], ints(g, dim, -20, 20), "int8")
    save("x.npy", [rows, dim], ints(g, rows * dim, -100, 100), "int8")
    t = lambda shape, dtype, frac: '{ shape = [%d, %d], dtype = "%s", frac = %d }' % (
        shape[0], shape[1], dtype, frac)
    with open(os.path.join(OUT, "model.toml"), "w") as f:
        f.write(f"""# Written by scripts/make_example_model.py.
[model]
name = "block_example"
input = "x"
output = "y"

[tensors]
x = {t((rows, dim), "int8", 4)}
h1 = {t((rows, hidden), "int8", 4)}
h2 = {t((rows, dim), "int8", 4)}
r = {t((rows, dim), "int8", 4)}
n = {t((rows, dim), "int8", 4)}
y = {t((rows, dim), "uint8", 8)}

[[nodes]]
name = "fc1"
op = "linear"
inputs = ["x"]
output = "h1"
weight = "fc1_w.npy"
weight_frac = 9
bias = "fc1_b.npy"
act = "gelu"

[[nodes]]
name = "fc2"
op = "linear"
inputs = ["h1"]
output = "h2"
weight = "fc2_w.npy"
weight_frac = 9

[[nodes]]
name = "residual"
op = "add"
inputs = ["h2", "x"]
output = "r"

[[nodes]]
name = "norm"
op = "layernorm"
inputs = ["r"]
output = "n"
gamma = "ln_g.npy"
beta = "ln_b.npy"

[[nodes]]
name = "probs"
op = "softmax"
inputs = ["n"]
output = "y"
""")


if __name__ == "__main__":
    main()
