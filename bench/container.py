"""How big the production image is, layer by layer, against the Python base image it is
built on (measured in the same run), and which installed packages weigh the most.

Builds the repository's Dockerfile with the machine's engine (see tests/support/container.py;
`../shared/tools/container-engine.sh` provides one), unless --image names a built one.

    uv run python -m bench.container [--image TAG] [--top 10]
"""

import argparse
import json
import sys
import uuid

from tests.support.container import ROOT, build, docker, engine_problem

BASE = "python:3.11-slim-bookworm"  # the Dockerfile's FROM
MB = 1_000_000  # Docker reports sizes in decimal megabytes

PACKAGES = """
import json, os, sys
site = next(p for p in sys.path if p.endswith("site-packages"))
sizes = {}
for entry in os.listdir(site):
    path = os.path.join(site, entry)
    # a package's code, its .dist-info and its bundled .libs count as one
    name = entry.split("-")[0].removesuffix(".libs").lower().removeprefix("_")
    total = os.path.getsize(path) if os.path.isfile(path) else sum(
        os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files
    )
    sizes[name] = sizes.get(name, 0) + total
print(json.dumps(sizes))
"""


def layers(image: str) -> list[tuple[int, str]]:
    """(bytes, instruction) of every layer, oldest first."""
    rows = docker(
        "history", "--human=false", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", image
    ).stdout
    parsed = [line.partition("\t") for line in rows.splitlines() if line]
    return [(int(size), command) for size, _, command in reversed(parsed)]


def size(image: str) -> int:
    return json.loads(docker("image", "inspect", image).stdout)[0]["Size"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="an image already built from this Dockerfile")
    parser.add_argument("--top", type=int, default=10, help="how many packages to list")
    args = parser.parse_args()
    if problem := engine_problem():
        sys.exit(problem)
    image = args.image or f"saas-bench:{uuid.uuid4().hex[:8]}"
    if not args.image:
        build(ROOT, "-t", image)
    try:
        base, total = size(BASE), size(image)
        ours = layers(image)[len(layers(BASE)) :]
        print(f"base image ({BASE})  {base / MB:7.1f} MB")
        print(f"production image              {total / MB:7.1f} MB   {total / base:.2f}x the base")
        print(f"added by the Dockerfile       {(total - base) / MB:7.1f} MB in {len(ours)} layers:")
        for layer_bytes, command in ours:
            if layer_bytes:
                shown = command.removeprefix("/bin/sh -c ").replace("# buildkit", "").strip()
                print(f"  {layer_bytes / MB:8.2f} MB  {shown[:90]}")
        found = docker("run", "--rm", "--network", "none", image, "python", "-c", PACKAGES)
        packages = sorted(json.loads(found.stdout).items(), key=lambda item: -item[1])
        print(f"largest installed packages (of {len(packages)}):")
        for name, package_bytes in packages[: args.top]:
            print(f"  {package_bytes / MB:8.2f} MB  {name}")
    finally:
        if not args.image:
            docker("rmi", image, check=False)


if __name__ == "__main__":
    main()
