"""Registers, shared memory, stack and spills of every CUDA kernel, as one markdown table.

    python bench/gpu_resources.py --ptxas BUILD_LOG [--cuobjdump REPORT] [--arch sm_90] [--so MODULE]

Reads what the compiler reports without a GPU:
  * the build log of a CUDA build with `-Xptxas=-v` (scripts/dev_build.sh "-DCMAKE_CUDA_FLAGS=-Xptxas=-v"):
    per entry function and architecture, registers, barriers, shared memory, stack frame, spill
    stores and spill loads;
  * `cuobjdump --dump-resource-usage pyengine/_cuda*.so` (a saved report, or run on --so here when
    cuobjdump is on PATH or in $CUOBJDUMP): registers, stack, shared and local memory of the kernels
    actually linked into the module.
Both are keyed by (architecture, mangled name) and merged; names are demangled with c++filt and
shortened to the kernel and its template arguments. A kernel that spills or has a stack frame is
flagged in the last column: local memory is ~100× slower than registers.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

_ENTRY = re.compile(r"Compiling entry function '(?P<name>[^']+)' for '(?P<arch>sm_\d+a?)'")
_FRAME = re.compile(r"(?P<stack>\d+) bytes stack frame, (?P<st>\d+) bytes spill stores, (?P<ld>\d+) bytes spill loads")
_USED = re.compile(r"Used (?P<reg>\d+) registers(?:, used (?P<bar>\d+) barriers)?(?:, (?P<smem>\d+) bytes smem)?")
_ARCH = re.compile(r"^arch = (sm_\d+a?)", re.M)
_FUNC = re.compile(r"Function (?P<name>\S+):\s*\n\s*REG:(?P<reg>\d+) STACK:(?P<stack>\d+) SHARED:(?P<smem>\d+) "
                   r"LOCAL:(?P<local>\d+)")


def parse_ptxas(text: str) -> dict:
    """{(arch, mangled): {reg, bar, smem, stack, spill_st, spill_ld}} from a `-Xptxas -v` log."""
    out: dict = {}
    cur = None
    for line in text.splitlines():
        m = _ENTRY.search(line)
        if m:
            cur = (m["arch"], m["name"])
            out.setdefault(cur, {})
            continue
        if cur is None:
            continue
        m = _FRAME.search(line)
        if m:
            out[cur].update(stack=int(m["stack"]), spill_st=int(m["st"]), spill_ld=int(m["ld"]))
            continue
        m = _USED.search(line)
        if m:
            out[cur].update(reg=int(m["reg"]), bar=int(m["bar"] or 0), smem=int(m["smem"] or 0))
            cur = None  # "Used" closes an entry's report
    return out


def parse_cuobjdump(text: str) -> dict:
    """{(arch, mangled): {reg, stack, smem, local}} from `cuobjdump --dump-resource-usage`."""
    out: dict = {}
    # the report is a sequence of ELF sections, each opening with "arch = sm_NN"
    starts = [(m.start(), m.group(1)) for m in _ARCH.finditer(text)]
    for i, (pos, arch) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        for m in _FUNC.finditer(text, pos, end):
            out[(arch, m["name"])] = {k: int(m[k]) for k in ("reg", "stack", "smem", "local")}
    return out


def demangle(names):
    """Mangled → readable names through c++filt (the names unchanged when it is missing)."""
    names = list(names)
    tool = shutil.which("c++filt")
    if not tool or not names:
        return {n: n for n in names}
    r = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True, check=False)
    lines = r.stdout.splitlines()
    return dict(zip(names, lines)) if r.returncode == 0 and len(lines) == len(names) else {n: n for n in names}


def short_name(readable: str) -> str:
    """'void pyengine::cuda::(anonymous namespace)::gemm_kernel<float, 128, ...>(Args<float>)' →
    'gemm_kernel<float, 128, ...>'."""
    s = readable.removeprefix("void ")
    depth, cut = 0, len(s)
    for i, ch in enumerate(s):  # drop the parameter list: the first '(' outside template brackets
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and not s.startswith("(anonymous", i):
            cut = i
            break
    s = s[:cut]
    s = re.sub(r"pyengine::cuda::|gemm_detail::|\(anonymous namespace\)::", "", s)
    return s


def merge(ptxas: dict, cuobj: dict, arch: str) -> list[dict]:
    """One row per kernel of `arch`: the kernels linked into the module when a cuobjdump report is given
    (the ptxas log then only adds spills and barriers), else every kernel the log names."""
    source = cuobj if any(k[0] == arch for k in cuobj) else ptxas
    keys = sorted({k for k in source if k[0] == arch}, key=lambda k: k[1])
    names = demangle(k[1] for k in keys)
    rows = []
    for k in keys:
        a, b = ptxas.get(k, {}), cuobj.get(k, {})
        row = {"kernel": short_name(names[k[1]]), "mangled": k[1], "arch": arch}
        row["reg"] = b.get("reg", a.get("reg"))
        row["smem"] = b.get("smem", a.get("smem"))
        row["stack"] = b.get("stack", a.get("stack"))
        row["local"] = b.get("local")
        row["spill_st"], row["spill_ld"] = a.get("spill_st"), a.get("spill_ld")
        row["barriers"] = a.get("bar")
        rows.append(row)
    rows.sort(key=lambda r: r["kernel"])
    return rows


def _v(x):
    return "" if x is None else str(x)


def markdown(rows: list[dict]) -> str:
    lines = ["| kernel | regs | shared B | stack B | local B | spill st/ld B | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        spills = (r["spill_st"] or 0) + (r["spill_ld"] or 0)
        note = []
        if spills:
            note.append("spills")
        if r["stack"]:
            note.append("stack frame")
        if r["reg"] is not None and r["reg"] >= 255:
            note.append("at the 255-register cap")
        sp = "" if r["spill_st"] is None else f"{r['spill_st']}/{r['spill_ld']}"
        lines.append(f"| `{r['kernel']}` | {_v(r['reg'])} | {_v(r['smem'])} | {_v(r['stack'])} | {_v(r['local'])} "
                     f"| {sp} | {', '.join(note)} |")
    return "\n".join(lines) + "\n"


def run_cuobjdump(so: str) -> str:
    tool = os.environ.get("CUOBJDUMP") or shutil.which("cuobjdump")
    if not tool:
        raise SystemExit("gpu_resources: no cuobjdump on PATH (set CUOBJDUMP=...) and no --cuobjdump report")
    r = subprocess.run([tool, "--dump-resource-usage", so], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"gpu_resources: cuobjdump failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ptxas", help="build log of a CUDA build with -Xptxas=-v")
    ap.add_argument("--cuobjdump", help="saved output of cuobjdump --dump-resource-usage")
    ap.add_argument("--so", help="run cuobjdump on this module instead")
    ap.add_argument("--arch", default="sm_90")
    args = ap.parse_args(argv)
    ptxas = parse_ptxas(open(args.ptxas, encoding="utf-8", errors="replace").read()) if args.ptxas else {}
    if args.cuobjdump:
        cuobj = parse_cuobjdump(open(args.cuobjdump, encoding="utf-8", errors="replace").read())
    elif args.so:
        cuobj = parse_cuobjdump(run_cuobjdump(args.so))
    else:
        cuobj = {}
    rows = merge(ptxas, cuobj, args.arch)
    if not rows:
        print(f"gpu_resources: no kernels for {args.arch} in the given reports", file=sys.stderr)
        return 1
    sys.stdout.write(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
