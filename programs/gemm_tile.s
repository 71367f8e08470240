# One 16x16 output tile of C = GELU(requant(A x B)) with K = 64, int8, on
# configs/default.toml (16-byte scratchpad rows, 64-byte accumulator rows).
# DRAM (offsets from dram_base): A 16x64 row-major at 0x0, B 64x16 at 0x400,
# requant parameters at 0x800 (16 shifts, 16 int16 zero points, 16 int32 biases),
# C 16x16 int8 out at 0x1000.

# Load engine: A (4 spad rows per A row), B (one row per k), the parameter block.
load dram=0x0 rows=16 bytes=64 stride=64 spad=0
load dram=0x400 rows=64 bytes=16 stride=16 spad=64
load dram=0x800 rows=1 bytes=16 stride=0 spad=128
load dram=0x810 rows=1 bytes=32 stride=0 spad=129
load dram=0x830 rows=1 bytes=64 stride=0 spad=131 push_next

# Compute engine: wait for the loads, multiply, then requant + GELU into spad row 136.
gemm a=0 b=64 acc=0 k=64 m=16 pop_prev
epilogue acc=0 spad=136 rows=16 params=128 act=gelu push_next

# Store engine: wait for the epilogue, write C.
store dram=0x1000 rows=16 bytes=16 stride=16 spad=136 pop_prev
halt
