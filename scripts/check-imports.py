#!/usr/bin/env python3
"""Checks that every target's imports match what Package.swift declares for it.

  scripts/check-imports.py [PACKAGE_DIR]

For each target of the package (from `swift package dump-package`):
- every module its Swift files import is a declared dependency (or a
  module of the platform: Foundation, Glibc, Testing, ...), so nothing
  builds only because another target happened to pull it in;
- every declared dependency is imported by at least one of its files;
- a stage module (Capture, SIP, RTP, Codecs, DSP, Output, Catalog) depends on
  no other of our Swift modules but CallrecCore: stage modules never import
  each other (ARCHITECTURE.md, "Modules").

Prints one line per problem, naming the target and the file, and exits 1 if
there is any; `make test` runs it.
"""

import json
import os
import re
import subprocess
import sys

# Modules of the platform and the toolchain: never declared in Package.swift.
PLATFORM = {
    "Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Musl", "Darwin", "Dispatch",
    "Synchronization", "Testing", "XCTest", "_Concurrency", "Swift",
}

# The stage modules: each does one job on its own (ARCHITECTURE.md).
STAGES = {"Capture", "SIP", "RTP", "Codecs", "DSP", "Output", "Catalog"}
# What a stage module may import of our own Swift modules.
STAGE_MAY_IMPORT = {"CallrecCore"}

IMPORT = re.compile(
    r"^\s*(?:@testable\s+|@preconcurrency\s+|@_implementationOnly\s+|@_exported\s+)*"
    r"(?:(?:public|package|internal)\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)",
    re.MULTILINE,
)


def dump(package_dir):
    out = subprocess.run(
        ["swift", "package", "--package-path", package_dir, "dump-package"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def target_dir(package_dir, target):
    if target.get("path"):
        return os.path.join(package_dir, target["path"])
    folder = "Tests" if target["type"] == "test" else "Sources"
    return os.path.join(package_dir, folder, target["name"])


def dependency_names(target, products):
    """The module names a target's dependencies provide."""
    names = set()
    for dependency in target.get("dependencies", []):
        if "byName" in dependency:
            names.add(dependency["byName"][0])
        elif "target" in dependency:
            names.add(dependency["target"][0])
        elif "product" in dependency:
            product = dependency["product"][0]
            names.add(products.get(product, product))
    return names


def swift_files(folder):
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            if name.endswith(".swift"):
                yield os.path.join(root, name)


def strip_comments(text):
    """The code without string literals and comments (a string may hold `import`)."""
    text = re.sub(r'#*"""[\s\S]*?"""#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", "", text)


def main():
    package_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    manifest = dump(package_dir)
    # An external product's module has the product's name (ArgumentParser, GRDB, Crypto,
    # PostgresNIO); a product whose module is named otherwise goes here.
    products = {}
    swift_modules = {t["name"] for t in manifest["targets"] if t["type"] != "system"}
    problems = []
    for target in manifest["targets"]:
        if target["type"] in ("system", "plugin", "binary"):
            continue
        name = target["name"]
        declared = dependency_names(target, products)
        folder = target_dir(package_dir, target)
        imported = {}
        for path in swift_files(folder):
            with open(path, encoding="utf-8") as f:
                text = strip_comments(f.read())
            for module in IMPORT.findall(text):
                if module in PLATFORM:
                    continue
                imported.setdefault(module, os.path.relpath(path, package_dir))
        for module, path in sorted(imported.items()):
            if module == name:
                continue
            if module not in declared:
                problems.append(f"{name}: {path} imports {module}, which Package.swift does not declare for {name}")
        for module in sorted(declared - set(imported)):
            problems.append(f"{name}: declares {module} in Package.swift, but none of its files imports it")
        if name in STAGES:
            for module in sorted(declared & swift_modules - STAGE_MAY_IMPORT):
                problems.append(f"{name}: a stage module depends on {module}; stage modules import only CallrecCore and C libraries")
    for line in problems:
        print("check-imports: " + line)
    if problems:
        return 1
    print(f"check-imports: {sum(1 for t in manifest['targets'] if t['type'] not in ('system', 'plugin', 'binary'))} targets, imports as declared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
