"""Golden record of the numbers every lab page shows (see scripts/record_golden.py)."""
