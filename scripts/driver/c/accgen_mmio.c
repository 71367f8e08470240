/* The MMIO transport: see accgen_mmio.h. */
#include "accgen_mmio.h"

#include <string.h>

#ifndef ACCGEN_MMIO_CACHE_FLUSH
#define ACCGEN_MMIO_CACHE_FLUSH(p, n) ((void)(p), (void)(n))
#endif
#ifndef ACCGEN_MMIO_CACHE_INVALIDATE
#define ACCGEN_MMIO_CACHE_INVALIDATE(p, n) ((void)(p), (void)(n))
#endif

static int mmio_read32(void *ctx, uint32_t off, uint32_t *v) {
  accgen_mmio *m = ctx;
  *v = m->regs[off / 4];
  return 0;
}

static int mmio_write32(void *ctx, uint32_t off, uint32_t v) {
  accgen_mmio *m = ctx;
  m->regs[off / 4] = v;
  return 0;
}

static int mmio_alloc(void *ctx, uint64_t bytes, uint64_t *addr) {
  accgen_mmio *m = ctx;
  uint64_t at = (m->used + 4095) & ~(uint64_t)4095;
  if (at + bytes > m->bytes) return -1;
  m->used = at + bytes;
  *addr = m->bus + at;
  return 0;
}

static int in_region(accgen_mmio *m, uint64_t addr, size_t n) {
  return addr >= m->bus && addr + n <= m->bus + m->bytes;
}

static int mmio_mem_write(void *ctx, uint64_t addr, const void *data, size_t n) {
  accgen_mmio *m = ctx;
  if (!in_region(m, addr, n)) return -1;
  memcpy(m->cpu + (addr - m->bus), data, n);
  ACCGEN_MMIO_CACHE_FLUSH(m->cpu + (addr - m->bus), n);
  return 0;
}

static int mmio_mem_read(void *ctx, uint64_t addr, void *data, size_t n) {
  accgen_mmio *m = ctx;
  if (!in_region(m, addr, n)) return -1;
  ACCGEN_MMIO_CACHE_INVALIDATE(m->cpu + (addr - m->bus), n);
  memcpy(data, m->cpu + (addr - m->bus), n);
  return 0;
}

void accgen_mmio_transport(accgen_mmio *m, accgen_transport *t) {
  t->ctx = m;
  t->read32 = mmio_read32;
  t->write32 = mmio_write32;
  t->alloc = mmio_alloc;
  t->mem_write = mmio_mem_write;
  t->mem_read = mmio_mem_read;
  t->wait_irq = NULL; /* poll ap_ctrl */
}
