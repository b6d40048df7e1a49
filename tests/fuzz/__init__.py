"""A seeded fuzzer for pysim (issue 17): hostile calls into every public ``pysim._core`` entry
point, mutated hardware and workload configs through the Python API, and malformed files
through the CLI. Each batch runs in a child process so a crash or a hang is caught.

    python -m tests.fuzz --calls 20000 --seed 0            # core + api + cli, a table of counts
    python -m tests.fuzz --target core --seed 3 --replay 1234   # one call again, in process

docs/reliability.md describes what it covers and the figures."""
