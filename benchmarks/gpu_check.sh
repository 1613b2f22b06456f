#!/usr/bin/env bash
# The CUDA path of neurosim, checked in one go (issue 17 §3): equivalence tests,
# train_epoch.py and simulate.py on the GPU, one real DFC-SSA epoch; one JSON out.
#
#   benchmarks/gpu_check.sh [--device cuda|cpu] [--out gpu_check.json] [--budget 360]
#
# Needs the project on PYTHONPATH (set here from this file's location; no install)
# and torch with CUDA, numpy, networkx, pyyaml, tqdm, matplotlib. MNIST is read from
# $NEUROSIM_DATA or the user cache, else synthetic data is used. --device cpu is a
# small dry run that proves the script works end to end on a machine without a GPU.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="${ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
PYTHON="${PYTHON:-python3}"
exec "${PYTHON}" "${ROOT}/benchmarks/gpu_check.py" "$@"
