#!/bin/sh
# Documentation checks of the public headers (ctest abi.docs):
#  1. every TW_API function has a comment block directly above its declaration (no blank line
#     between; a run of declarations without blank lines shares the comment above the first) or
#     beside it (a comment on its own lines);
#  2. every function a header comment names as `tw_name(` is declared in a public header, and a
#     shorthand `_verb(` after `tw_module_x(` in the same comment names one as well;
#  3. every `tagwire/x.h` a comment names exists.
set -eu
incdir=${1:?usage: check_docs.sh <include dir>}
exec python3 - "$incdir" <<'PY'
import glob, os, re, sys

inc = sys.argv[1]
hdrs = sorted(glob.glob(os.path.join(inc, "tagwire", "*.h")) + glob.glob(os.path.join(inc, "tagwire", "sys", "*.h")))
COMMENT = re.compile(r"/\*.*?\*/", re.S)
src = {h: open(h, encoding="utf-8").read() for h in hdrs}
declared = set()
for s in src.values():
    code = COMMENT.sub(" ", s)
    declared |= set(re.findall(r"\b(tw_[a-z0-9_]+)\s*\(", code))
    declared |= set(re.findall(r"\(\s*\*\s*(tw_[a-z0-9_]+)\s*\)", code))
errors = []

def lineno(s, pos):
    return s[:pos].count("\n") + 1

for h, s in src.items():
    rel = os.path.relpath(h, inc)
    # mask comments but keep line structure: comment chars become 'C'
    masked = COMMENT.sub(lambda m: re.sub(r"[^\n]", "C", m.group(0)), s)
    lines, mlines = s.split("\n"), masked.split("\n")
    documented = {}  # line index of a declaration's last line -> documented?
    i = 0
    while i < len(lines):
        if not re.match(r"\s*TW_API\b", mlines[i]):
            i += 1
            continue
        start = i
        while ";" not in mlines[i] and "{" not in mlines[i] and i + 1 < len(lines):
            i += 1
        end = i
        beside = any("C" in mlines[k] for k in range(start, end + 1))
        prev = start - 1
        above = prev >= 0 and lines[prev].rstrip().endswith("*/")
        grouped = prev >= 0 and documented.get(prev, False)
        ok = beside or above or grouped
        documented[end] = ok
        if not ok:
            m = re.search(r"\b(tw_[a-z0-9_]+)\s*\(", " ".join(mlines[start:end + 1]))
            errors.append(f"{rel}:{start + 1}: {m.group(1) if m else 'TW_API declaration'}: no comment above or beside")
        i = end + 1
    for c in COMMENT.finditer(s):
        text, prefixes = c.group(0), []
        for m in re.finditer(r"(?<![A-Za-z0-9_])(tw_[a-z0-9]+_[a-z0-9_]*|_[a-z][a-z0-9_]*)\(", text):
            n = m.group(1)
            if n.startswith("tw_"):
                if n not in declared:
                    errors.append(f"{rel}:{lineno(s, c.start() + m.start())}: comment names {n}(), which no public header declares")
                parts = n.split("_")
                prefixes = ["_".join(parts[:k]) + "_" for k in range(len(parts) - 1, 1, -1)]
            elif prefixes and not any(p + n[1:] in declared for p in prefixes):
                errors.append(f"{rel}:{lineno(s, c.start() + m.start())}: comment names {n}() after {prefixes[0]}..., which no public header declares")
        for m in re.finditer(r"\btagwire/([a-z0-9_/]+\.h)\b", text):
            if not os.path.exists(os.path.join(inc, "tagwire", m.group(1))):
                errors.append(f"{rel}:{lineno(s, c.start() + m.start())}: comment names tagwire/{m.group(1)}, which does not exist")
for e in errors:
    print(e)
if errors:
    print(f"FAIL: {len(errors)} documentation problem(s) in the public headers")
    sys.exit(1)
print(f"OK: {len(hdrs)} public headers; every TW_API function documented; every named function and header exists")
PY
