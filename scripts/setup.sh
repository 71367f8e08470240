#!/usr/bin/env bash
# accgen set-up: idempotent. Installs Verilator, Yosys and Icarus Verilog (plus the C++
# toolchain Verilator builds with) from Debian's apt repository, only when missing.
set -euo pipefail

need=()
command -v verilator >/dev/null 2>&1 || need+=(verilator)
command -v yosys >/dev/null 2>&1 || need+=(yosys)
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)

if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "setup: need root or sudo to install: ${need[*]}" >&2
      exit 1
    fi
  fi
  echo "setup: installing ${need[*]} with apt-get (about 30 s)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install a Rust toolchain (1.80 or newer) first" >&2
  exit 1
fi

echo "setup: $(verilator --version | head -n1); $(yosys -V | head -n1); $(iverilog -V 2>/dev/null | head -n1)"
