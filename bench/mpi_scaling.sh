#!/usr/bin/env bash
# make bench: the Training MLP (784-256-10) trained data-parallel on 1 and 2 MPI ranks (plain and
# with sharded optimizer state): time per step and the share spent in communication. Each rank
# gets one thread (DESCENT_NUM_THREADS=1) so that 2 ranks on this 2-core machine do not
# oversubscribe it; the 1-rank line uses one core too, so the ratio is the scaling.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if ! command -v mpirun > /dev/null; then echo "mpirun not found: scripts/ensure-deps.sh --mpi"; exit 1; fi
export DESCENT_NUM_THREADS=1
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
echo "== data-parallel MLP 784-256-10 (float32, Adam, global batch 128, 120 steps, 1 thread per rank)"
for ranks in 1 2; do
    for mode in "" --shard; do
        mpirun --oversubscribe -np "$ranks" "$python" bench/mpi_mlp.py $mode
    done
done
