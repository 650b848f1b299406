"""Prints the maximum relative error of every analytic gradient of the gradients issue against
the library's centered-difference gradient checker in float64 (the cases of
python/tests/gradcheck_cases.py, which the test suite asserts on).

Run: PYTHONPATH=python python3 bench/gradcheck_report.py [seeds]   (default: 5 seeds per case)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "tests"))

from gradcheck_cases import CASES, STEP, DEFAULT_STEP, run_case  # noqa: E402

seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
width = max(map(len, CASES))
print(f"{'function (float64, centered differences)':<{width}}  {'h':>7}  max rel. error over {seeds} seeds")
overall = 0.0
for name in CASES:
    worst = max(run_case(name, seed=1234 + s).max_error for s in range(seeds))
    overall = max(overall, worst)
    print(f"{name:<{width}}  {STEP.get(name, DEFAULT_STEP):7.0e}  {worst:.2e}")
print(f"{'largest':<{width}}  {'':7}  {overall:.2e}")
