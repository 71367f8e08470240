/* accgen C driver: see accgen_driver.h. */
#include "accgen_driver.h"

#include <stdio.h>
#include <string.h>

#include "accgen_regs.h"

#define TRY(x)                          \
  do {                                  \
    if ((x) != 0) return ACCGEN_E_TRANSPORT; \
  } while (0)

int accgen_open(accgen_dev *dev, const accgen_transport *t) {
  uint32_t id = 0;
  memset(dev, 0, sizeof *dev);
  dev->t = *t;
  dev->poll_limit = 100000000u;
  TRY(dev->t.read32(dev->t.ctx, ACCGEN_REG_ID, &id));
  if (id != ACCGEN_ID_VALUE) return ACCGEN_E_NOT_ACCGEN;
  return ACCGEN_OK;
}

int accgen_parse_layout(const char *text, accgen_layout *out) {
  static const char *keys[] = {"dram_bytes", "prog_offset", "prog_len", "input_offset", "input_elems",
                               "input_elem_bytes", "output_offset", "output_rows", "output_cols",
                               "output_elem_bytes", "output_signed", "output_bits"};
  uint64_t *fields[] = {&out->dram_bytes, &out->prog_offset, &out->prog_len, &out->input_offset,
                        &out->input_elems, &out->input_elem_bytes, &out->output_offset, &out->output_rows,
                        &out->output_cols, &out->output_elem_bytes, &out->output_signed, &out->output_bits};
  unsigned seen = 0;
  const char *p = text;
  while (*p) {
    char key[64];
    unsigned long long v;
    int used = 0;
    if (sscanf(p, "%63s %llu%n", key, &v, &used) != 2) break;
    for (unsigned i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      if (strcmp(key, keys[i]) == 0) {
        *fields[i] = v;
        seen |= 1u << i;
      }
    }
    p += used;
    while (*p == '\n' || *p == ' ' || *p == '\r') p++;
  }
  return seen == (1u << (sizeof keys / sizeof keys[0])) - 1 ? ACCGEN_OK : ACCGEN_E_ARG;
}

int accgen_load(accgen_dev *dev, const accgen_layout *layout, const void *image, size_t bytes) {
  if (bytes != layout->dram_bytes) return ACCGEN_E_ARG;
  dev->layout = *layout;
  TRY(dev->t.alloc(dev->t.ctx, bytes, &dev->base));
  TRY(dev->t.mem_write(dev->t.ctx, dev->base, image, bytes));
  dev->loaded = 1;
  return ACCGEN_OK;
}

static int read64(accgen_dev *dev, uint32_t lo, uint64_t *v) {
  uint32_t l, h;
  TRY(dev->t.read32(dev->t.ctx, lo, &l)); /* latches the high half */
  TRY(dev->t.read32(dev->t.ctx, lo + 4, &h));
  *v = (uint64_t)h << 32 | l;
  return 0;
}

int accgen_run(accgen_dev *dev, const void *input, void *output, accgen_counters *counters) {
  const accgen_layout *m = &dev->layout;
  uint64_t prog = dev->base + m->prog_offset;
  uint32_t ctrl = 0, isr = 0, code = 0;
  if (!dev->loaded) return ACCGEN_E_ARG;
  TRY(dev->t.mem_write(dev->t.ctx, dev->base + m->input_offset, input,
                       (size_t)(m->input_elems * m->input_elem_bytes)));
  TRY(dev->t.write32(dev->t.ctx, ACCGEN_REG_PROG_ADDR_LO, (uint32_t)prog));
  TRY(dev->t.write32(dev->t.ctx, ACCGEN_REG_PROG_ADDR_HI, (uint32_t)(prog >> 32)));
  TRY(dev->t.write32(dev->t.ctx, ACCGEN_REG_PROG_LEN, (uint32_t)m->prog_len));
  TRY(dev->t.write32(dev->t.ctx, ACCGEN_REG_DRAM_BASE_LO, (uint32_t)dev->base));
  TRY(dev->t.write32(dev->t.ctx, ACCGEN_REG_DRAM_BASE_HI, (uint32_t)(dev->base >> 32)));
  TRY(dev->t.write32(dev->t.ctx, ACCGEN_REG_GIE, 1));
  TRY(dev->t.write32(dev->t.ctx, ACCGEN_REG_IER, ACCGEN_IRQ_DONE));
  TRY(dev->t.write32(dev->t.ctx, ACCGEN_REG_AP_CTRL, ACCGEN_AP_START));
  if (dev->t.wait_irq) {
    int r = dev->t.wait_irq(dev->t.ctx, dev->poll_limit);
    if (r < 0) return ACCGEN_E_TRANSPORT;
    if (r == 0) return ACCGEN_E_TIMEOUT;
  }
  for (uint64_t n = 0;; n++) {
    TRY(dev->t.read32(dev->t.ctx, ACCGEN_REG_AP_CTRL, &ctrl));
    if (ctrl & ACCGEN_AP_DONE) break;
    if (n >= dev->poll_limit) return ACCGEN_E_TIMEOUT;
  }
  TRY(dev->t.read32(dev->t.ctx, ACCGEN_REG_ISR, &isr));
  if (isr & ACCGEN_IRQ_DONE) TRY(dev->t.write32(dev->t.ctx, ACCGEN_REG_ISR, ACCGEN_IRQ_DONE));
  TRY(dev->t.read32(dev->t.ctx, ACCGEN_REG_ERROR_CODE, &code));
  if (code) {
    TRY(dev->t.read32(dev->t.ctx, ACCGEN_REG_ERROR_INDEX, &dev->error_index));
    return (int)code;
  }
  if (counters) {
    if (read64(dev, ACCGEN_REG_CYCLES_LO, &counters->cycles) || read64(dev, ACCGEN_REG_BUSY_LOAD_LO, &counters->busy_load) ||
        read64(dev, ACCGEN_REG_BUSY_COMPUTE_LO, &counters->busy_compute) ||
        read64(dev, ACCGEN_REG_BUSY_STORE_LO, &counters->busy_store) ||
        read64(dev, ACCGEN_REG_BYTES_READ_LO, &counters->bytes_read) ||
        read64(dev, ACCGEN_REG_BYTES_WRITTEN_LO, &counters->bytes_written))
      return ACCGEN_E_TRANSPORT;
  }
  TRY(dev->t.mem_read(dev->t.ctx, dev->base + m->output_offset, output,
                      (size_t)(m->output_rows * m->output_cols * m->output_elem_bytes)));
  return ACCGEN_OK;
}

const char *accgen_strerror(int code) {
  switch (code) {
    case ACCGEN_OK: return "ok";
    case ACCGEN_E_TRANSPORT: return "the bus or the simulated board failed";
    case ACCGEN_E_NOT_ACCGEN: return "the ID register is not an accgen accelerator's";
    case ACCGEN_E_TIMEOUT: return "ap_done did not rise in time";
    case ACCGEN_E_ARG: return "bad argument (sizes, layout, or no model loaded)";
    case 1: return "accelerator error 1: illegal instruction";
    case 2: return "accelerator error 2: scratchpad or accumulator row out of range";
    case 3: return "accelerator error 3: AXI error response (DRAM access outside memory)";
    case 4: return "accelerator error 4: watchdog (no engine made progress)";
    case 5: return "accelerator error 5: epilogue parameter out of range";
    default: return "unknown error";
  }
}
