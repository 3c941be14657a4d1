#!/usr/bin/env python3
"""Checks that the source tree's layers hold (issue 16).

Builds the include graph of the C sources and fails (exit 1) on
  - any cycle between modules, where a module is a .c with its .h (the same
    path without the extension: plugin/http.c and plugin/http.h are the
    module plugin/http); each cycle is printed as a chain a -> b -> a;
  - any include that goes upward or sideways between the layers of LAYERS.

    tests/check_layers.py [--root DIR] [--layers SPEC] [-I DIR]... [-v] [FOLDER...]

FOLDERs (default: SOURCES) are scanned for *.c and *.h, recursively.
`#include "x"` resolves first against the including file's folder, then
against the -I folders (default: the -I of CPPFLAGS in ROOT/Makefile, with
$(BUILD) as build; -I options replace them); `#include <x>` only against
the -I folders. An include that resolves to no file of the scanned folders
(a system header, generated code) is not an edge.

A module's layer is the longest LAYERS folder that is its folder or one
above it. A module may include modules of its own layer and of layers of
lower rank; never of a higher rank, nor of another layer of the same rank
(siblings stay apart). Modules in no layer are unconstrained by rank but
are cycle-checked. --layers "a/b=0,a=1" replaces the table.

Output: one line per top folder (modules, edges), then either
"no cycles, layers hold" or the cycles and bad includes and a FAIL line.
"""

import argparse
import os
import re
import sys
from collections import defaultdict, deque

# Folder -> rank. Lower ranks are lower layers (what higher ones build on).
LAYERS = {
    "plugin/core": 0,
    "plugin/http": 1,
    "plugin/capture": 1,
    "plugin/profiles": 2,
    "plugin": 3,
    "cli/profiler/util": 0,
    "cli/profiler/input": 1,
    "cli/profiler/transport": 1,
    "cli/profiler/report": 2,
    "cli/profiler/render": 3,
    "cli/profiler/commands": 4,
}

SOURCES = ["plugin", "profile", "cli", "host-api", "server"]
DEFAULT_INCLUDE_DIRS = ["host-api/include", "profile", "plugin", "cli/profiler"]

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]', re.M)
COMMENT_RE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"', re.S)


def strip_comments(text):
    """Comments out, newlines kept (for line numbers); string literals kept."""
    def repl(m):
        s = m.group(0)
        if s.startswith('"'):
            return s
        return "\n" * s.count("\n") + " "
    return COMMENT_RE.sub(repl, text)


def makefile_include_dirs(root):
    """The -I folders of CPPFLAGS in ROOT/Makefile, or None."""
    path = os.path.join(root, "Makefile")
    try:
        with open(path) as f:
            text = f.read().replace("\\\n", " ")
    except OSError:
        return None
    dirs = []
    for m in re.finditer(r'^CPPFLAGS[ \t]*(?:\+=|:=|\?=|=)(.*)$', text, re.M):
        words = m.group(1).split()
        for i, w in enumerate(words):
            d = None
            if w == "-I" and i + 1 < len(words):
                d = words[i + 1]
            elif w.startswith("-I") and len(w) > 2:
                d = w[2:]
            if d is not None:
                d = d.replace("$(BUILD)", os.environ.get("BUILD", "build"))
                dirs.append(os.path.normpath(d))
    return dirs or None


def parse_layers(spec):
    table = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        folder, _, rank = part.partition("=")
        table[os.path.normpath(folder.strip())] = int(rank)
    return table


def module_of(path):
    return os.path.splitext(path)[0]


def layer_of(module, layers):
    """(folder, rank) of the longest layer holding module, or None."""
    folder = os.path.dirname(module)
    best = None
    for key in layers:
        if folder == key or folder.startswith(key + "/"):
            if best is None or len(key) > len(best):
                best = key
    return (best, layers[best]) if best is not None else None


def scan(root, folders):
    files = []
    for top in folders:
        base = os.path.join(root, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".c", ".h")):
                    full = os.path.join(dirpath, name)
                    files.append(os.path.relpath(full, root))
    return files


