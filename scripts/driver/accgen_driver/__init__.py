"""accgen driver: run compiled models on the accelerator, on a board or on the
simulated board (`accgen serve`).

    from accgen_driver import Accelerator, SocketTransport
    acc = Accelerator(SocketTransport("/tmp/accgen.sock"))   # or PynqTransport("accgen_zcu102.bit")
    acc.load("out/model")          # a directory written by `accgen compile`
    y, counters = acc.run(x)       # x: the model input (integers), y: its output

numpy only; `pynq` is imported by PynqTransport alone, on a board. The register
offsets in `regs.py` are generated from the Rust register map (`accgen board` writes
the same file into `drivers/`; a test keeps the two equal).
"""

import json
import os
import socket

import numpy as np

from . import regs

__all__ = ["Accelerator", "AccgenError", "SocketTransport", "PynqTransport", "regs"]

ERRORS = {
    1: "illegal instruction",
    2: "scratchpad or accumulator row out of range",
    3: "AXI error response (DRAM access outside memory)",
    4: "watchdog: no engine made progress",
    5: "epilogue parameter out of range",
}


class AccgenError(RuntimeError):
    """The accelerator stopped with an error code (see ERRORS), or the bus failed."""

    def __init__(self, message, code=None, index=None):
        super().__init__(message)
        self.code = code
        self.index = index


