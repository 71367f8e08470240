/* The MMIO transport of the C driver, for a board: the accelerator's registers
 * mapped at `regs` (Vitis standalone: the address from xparameters.h; Linux: mmap of
 * /dev/uioN) and a physically contiguous DRAM region the accelerator can reach:
 * `cpu` is its CPU mapping, `bus` its bus (physical) address, `bytes` its size (a
 * reserved-memory region, or a udmabuf/CMA buffer on Linux). Buffers are handed out
 * from it in order and never freed. Define ACCGEN_MMIO_CACHE_FLUSH/INVALIDATE for a
 * cached region (for example Xil_DCacheFlushRange / Xil_DCacheInvalidateRange). */
#ifndef ACCGEN_MMIO_H
#define ACCGEN_MMIO_H
#include "accgen_driver.h"
typedef struct accgen_mmio {
  volatile uint32_t *regs;
  uint8_t *cpu;
  uint64_t bus;
  uint64_t bytes;
  uint64_t used;
} accgen_mmio;
void accgen_mmio_transport(accgen_mmio *m, accgen_transport *t);
#endif
