"""The Python driver against the simulated board (`accgen serve`), started by
tests/driver_python.rs, which sets:
  ACCGEN_SOCKET    the board's socket
  ACCGEN_MODEL     a directory written by `accgen compile`
  ACCGEN_INPUT     the model input (.npy)
  ACCGEN_EXPECTED  `accgen run --golden-only`'s output for it (.npy)
The tests run in file order: the first one sees the board just after reset."""

import os

import numpy as np
import pytest

from accgen_driver import Accelerator, AccgenError, SocketTransport, regs

SOCK = os.environ["ACCGEN_SOCKET"]
MODEL = os.environ["ACCGEN_MODEL"]


@pytest.fixture
def transport():
    t = SocketTransport(SOCK)
    yield t
    t.close()


def test_every_register_reads_its_reset_value(transport):
    assert len(regs.REGISTERS) >= 20
    for name, (offset, access, reset) in regs.REGISTERS.items():
        assert transport.read32(offset) == reset, name
    # Read-only registers refuse writes with SLVERR, which the driver raises.
    with pytest.raises(AccgenError, match="slverr"):
        transport.write32(regs.ID, 0)
    # A read-write register keeps what was written.
    transport.write32(regs.WATCHDOG, 123456)
    assert transport.read32(regs.WATCHDOG) == 123456
    transport.write32(regs.WATCHDOG, 0)


def test_a_compiled_model_runs_bit_exact(transport):
    x = np.load(os.environ["ACCGEN_INPUT"])
    want = np.load(os.environ["ACCGEN_EXPECTED"])
    acc = Accelerator(transport)
    acc.load(MODEL)
    y, counters = acc.run(x)
    assert y.shape == want.shape
    assert np.array_equal(y, want.astype(y.dtype))
    assert counters["cycles"] > 0 and counters["bytes_read"] > 0 and counters["bytes_written"] > 0
    # Twice in a row on the same buffers: the same answer.
    y2, _ = acc.run(x)
    assert np.array_equal(y2, y)


def test_an_error_code_raises_a_clear_exception(transport):
    acc = Accelerator(transport)
    acc.load(MODEL)
    offset = acc.meta["prog_offset"]
    acc.buf.write(offset, b"\xff" * 16)  # an undefined instruction word first
    with pytest.raises(AccgenError, match="error 1 \\(illegal instruction\\) at instruction 0") as e:
        acc.run(np.load(os.environ["ACCGEN_INPUT"]))
    assert e.value.code == 1 and e.value.index == 0


def test_bad_inputs_are_refused_before_the_board_is_touched(transport):
    acc = Accelerator(transport)
    acc.load(MODEL)
    with pytest.raises(ValueError, match="elements"):
        acc.run(np.zeros(3, dtype=np.int8))
    with pytest.raises(ValueError, match="integers"):
        acc.run(np.zeros(acc.meta["input_elems"], dtype=np.float32))
