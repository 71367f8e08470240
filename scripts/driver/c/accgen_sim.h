/* The simulated-board transport of the C driver (`accgen serve --socket PATH`). */
#ifndef ACCGEN_SIM_H
#define ACCGEN_SIM_H
#include "accgen_driver.h"
/* Connect to the board's socket: 0, or -1. */
int accgen_sim_connect(const char *path, accgen_transport *t);
void accgen_sim_close(accgen_transport *t);
#endif