class SocketTransport:
    """The simulated board of `accgen serve --socket PATH`."""

    def __init__(self, path, timeout_s=3600.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        self.sock.connect(path)
        self.f = self.sock.makefile("rw", encoding="ascii", newline="\n")

    def _call(self, **req):
        self.f.write(json.dumps(req) + "\n")
        self.f.flush()
        line = self.f.readline()
        if not line:
            raise AccgenError("the simulated board closed the connection")
        rep = json.loads(line)
        if not rep.get("ok"):
            raise AccgenError("simulated board: " + rep.get("error", "unknown error"))
        return rep

    def read32(self, offset):
        rep = self._call(op="read32", addr=offset)
        if rep["resp"] != "okay":
            raise AccgenError("register read at 0x%02x answered %s" % (offset, rep["resp"]))
        return rep["value"]

    def write32(self, offset, value):
        rep = self._call(op="write32", addr=offset, value=value & 0xFFFFFFFF)
        if rep["resp"] != "okay":
            raise AccgenError("register write at 0x%02x answered %s" % (offset, rep["resp"]))

    def alloc(self, nbytes):
        return SocketBuffer(self, self._call(op="alloc", bytes=int(nbytes), align=4096)["addr"], nbytes)

    def wait_irq(self, timeout_s):
        # Simulated time: a generous cycle budget per second asked for.
        rep = self._call(op="wait_irq", timeout=int(timeout_s * 100_000_000))
        return rep["irq"]

    def close(self):
        self.f.close()
        self.sock.close()


class SocketBuffer:
    """A DRAM buffer on the simulated board."""

    def __init__(self, t, addr, nbytes):
        self.t, self.addr, self.nbytes = t, addr, nbytes

    def write(self, offset, data):
        if offset + len(data) > self.nbytes:
            raise ValueError("write past the end of the buffer")
        self.t._call(op="mem_write", addr=self.addr + offset, data=bytes(data).hex())

    def read(self, offset, nbytes):
        if offset + nbytes > self.nbytes:
            raise ValueError("read past the end of the buffer")
        return bytes.fromhex(self.t._call(op="mem_read", addr=self.addr + offset, bytes=nbytes)["data"])


class PynqTransport:
    """A board with PYNQ: the bitstream and .hwh from `accgen board`'s build.tcl."""

    def __init__(self, bitfile, ip_name="accel_0"):
        from pynq import Overlay  # only on a board

        self.overlay = Overlay(bitfile)
        self.mmio = getattr(self.overlay, ip_name).mmio

    def read32(self, offset):
        return int(self.mmio.read(offset))

    def write32(self, offset, value):
        self.mmio.write(offset, value & 0xFFFFFFFF)

    def alloc(self, nbytes):
        from pynq import allocate

        return PynqBuffer(allocate(shape=(int(nbytes),), dtype=np.uint8))

    def wait_irq(self, timeout_s):
        return None  # poll ap_ctrl instead


class PynqBuffer:
    """A contiguous DRAM buffer from pynq.allocate."""

    def __init__(self, buf):
        self.buf, self.addr, self.nbytes = buf, buf.physical_address, buf.nbytes

    def write(self, offset, data):
        self.buf[offset : offset + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)
        self.buf.flush()

    def read(self, offset, nbytes):
        self.buf.invalidate()
        return bytes(self.buf[offset : offset + nbytes])


def _read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                k, v = line.split()
                out[k] = int(v)
    return out


class Accelerator:
    """One accgen accelerator behind a transport."""

    def __init__(self, transport, timeout_s=10.0):
        self.t = transport
        self.timeout_s = timeout_s
        ident = self.t.read32(regs.ID)
        if ident >> 16 != regs.ID_VALUE >> 16:
            raise AccgenError("register 0x%02x reads 0x%08x: not an accgen accelerator" % (regs.ID, ident))
        if ident != regs.ID_VALUE:
            raise AccgenError("ISA version 0x%04x, this driver speaks 0x%04x" % (ident & 0xFFFF, regs.ID_VALUE & 0xFFFF))
        self.buf = None

    def load(self, model_dir):
        """Place a compiled model (`accgen compile --out model_dir`) in a DRAM buffer."""
        self.meta = _read_kv(os.path.join(model_dir, "dram.txt"))
        with open(os.path.join(model_dir, "dram.bin"), "rb") as f:
            image = f.read()
        if len(image) != self.meta["dram_bytes"]:
            raise AccgenError("dram.bin has %d bytes, dram.txt says %d" % (len(image), self.meta["dram_bytes"]))
        self.buf = self.t.alloc(len(image))
        self.buf.write(0, image)

    def _dtype(self, eb, signed):
        return np.dtype(("<i%d" if signed else "<u%d") % eb)

    def run(self, x):
        """Run the loaded model on input x: (output, counters). Raises AccgenError
        when the accelerator reports an error, TimeoutError when ap_done never comes."""
        if self.buf is None:
            raise AccgenError("load() a model first")
        m = self.meta
        x = np.asarray(x)
        if x.size != m["input_elems"]:
            raise ValueError("the input has %d elements; the model takes %d" % (x.size, m["input_elems"]))
        if not np.issubdtype(x.dtype, np.integer):
            raise ValueError("the input must hold integers (the quantized values)")
        self.buf.write(m["input_offset"], x.astype(self._dtype(m["input_elem_bytes"], True)).tobytes())
        base = self.buf.addr
        prog = base + m["prog_offset"]
        for reg, v in [
            (regs.PROG_ADDR_LO, prog), (regs.PROG_ADDR_HI, prog >> 32), (regs.PROG_LEN, m["prog_len"]),
            (regs.DRAM_BASE_LO, base), (regs.DRAM_BASE_HI, base >> 32),
            (regs.GIE, 1), (regs.IER, regs.IRQ_DONE),
        ]:
            self.t.write32(reg, v)
        self.t.write32(regs.AP_CTRL, regs.AP_START)
        if self.t.wait_irq(self.timeout_s) is False:
            raise TimeoutError("no interrupt within %.1f s" % self.timeout_s)
        self._wait_done()
        # Acknowledge the interrupt (ISR bits toggle on write).
        if self.t.read32(regs.ISR) & regs.IRQ_DONE:
            self.t.write32(regs.ISR, regs.IRQ_DONE)
        code = self.t.read32(regs.ERROR_CODE)
        if code:
            index = self.t.read32(regs.ERROR_INDEX)
            raise AccgenError(
                "the accelerator stopped with error %d (%s) at instruction %d" % (code, ERRORS.get(code, "unknown"), index),
                code, index)
        counters = {name: self._read64(lo) for name, lo in [
            ("cycles", regs.CYCLES_LO), ("busy_load", regs.BUSY_LOAD_LO), ("busy_compute", regs.BUSY_COMPUTE_LO),
            ("busy_store", regs.BUSY_STORE_LO), ("bytes_read", regs.BYTES_READ_LO), ("bytes_written", regs.BYTES_WRITTEN_LO)]}
        eb, rows, cols = m["output_elem_bytes"], m["output_rows"], m["output_cols"]
        raw = self.buf.read(m["output_offset"], eb * rows * cols)
        y = np.frombuffer(raw, dtype=self._dtype(eb, bool(m["output_signed"]))).reshape(rows, cols)
        bits = m["output_bits"]
        if bits < 8 * eb:  # the low `bits` bits hold the value
            y = y & ((1 << bits) - 1)
            if m["output_signed"]:
                y = np.where(y >= 1 << (bits - 1), y - (1 << bits), y)
        return y.copy(), counters

    def _wait_done(self):
        import time

        t0 = time.monotonic()
        while not self.t.read32(regs.AP_CTRL) & regs.AP_DONE:
            if time.monotonic() - t0 > self.timeout_s:
                raise TimeoutError("ap_done did not rise within %.1f s" % self.timeout_s)

    def _read64(self, lo):
        low = self.t.read32(lo)  # latches the high half
        return self.t.read32(lo + 4) << 32 | low
