"""python -m codegen [validators|scanners ...]: write the named generated modules, all of
them when none is named."""
import sys

from codegen import scanners, validators

GENERATORS = {"validators": validators.generate, "scanners": scanners.generate}


def main(arguments: list[str]) -> int:
    unknown = [name for name in arguments if name not in GENERATORS]
    if unknown:
        print(f"codegen: {unknown[0]}: not a generator (choose from "
              f"{', '.join(GENERATORS)})", file=sys.stderr)
        return 2
    for name in arguments or GENERATORS:
        for line in GENERATORS[name]():
            print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
