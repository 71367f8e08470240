#!/usr/bin/env python3
"""Train the two ONNX models under models/ that `accgen import` is tested with.

- models/vit_digits/: a small vision transformer on scikit-learn's bundled digits
  (8x8 images, 16 patches of 2x2 pixels, dim 32, 2 heads, 2 pre-norm encoder layers,
  MLP 64 with GELU, a final LayerNorm and a flattened linear classifier);
- models/mlp_digits/: a two-layer MLP on the same data (64 -> 32 ReLU -> 10), exported
  both as QCDQ and as QONNX.

Quantization-aware training with Brevitas: int8 weights with power-of-two per-tensor
scales taken from their statistics, int32 biases, and every activation quantized
with a constant power-of-two scale that matches the accelerator's unit formats
(configs/vit_digits.toml): the residual stream, LayerNorm, GELU and attention scores
at 2^-4 .. 2^-3, probabilities unsigned 7-bit at 2^-7. LayerNorm's gamma is
fake-quantized to 8 bits at 2^-6 and beta to the output grid 2^-4, so the exported
float parameters lie exactly on the unit's grids.

Design choices that keep every op on the accelerator (the README of each model
directory repeats them):
- no positional embedding: the classifier is a linear layer over the flattened tokens,
  which carries the position of every token;
- the attention's 1/sqrt(d) is left out (the q projection learns it), so the scores
  go from MatMul straight to their quantizer.

Not run in CI (it needs torch). It writes, for each model:
  model.onnx (QCDQ; mlp_digits also model.qonnx.onnx), test.npz (the held-out split:
  `x` int8 inputs as the accelerator reads them, `y` labels, `ort_pred` onnxruntime's
  top-1 predictions and `ort_out_x1024` its outputs times 2^10, exactly), and README.md with the float
  and quantized accuracies.

It also writes models/onnx_errors/ and models/onnx_patterns/ (small graphs built
with onnx.helper; `--only-onnx-tests` writes just those).

Usage: python scripts/train_vit_digits.py  (in a venv with torch, brevitas, onnx,
onnxruntime, onnxscript and scikit-learn; about two minutes on two cores).
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from brevitas.core.restrict_val import RestrictValueType
from brevitas.core.scaling import ScalingImplType
from brevitas.export import export_onnx_qcdq, export_qonnx
from brevitas.nn import QuantIdentity, QuantLinear
from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint
from brevitas.quant import Int32Bias, Uint8ActPerTensorFixedPoint
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
SEED = 2026
DIM, HEADS, MLP, LAYERS, TOKENS, PATCH = 32, 2, 64, 2, 16, 4


def const_act(frac, bits=8, signed=True):
    """A Brevitas activation quantizer with the constant scale 2^-frac."""
    base = Int8ActPerTensorFixedPoint if signed else Uint8ActPerTensorFixedPoint
    # Fixed-point quantizers use scale = threshold / 2^(bits - signed).
    threshold = 2.0 ** (bits - (1 if signed else 0) - frac)
    return type(
        "Act%s%dF%d" % ("S" if signed else "U", bits, frac),
        (base,),
        {
            "scaling_impl_type": ScalingImplType.CONST,
            "scaling_init": threshold,
            "restrict_scaling_type": RestrictValueType.POWER_OF_TWO,
            "bit_width": bits,
        },
    )


class W8(Int8WeightPerTensorFixedPoint):
    """int8 weights, per-tensor power-of-two scale from the max statistic."""


RES = const_act(4)  # residual stream, LayerNorm in/out, q/k/v, context
SCORE = const_act(3)  # attention scores (softmax input)
PROB = const_act(7, bits=7, signed=False)  # probabilities: uint7 at 2^-7
GELU_IN = const_act(4)
GELU_OUT = const_act(4)
LOGIT = const_act(3)
PIX = const_act(6)  # input pixels / 16 in [0, 1]


def qlinear(i, o, in_quant, out_quant, bias=True):
    return QuantLinear(
        i,
        o,
        bias=bias,
        weight_quant=W8,
        bias_quant=Int32Bias if bias else None,
        input_quant=in_quant,
        output_quant=out_quant,
        return_quant_tensor=False,
    )


class FakeQuantNorm(nn.Module):
    """LayerNorm whose gamma is on the 8-bit 2^-6 grid and beta on the output grid."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.out = QuantIdentity(act_quant=RES, return_quant_tensor=False)

    @staticmethod
    def ste_round(x, frac, bits):
        q = torch.clamp(torch.round(x * 2**frac), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return x + (q / 2**frac - x).detach()

    def freeze(self):
        """Round gamma and beta onto their grids in place (before export)."""
        with torch.no_grad():
            self.weight.copy_(self.ste_round(self.weight, 6, 8))
            self.bias.copy_(self.ste_round(self.bias, 4, 8))
        self.frozen = True

    def forward(self, x):
        if getattr(self, "frozen", False):
            g, b = self.weight, self.bias
        else:
            g = self.ste_round(self.weight, 6, 8)
            b = self.ste_round(self.bias, 4, 8)
        return self.out(F.layer_norm(x, (x.shape[-1],), g, b, 1e-5))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = FakeQuantNorm(DIM)
        self.q = qlinear(DIM, DIM, RES, RES)
        self.k = qlinear(DIM, DIM, RES, RES)
        self.v = qlinear(DIM, DIM, RES, RES)
        self.score = QuantIdentity(act_quant=SCORE, return_quant_tensor=False)
        self.prob = QuantIdentity(act_quant=PROB, return_quant_tensor=False)
        self.ctx = QuantIdentity(act_quant=RES, return_quant_tensor=False)
        self.proj = qlinear(DIM, DIM, RES, RES)
        self.res1 = QuantIdentity(act_quant=RES, return_quant_tensor=False)
        self.ln2 = FakeQuantNorm(DIM)
        self.fc1 = qlinear(DIM, MLP, RES, GELU_IN)
        self.gelu_out = QuantIdentity(act_quant=GELU_OUT, return_quant_tensor=False)
        self.fc2 = qlinear(MLP, DIM, GELU_OUT, RES)
        self.res2 = QuantIdentity(act_quant=RES, return_quant_tensor=False)

    def heads(self, t):
        b, n, _ = t.shape
        return t.reshape(b, n, HEADS, DIM // HEADS).transpose(1, 2)

    def forward(self, x):
        b, n, _ = x.shape
        h = self.ln1(x)
        q, k, v = self.heads(self.q(h)), self.heads(self.k(h)), self.heads(self.v(h))
        s = self.score(torch.matmul(q, k.transpose(-2, -1)))
        p = self.prob(torch.softmax(s, dim=-1))
        c = self.ctx(torch.matmul(p, v))
        c = c.transpose(1, 2).reshape(b, n, DIM)
        x = self.res1(x + self.proj(c))
        h = self.ln2(x)
        h = self.gelu_out(F.gelu(self.fc1(h)))
        return self.res2(x + self.fc2(h))


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = QuantIdentity(act_quant=PIX, return_quant_tensor=False)
        self.embed = qlinear(PATCH, DIM, PIX, RES)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.norm = FakeQuantNorm(DIM)
        self.head = qlinear(TOKENS * DIM, 10, RES, LOGIT)

    def forward(self, x):  # x: (B, 16, 4) patches in [0, 1]
        x = self.embed(self.inp(x))
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head(x.flatten(1))


class MLPNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = QuantIdentity(act_quant=PIX, return_quant_tensor=False)
        self.fc1 = qlinear(64, 32, PIX, RES)
        self.fc2 = qlinear(32, 10, RES, LOGIT)

    def forward(self, x):  # x: (B, 64) in [0, 1]
        return self.fc2(F.relu(self.fc1(self.inp(x))))


def patches(img):
    """(B, 8, 8) -> (B, 16, 4): 2x2 patches in row-major patch order."""
    b = img.shape[0]
    return img.reshape(b, 4, 2, 4, 2).transpose(0, 1, 3, 2, 4).reshape(b, 16, 4)


def train(model, xtr, ytr, epochs, lr):
    torch.manual_seed(SEED)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.tensor(xtr), torch.tensor(ytr)
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        if ep % 10 == 9:
            print("  epoch %d loss %.4f" % (ep + 1, loss.item()), flush=True)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(torch.tensor(x)).argmax(-1).numpy() == y).mean())


