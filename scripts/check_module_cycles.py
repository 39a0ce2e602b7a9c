#!/usr/bin/env python3
"""Fails when the library's modules depend on each other in a cycle.

Two graphs are checked, both read from the source text of `src/` (the `cli` folder, the
binary's, included):
- between top-level modules (`src/compile/` and `src/compile.rs` are one node `compile`);
- between the files of one folder (`src/compile/kernel.rs` is `compile::kernel`, its
  `mod.rs` is `compile`).

An edge is any path that names another module: `crate::x::…`, `super::x`, `self::x`, or in a
`mod.rs` a bare `child::…`. A `pub use` in a `mod.rs` is a re-export for users, not a
dependency of the folder's own code, and test modules (`#[cfg(test)] mod … { … }`) are left
out: they may use whatever they test. Exit status 1 and each cycle printed when there is one.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def strip_comments_and_strings(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # Raw strings first (they may hold quotes), then ordinary ones.
    text = re.sub(r'r(#+)".*?"\1', '""', text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text, flags=re.S)
    return text


def strip_test_modules(text):
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def expand_use_tree(tree):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = tree.strip()
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix, inner = tree[:brace], tree[brace + 1:tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    return [p for part in parts if part.strip() for p in expand_use_tree(prefix + part.strip())]


def module_files():
    """Maps each module path ("compile::kernel", "compile", "lib") to its file."""
    files = {}
    for dirpath, _, names in os.walk(ROOT):
        for name in names:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), ROOT)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            files["::".join(rel)] = os.path.join(dirpath, name)
    return files


def resolve(files, path):
    """The longest known module that `path` (segments from the crate root) lies in."""
    for n in range(len(path), 0, -1):
        name = "::".join(path[:n])
        if name in files:
            return name
    return None


def edges_of(files, module, text):
    is_folder_root = files[module].endswith("mod.rs") or module in ("lib", "main")
    here = module.split("::") if module not in ("lib", "main") else []
    parent = here if is_folder_root else here[:-1]
    paths = []
    for m in re.finditer(r"(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", text, flags=re.S):
        if m.group(1) and is_folder_root:
            continue  # a re-export
        paths += expand_use_tree(re.sub(r"\s+", "", m.group(2)))
    text_without_uses = re.sub(r"(?:pub(?:\([^)]*\))?\s+)?use\s+[^;]+;", "", text, flags=re.S)
    paths += re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", text_without_uses)
    if is_folder_root:
        children = {m.split("::")[-1] for m in files if m.split("::")[:-1] == here and m != module}
        for child in children:
            if re.search(r"(?<![:\w])" + child + r"::", text_without_uses):
                paths.append("self::" + child)
    targets = set()
    for p in paths:
        seg = [s for s in p.split("::") if s]
        if not seg:
            continue
        if seg[0] == "crate":
            absolute = seg[1:]
        elif seg[0] == "super":
            absolute = parent[:-1] + seg[1:] if is_folder_root else parent + seg[1:]
        elif seg[0] == "self":
            absolute = (here if is_folder_root else here) + seg[1:]
        else:
            continue
        target = resolve(files, absolute)
        if target and target != module:
            targets.add(target)
    return targets


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    files = module_files()
    file_graph = {}
    for module, path in files.items():
        with open(path, encoding="utf-8") as f:
            text = strip_test_modules(strip_comments_and_strings(f.read()))
        file_graph[module] = edges_of(files, module, text)

    top = lambda m: m.split("::")[0]
    top_graph = {}
    for a, targets in file_graph.items():
        for b in targets:
            if top(a) != top(b) and top(a) not in ("lib", "main"):
                top_graph.setdefault(top(a), set()).add(top(b))
    inner_graph = {a: {b for b in t if top(a) == top(b)} for a, t in file_graph.items()}

    found = False
    for comp in cycles(top_graph):
        found = True
        print("cycle between top-level modules: " + " <-> ".join(comp))
        for a in comp:
            for b in sorted(top_graph.get(a, ())):
                if b in comp:
                    who = sorted(m for m, t in file_graph.items() if top(m) == a and any(top(x) == b for x in t))
                    print(f"  {a} -> {b}  (from {', '.join(who)})")
    for comp in cycles(inner_graph):
        found = True
        print("cycle between files of one module: " + " <-> ".join(comp))
        for a in comp:
            print(f"  {a} -> {', '.join(sorted(b for b in inner_graph[a] if b in comp))}")
    if found:
        return 1
    print(f"no module cycles ({len(files)} files, {len(top_graph)} top-level modules with dependencies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
