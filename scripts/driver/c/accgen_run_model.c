/* Run a compiled model on the simulated board with the C driver:
 *   accgen_run_model SOCKET MODEL_DIR INPUT.bin OUTPUT.bin [--corrupt-program]
 * INPUT.bin holds the input elements as the model stores them (little-endian);
 * OUTPUT.bin receives the output elements. Exit 0, or 1 with the driver's message
 * (`--corrupt-program` overwrites the first instruction to check error reporting). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accgen_driver.h"
#include "accgen_sim.h"

static void *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)len + 1);
  if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) buf[len] = 0;
  *n = (size_t)len;
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s SOCKET MODEL_DIR INPUT.bin OUTPUT.bin [--corrupt-program]\n", argv[0]);
    return 2;
  }
  char path[4096];
  size_t n_txt, n_img, n_in;
  snprintf(path, sizeof path, "%s/dram.txt", argv[2]);
  char *txt = slurp(path, &n_txt);
  snprintf(path, sizeof path, "%s/dram.bin", argv[2]);
  void *img = slurp(path, &n_img);
  void *in = slurp(argv[3], &n_in);
  if (!txt || !img || !in) {
    fprintf(stderr, "cannot read the model or the input\n");
    return 1;
  }
  accgen_layout lay;
  if (accgen_parse_layout(txt, &lay) != ACCGEN_OK || n_in != lay.input_elems * lay.input_elem_bytes) {
    fprintf(stderr, "bad dram.txt or input size\n");
    return 1;
  }
  accgen_transport t;
  if (accgen_sim_connect(argv[1], &t) != 0) {
    fprintf(stderr, "cannot connect to %s\n", argv[1]);
    return 1;
  }
  accgen_dev dev;
  int r = accgen_open(&dev, &t);
  if (r == ACCGEN_OK) r = accgen_load(&dev, &lay, img, n_img);
  if (r == ACCGEN_OK && argc > 5 && strcmp(argv[5], "--corrupt-program") == 0) {
    unsigned char bad[16];
    memset(bad, 0xff, sizeof bad);
    if (t.mem_write(t.ctx, dev.base + lay.prog_offset, bad, sizeof bad)) r = ACCGEN_E_TRANSPORT;
  }
  size_t out_bytes = (size_t)(lay.output_rows * lay.output_cols * lay.output_elem_bytes);
  void *out = malloc(out_bytes);
  accgen_counters cnt;
  if (r == ACCGEN_OK) r = accgen_run(&dev, in, out, &cnt);
  if (r != ACCGEN_OK) {
    fprintf(stderr, "accgen: %s (instruction %u)\n", accgen_strerror(r), dev.error_index);
    accgen_sim_close(&t);
    return 1;
  }
  FILE *f = fopen(argv[4], "wb");
  if (!f || fwrite(out, 1, out_bytes, f) != out_bytes) return 1;
  fclose(f);
  printf("ok: %llu cycles, %llu bytes read, %llu written\n", (unsigned long long)cnt.cycles,
         (unsigned long long)cnt.bytes_read, (unsigned long long)cnt.bytes_written);
  accgen_sim_close(&t);
  return 0;
}