def ort_run(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = [sess.run(None, {name: x[i : i + 1]})[0][0] for i in range(len(x))]
    return np.stack(outs).astype(np.float32)


def float_accuracy(model, x, y):
    from brevitas.graph.calibrate import quantization_status_manager

    model.eval()
    with torch.no_grad(), quantization_status_manager(
        model, disable_act_quant=True, disable_weight_quant=True, disable_bias_quant=True
    ):
        return float((model(torch.tensor(x)).argmax(-1).numpy() == y).mean())


def export(name, model, example, x_test_f, x_test_i8, y_test, notes, qonnx=False):
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    model.eval()
    for m in model.modules():
        if isinstance(m, FakeQuantNorm):
            m.freeze()
    onnx_path = os.path.join(out, "model.onnx")
    export_onnx_qcdq(model, args=torch.tensor(example), export_path=onnx_path, opset_version=17, keep_initializers_as_inputs=False,
                     dynamo=False)
    onnx.checker.check_model(onnx.load(onnx_path))
    logits = ort_run(onnx_path, x_test_f)
    pred = logits.argmax(-1)
    q_acc = float((pred == y_test).mean())
    f_acc = float_accuracy(model, x_test_f, y_test)
    t_acc = accuracy(model, x_test_f, y_test)
    files = ["model.onnx"]
    if qonnx:
        qpath = os.path.join(out, "model.qonnx.onnx")
        export_qonnx(model, args=torch.tensor(example), export_path=qpath, dynamo=False,
                     keep_initializers_as_inputs=False)
        files.append("model.qonnx.onnx")
    np.savez(
        os.path.join(out, "test.npz"),
        x=x_test_i8,
        y=y_test.astype(np.int64),
        ort_pred=pred.astype(np.int64),
        # Exact: the outputs are dequantized int8 values at a power-of-two scale of at
        # least 2^-10.
        ort_out_x1024=np.round(logits.astype(np.float64) * 1024).astype(np.int32),
    )
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("# %s\n\n" % name)
        f.write("Written by `scripts/train_vit_digits.py` (seed %d); do not edit.\n\n" % SEED)
        f.write(notes + "\n\n")
        f.write("Files: %s, `test.npz` (the held-out split: `x` int8 inputs at 2^-6, "
                "`y` labels, onnxruntime's `ort_pred` and `ort_out_x1024` (its outputs "
                "times 2^10, exact integers)).\n\n"
                % ", ".join("`%s`" % p for p in files))
        f.write("| held-out split (%d images) | top-1 accuracy |\n|---|---|\n" % len(y_test))
        f.write("| float (quantizers disabled, PyTorch) | %.2f%% |\n" % (100 * f_acc))
        f.write("| quantized (Brevitas, PyTorch) | %.2f%% |\n" % (100 * t_acc))
        f.write("| quantized (onnxruntime %s on model.onnx) | %.2f%% |\n"
                % (ort.__version__, 100 * q_acc))
        f.write("\nVersions: torch %s, brevitas %s, onnx %s.\n"
                % (torch.__version__, __import__("brevitas").__version__, onnx.__version__))
    print(json.dumps({"model": name, "float": f_acc, "qat": t_acc, "ort": q_acc}))


def write_error_models():
    """models/onnx_errors/: small QCDQ graphs accgen import must reject, each with a
    clear message (tests/cli_import.rs asserts them)."""
    from onnx import TensorProto, helper

    out = os.path.join(ROOT, "onnx_errors")
    os.makedirs(out, exist_ok=True)

    def qdq(name, src, scale):
        s = helper.make_tensor(name + "_s", TensorProto.FLOAT, [], [scale])
        z = helper.make_tensor(name + "_z", TensorProto.INT8, [], [0])
        nodes = [
            helper.make_node("QuantizeLinear", [src, name + "_s", name + "_z"], [name + "_q"],
                             name=name + "/QuantizeLinear"),
            helper.make_node("DequantizeLinear", [name + "_q", name + "_s", name + "_z"],
                             [name], name=name + "/DequantizeLinear"),
        ]
        return nodes, [s, z]

    def model(nodes, inits, out_name, path):
        g = helper.make_graph(
            nodes, "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])],
            [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, 4, 8])],
            inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(out, path))

    rng = np.random.default_rng(SEED)
    w = helper.make_tensor("w", TensorProto.INT8, [8, 8], rng.integers(-64, 64, 64).tolist())
    ws = helper.make_tensor("w_s", TensorProto.FLOAT, [], [2.0 ** -6])
    wz = helper.make_tensor("w_z", TensorProto.INT8, [], [0])
    wdq = helper.make_node("DequantizeLinear", ["w", "w_s", "w_z"], ["wf"], name="fc/weight_dq")
    n_in, i_in = qdq("xq", "x", 2.0 ** -4)
    mm = helper.make_node("MatMul", ["xq", "wf"], ["h"], name="fc/MatMul")
    n_h, i_h = qdq("hq", "h", 2.0 ** -4)
    tanh = helper.make_node("Tanh", ["hq"], ["t"], name="act/Tanh")
    n_t, i_t = qdq("y", "t", 2.0 ** -6)
    model(n_in + [wdq, mm] + n_h + [tanh] + n_t, i_in + [w, ws, wz] + i_h + i_t, "y",
          "unsupported_op.onnx")
    n_b, i_b = qdq("hq", "h", 0.3)
    model(n_in + [wdq, mm] + n_b, i_in + [w, ws, wz] + i_b, "hq", "bad_scale.onnx")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("# onnx_errors\n\nWritten by `scripts/train_vit_digits.py`. Graphs that "
                "`accgen import` rejects:\n\n- `unsupported_op.onnx`: a `Tanh` node "
                "(`act/Tanh`) after a quantized linear layer;\n- `bad_scale.onnx`: an "
                "activation quantizer with scale 0.3 (`hq/QuantizeLinear`), not a power "
                "of two.\n")