def build_graph(root, folders, include_dirs):
    files = scan(root, folders)
    known = set(files)
    modules = {module_of(f) for f in files}
    edges = defaultdict(dict)  # module -> {module: "file:line"}
    for f in files:
        with open(os.path.join(root, f), errors="replace") as fh:
            text = strip_comments(fh.read())
        here = os.path.dirname(f)
        for m in INCLUDE_RE.finditer(text):
            kind, name = m.group(1), m.group(2).strip()
            candidates = [] if kind == "<" else [os.path.join(here, name)]
            candidates += [os.path.join(d, name) for d in include_dirs]
            target = None
            for c in candidates:
                c = os.path.normpath(c)
                if os.path.isfile(os.path.join(root, c)):
                    target = c
                    break
            if target is None or target not in known:
                continue  # a system header, or outside the scanned folders
            a, b = module_of(f), module_of(target)
            if a != b and b not in edges[a]:
                line = text.count("\n", 0, m.start()) + 1
                edges[a][b] = "%s:%d" % (f, line)
    return modules, edges


def strongly_connected(modules, edges):
    """Tarjan's algorithm, iterative. Lists of modules, each sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def shortest_path(edges, members, src, dst):
    """Shortest path src ... dst inside members, as a list, or None."""
    prev = {src: None}
    queue = deque([src])
    while queue:
        v = queue.popleft()
        if v == dst:
            path = []
            while v is not None:
                path.append(v)
                v = prev[v]
            return path[::-1]
        for w in sorted(edges.get(v, {})):
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return None


def cycles_of(comp, edges):
    """Cycles that together use every include inside one strongly connected
    group: for each include u -> v not yet in a printed cycle, u -> v and
    the shortest way back from v to u. Each starts at its smallest module."""
    members = set(comp)
    covered, cycles = set(), []
    for u in comp:
        for v in sorted(edges.get(u, {})):
            if v not in members or (u, v) in covered:
                continue
            back = shortest_path(edges, members, v, u)
            cycle = [u] + back  # u, v, ..., u
            ring = cycle[:-1]
            k = ring.index(min(ring))
            ring = ring[k:] + ring[:k]
            for a, b in zip(ring, ring[1:] + ring[:1]):
                covered.add((a, b))
            if ring not in cycles:
                cycles.append(ring)
    return cycles


def layer_violations(edges, layers):
    out = []
    for a in sorted(edges):
        la = layer_of(a, layers)
        for b in sorted(edges[a]):
            lb = layer_of(b, layers)
            if la is None or lb is None or la[0] == lb[0]:
                continue
            if lb[1] > la[1]:
                why = "upward"
            elif lb[1] == la[1]:
                why = "sideways (same rank)"
            else:
                continue
            out.append("%s include: %s (%s, rank %d) includes %s (%s, rank %d) at %s"
                       % (why, a, la[0], la[1], b, lb[0], lb[1], edges[a][b]))
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")))
    ap.add_argument("--layers", help='e.g. "plugin/core=0,plugin=1" (replaces LAYERS)')
    ap.add_argument("-I", dest="include_dirs", action="append",
                    help="an include folder (replaces the Makefile's)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show where each include of a cycle is")
    ap.add_argument("folders", nargs="*")
    args = ap.parse_args(argv)

    root = args.root
    folders = [os.path.normpath(f) for f in (args.folders or SOURCES)]
    missing = [f for f in folders if not os.path.isdir(os.path.join(root, f))]
    if missing:
        print("check_layers: no folder %s under %s" % (", ".join(missing), root),
              file=sys.stderr)
        return 2
    include_dirs = [os.path.normpath(d) for d in args.include_dirs] if args.include_dirs \
        else (makefile_include_dirs(root) or DEFAULT_INCLUDE_DIRS)
    layers = parse_layers(args.layers) if args.layers is not None else LAYERS

    modules, edges = build_graph(root, folders, include_dirs)

    for top in folders:
        mods = [m for m in modules if m == top or m.startswith(top + "/")]
        n_edges = sum(len(edges.get(m, {})) for m in mods)
        print("%s: %d modules, %d edges" % (top, len(mods), n_edges))

    groups = [c for c in strongly_connected(modules, edges) if len(c) > 1]
    n_cycles = 0
    for comp in groups:
        cycles = cycles_of(comp, edges)
        n_cycles += len(cycles)
        print("include cycle among %d modules: %s" % (len(comp), ", ".join(comp)))
        for ring in cycles:
            print("  cycle: " + " -> ".join(ring + ring[:1]))
            if args.verbose:
                for a, b in zip(ring, ring[1:] + ring[:1]):
                    print("    %s includes %s at %s" % (a, b, edges[a][b]))
    bad = layer_violations(edges, layers)
    for line in bad:
        print(line)
    if not groups and not bad:
        print("no cycles, layers hold")
        return 0
    print("FAIL: %d include cycles (in %d groups of modules), %d includes against the layers"
          % (n_cycles, len(groups), len(bad)))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
