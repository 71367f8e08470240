/* accgen bare-metal / Linux C driver: run a model compiled by `accgen compile` on the
 * accelerator. The accelerator is reached through a transport: MMIO on a board
 * (accgen_mmio.c: Vitis standalone, or Linux UIO with a physically contiguous
 * buffer), or the simulated board of `accgen serve` (accgen_sim.c).
 *
 * Register offsets come from accgen_regs.h, generated from the Rust register map
 * (`accgen board` writes it into drivers/). */
#ifndef ACCGEN_DRIVER_H
#define ACCGEN_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/* Error codes of the driver's calls (negative) and of the accelerator (positive,
 * the error_code register: 1 illegal instruction, 2 row range, 3 AXI error,
 * 4 watchdog, 5 parameter). */
#define ACCGEN_OK 0
#define ACCGEN_E_TRANSPORT (-1) /* the bus or the simulated board failed */
#define ACCGEN_E_NOT_ACCGEN (-2) /* the ID register is not an accgen accelerator's */
#define ACCGEN_E_TIMEOUT (-3)    /* ap_done never came */
#define ACCGEN_E_ARG (-4)        /* a bad argument (sizes, a missing model) */

typedef struct accgen_transport {
  void *ctx;
  int (*read32)(void *ctx, uint32_t offset, uint32_t *value);
  int (*write32)(void *ctx, uint32_t offset, uint32_t value);
  /* A DRAM buffer the accelerator can reach: its bus address. */
  int (*alloc)(void *ctx, uint64_t bytes, uint64_t *addr);
  int (*mem_write)(void *ctx, uint64_t addr, const void *data, size_t bytes);
  int (*mem_read)(void *ctx, uint64_t addr, void *data, size_t bytes);
  /* Wait for the interrupt; NULL to poll ap_ctrl instead. 1: raised, 0: timeout. */
  int (*wait_irq)(void *ctx, uint64_t timeout_cycles);
} accgen_transport;

/* The offsets `accgen compile` writes into dram.txt. */
typedef struct accgen_layout {
  uint64_t dram_bytes, prog_offset, prog_len, input_offset, input_elems, input_elem_bytes;
  uint64_t output_offset, output_rows, output_cols, output_elem_bytes, output_signed, output_bits;
} accgen_layout;

typedef struct accgen_counters {
  uint64_t cycles, busy_load, busy_compute, busy_store, bytes_read, bytes_written;
} accgen_counters;

typedef struct accgen_dev {
  accgen_transport t;
  accgen_layout layout;
  uint64_t base; /* the model's DRAM buffer */
  int loaded;
  uint32_t error_index; /* of the last accelerator error */
  uint64_t poll_limit;  /* ap_ctrl polls before ACCGEN_E_TIMEOUT */
} accgen_dev;

/* Check the ID register. */
int accgen_open(accgen_dev *dev, const accgen_transport *t);
/* Parse dram.txt's text. */
int accgen_parse_layout(const char *text, accgen_layout *out);
/* Place a model: the DRAM image (dram.bin) and its layout. */
int accgen_load(accgen_dev *dev, const accgen_layout *layout, const void *image, size_t bytes);
/* Run on `input` (input_elems elements of input_elem_bytes, little-endian) into
 * `output` (output_rows * output_cols elements of output_elem_bytes). Returns
 * ACCGEN_OK, a negative driver error, or the accelerator's positive error code. */
int accgen_run(accgen_dev *dev, const void *input, void *output, accgen_counters *counters);
/* A message for a return code. */
const char *accgen_strerror(int code);

#endif