def write_pattern_models():
    """models/onnx_patterns/: one small block twice, with LayerNorm as one
    `LayerNormalization` node (ln_fused.onnx) and as its ReduceMean/Sub/Pow/ReduceMean/
    Add/Sqrt/Div/Mul/Add decomposition (ln_decomposed.onnx), and GELU as the opset-20
    `Gelu` op; test.npz holds 64 random int8 inputs at 2^-4 and onnxruntime's outputs
    of both files times 2^10."""
    from onnx import TensorProto, helper

    out = os.path.join(ROOT, "onnx_patterns")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED + 1)
    dim, hid, rows = 16, 32, 4
    inits = []

    def const(name, dtype, dims, vals):
        inits.append(helper.make_tensor(name, dtype, dims, list(vals)))
        return name

    const("s4", TensorProto.FLOAT, [], [2.0 ** -4])
    const("s6", TensorProto.FLOAT, [], [2.0 ** -6])
    const("s10", TensorProto.FLOAT, [], [2.0 ** -10])
    const("z8", TensorProto.INT8, [], [0])
    const("z32", TensorProto.INT32, [], [0])

    def qdq(src, dst, scale="s4"):
        return [
            helper.make_node("QuantizeLinear", [src, scale, "z8"], [dst + "_q"], name=dst + "/QuantizeLinear"),
            helper.make_node("DequantizeLinear", [dst + "_q", scale, "z8"], [dst], name=dst + "/DequantizeLinear"),
        ]

    def weight(name, k, n):
        const(name + "_i", TensorProto.INT8, [k, n], rng.integers(-90, 90, k * n))
        return helper.make_node("DequantizeLinear", [name + "_i", "s6", "z8"], [name], name=name + "/dq")

    gamma = rng.integers(32, 96, dim) / 64.0
    beta = rng.integers(-8, 8, dim) / 16.0
    const("gamma", TensorProto.FLOAT, [dim], gamma)
    const("beta", TensorProto.FLOAT, [dim], beta)
    const("eps", TensorProto.FLOAT, [], [1e-5])
    const("two", TensorProto.FLOAT, [], [2.0])
    const("axes", TensorProto.INT64, [1], [-1])
    const("b2_i", TensorProto.INT32, [hid], rng.integers(-2000, 2000, hid))
    head = qdq("x", "xq") + [weight("w1", dim, dim),
                             helper.make_node("MatMul", ["xq", "w1"], ["h"], name="fc1/MatMul")] + qdq("h", "hq")
    fused = [helper.make_node("LayerNormalization", ["hq", "gamma", "beta"], ["ln"], name="norm/LayerNormalization",
                              axis=-1, epsilon=1e-5)]
    dec = [
        helper.make_node("ReduceMean", ["hq", "axes"], ["mu"], name="norm/ReduceMean"),
        helper.make_node("Sub", ["hq", "mu"], ["d"], name="norm/Sub"),
        helper.make_node("Pow", ["d", "two"], ["d2"], name="norm/Pow"),
        helper.make_node("ReduceMean", ["d2", "axes"], ["var"], name="norm/ReduceMean_1"),
        helper.make_node("Add", ["var", "eps"], ["ve"], name="norm/Add"),
        helper.make_node("Sqrt", ["ve"], ["sd"], name="norm/Sqrt"),
        helper.make_node("Div", ["d", "sd"], ["nrm"], name="norm/Div"),
        helper.make_node("Mul", ["nrm", "gamma"], ["ng"], name="norm/Mul"),
        helper.make_node("Add", ["ng", "beta"], ["ln"], name="norm/Add_1"),
    ]
    tail = qdq("ln", "lnq") + [
        weight("w2", dim, hid),
        helper.make_node("DequantizeLinear", ["b2_i", "s10", "z32"], ["b2"], name="b2/dq"),
        helper.make_node("MatMul", ["lnq", "w2"], ["m"], name="fc2/MatMul"),
        helper.make_node("Add", ["m", "b2"], ["mb"], name="fc2/Add"),
    ] + qdq("mb", "mq") + [helper.make_node("Gelu", ["mq"], ["g"], name="act/Gelu")] + qdq("g", "y")
    x = rng.integers(-128, 128, (64, rows, dim)).astype(np.int8)
    outs = {}
    for tag, mid in [("fused", fused), ("decomposed", dec)]:
        g = helper.make_graph(
            head + mid + tail, "block",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, rows, dim])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, rows, hid])], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
        onnx.checker.check_model(m)
        path = os.path.join(out, "ln_%s.onnx" % tag)
        onnx.save(m, path)
        y = ort_run(path, (x.astype(np.float32) / 16.0).reshape(64, 1, rows, dim)[:, 0])
        outs["ort_%s_x1024" % tag] = np.round(y.astype(np.float64) * 1024).astype(np.int32)
    np.savez(os.path.join(out, "test.npz"), x=x, **outs)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("# onnx_patterns\n\nWritten by `scripts/train_vit_digits.py`: a linear "
                "layer, LayerNorm, a linear layer with bias and GELU, twice: "
                "`ln_fused.onnx` with one `LayerNormalization` node, `ln_decomposed.onnx` "
                "with its ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add form; GELU "
                "is the opset-20 `Gelu` op. `test.npz`: 64 int8 inputs `x` at 2^-4 and "
                "onnxruntime %s's outputs of each file times 2^10.\n" % ort.__version__)


