#!/bin/sh
# The sweep on 2 MPI ranks writes byte for byte what one process writes (docs/sweep.md).
# Usage: sweep_mpi.sh XPUSIM DATA_DIR GRID SCRATCH
set -eu
xpusim="$1"; data="$2"; grid="$3"; scratch="$4"
mkdir -p "$scratch"
for format in csv jsonl; do
  "$xpusim" --data-dir "$data" sweep "$grid" --format "$format" --threads 2 --out "$scratch/one.$format"
  mpirun --allow-run-as-root --oversubscribe -n 2 \
    "$xpusim" --data-dir "$data" sweep "$grid" --format "$format" --threads 1 --out "$scratch/two.$format"
  cmp "$scratch/one.$format" "$scratch/two.$format"
  test "$(wc -l < "$scratch/one.$format")" -ge 60
done
echo "sweep: 1 process and 2 MPI ranks agree"
