/* The simulated-board transport: `accgen serve --socket PATH`, one JSON object per
 * line each way (see src/cmd/serve.rs). Linux/POSIX only. */
#include "accgen_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct {
  int fd;
  char *line; /* the last reply */
  size_t cap;
} sim_ctx;

static int send_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Send `req` (a JSON object without the newline), read one reply line. */
static int call(sim_ctx *c, const char *req) {
  size_t len = 0;
  if (send_all(c->fd, req, strlen(req)) || send_all(c->fd, "\n", 1)) return -1;
  for (;;) {
    char ch;
    ssize_t r = read(c->fd, &ch, 1);
    if (r <= 0) return -1;
    if (len + 2 > c->cap) {
      c->cap = c->cap ? 2 * c->cap : 4096;
      c->line = realloc(c->line, c->cap);
      if (!c->line) return -1;
    }
    if (ch == '\n') break;
    c->line[len++] = ch;
  }
  c->line[len] = 0;
  if (!strstr(c->line, "\"ok\":true")) {
    fprintf(stderr, "accgen_sim: %s\n", c->line);
    return -1;
  }
  return 0;
}

static int field_u64(const char *line, const char *key, uint64_t *v) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(line, pat);
  if (!p) return -1;
  *v = strtoull(p + strlen(pat), NULL, 10);
  return 0;
}

static int ok_resp(const char *line) { return strstr(line, "\"resp\":\"okay\"") ? 0 : -1; }

static int sim_read32(void *ctx, uint32_t off, uint32_t *value) {
  sim_ctx *c = ctx;
  char req[96];
  uint64_t v;
  snprintf(req, sizeof req, "{\"op\":\"read32\",\"addr\":%u}", off);
  if (call(c, req) || ok_resp(c->line) || field_u64(c->line, "value", &v)) return -1;
  *value = (uint32_t)v;
  return 0;
}

static int sim_write32(void *ctx, uint32_t off, uint32_t value) {
  sim_ctx *c = ctx;
  char req[128];
  snprintf(req, sizeof req, "{\"op\":\"write32\",\"addr\":%u,\"value\":%u}", off, value);
  if (call(c, req) || ok_resp(c->line)) return -1;
  return 0;
}

static int sim_alloc(void *ctx, uint64_t bytes, uint64_t *addr) {
  sim_ctx *c = ctx;
  char req[128];
  snprintf(req, sizeof req, "{\"op\":\"alloc\",\"bytes\":%llu,\"align\":4096}", (unsigned long long)bytes);
  if (call(c, req) || field_u64(c->line, "addr", addr)) return -1;
  return 0;
}

static int sim_mem_write(void *ctx, uint64_t addr, const void *data, size_t n) {
  sim_ctx *c = ctx;
  const unsigned char *d = data;
  size_t cap = 2 * n + 128;
  char *req = malloc(cap);
  if (!req) return -1;
  int k = snprintf(req, cap, "{\"op\":\"mem_write\",\"addr\":%llu,\"data\":\"", (unsigned long long)addr);
  for (size_t i = 0; i < n; i++) k += snprintf(req + k, cap - (size_t)k, "%02x", d[i]);
  snprintf(req + k, cap - (size_t)k, "\"}");
  int r = call(c, req);
  free(req);
  return r;
}

static int sim_mem_read(void *ctx, uint64_t addr, void *data, size_t n) {
  sim_ctx *c = ctx;
  char req[128];
  unsigned char *d = data;
  snprintf(req, sizeof req, "{\"op\":\"mem_read\",\"addr\":%llu,\"bytes\":%llu}", (unsigned long long)addr,
           (unsigned long long)n);
  if (call(c, req)) return -1;
  const char *p = strstr(c->line, "\"data\":\"");
  if (!p) return -1;
  p += 8;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(p + 2 * i, "%2x", &v) != 1) return -1;
    d[i] = (unsigned char)v;
  }
  return 0;
}

static int sim_wait_irq(void *ctx, uint64_t timeout) {
  sim_ctx *c = ctx;
  char req[96];
  snprintf(req, sizeof req, "{\"op\":\"wait_irq\",\"timeout\":%llu}", (unsigned long long)timeout);
  if (call(c, req)) return -1;
  return strstr(c->line, "\"irq\":true") ? 1 : 0;
}

int accgen_sim_connect(const char *path, accgen_transport *t) {
  struct sockaddr_un a;
  sim_ctx *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
    free(c);
    return -1;
  }
  t->ctx = c;
  t->read32 = sim_read32;
  t->write32 = sim_write32;
  t->alloc = sim_alloc;
  t->mem_write = sim_mem_write;
  t->mem_read = sim_mem_read;
  t->wait_irq = sim_wait_irq;
  return 0;
}

void accgen_sim_close(accgen_transport *t) {
  sim_ctx *c = t->ctx;
  if (!c) return;
  close(c->fd);
  free(c->line);
  free(c);
  t->ctx = NULL;
}