def main():
    if "--only-onnx-tests" in sys.argv:
        write_error_models()
        write_pattern_models()
        return 0
    write_error_models()
    write_pattern_models()
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)
    d = load_digits()
    img = (d.images / 16.0).astype(np.float32)  # 0..1 in steps of 1/16: exact at 2^-6
    xtr, xte, ytr, yte = train_test_split(img, d.target, test_size=0.2,
                                          random_state=0, stratify=d.target)
    q = lambda a: np.round(a * 64).astype(np.int8)

    mlp = MLPNet()
    train(mlp, xtr.reshape(-1, 64), ytr, int(os.environ.get("EPOCHS_MLP", 60)), 3e-3)
    export("mlp_digits", mlp, xte[:1].reshape(1, 64), xte.reshape(-1, 64),
           q(xte.reshape(-1, 64)), yte,
           "A two-layer MLP (64 -> 32 ReLU -> 10) on the 8x8 digits, int8 weights and "
           "activations with power-of-two scales.", qonnx=True)

    vit = ViT()
    ptr, pte = patches(xtr), patches(xte)
    train(vit, ptr, ytr, int(os.environ.get("EPOCHS_VIT", 120)), 3e-3)
    export("vit_digits", vit, pte[:1], pte, q(pte), yte,
           "A ViT on the 8x8 digits: 16 tokens of 2x2-pixel patches (the patching is "
           "done on the host: the input is the 16x4 patch matrix), dim %d, %d heads, "
           "%d pre-norm encoder layers with MLP %d and GELU, a final LayerNorm and a "
           "linear classifier over the flattened tokens. No positional embedding (the "
           "flattened classifier sees every token's position); the attention's "
           "1/sqrt(d) is learned by the q projection. int8 weights and activations with "
           "power-of-two scales, probabilities unsigned 7-bit."
           % (DIM, HEADS, LAYERS, MLP))


if __name__ == "__main__":
    sys.exit(main())
