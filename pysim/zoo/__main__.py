"""Regenerate the zoo's YAML files: ``python -m pysim.zoo [DIRECTORY]`` (default: workloads)."""

import sys

from pysim.zoo import write_yaml

if __name__ == "__main__":
    for path in write_yaml(sys.argv[1] if len(sys.argv) > 1 else "workloads"):
        print(path)
