#!/usr/bin/env python3
"""Compiles every GLSL compute shader of a folder to SPIR-V variants and embeds them into a C source.

usage: build_spirv.py --glslc GLSLC [--spirv-val SPIRV_VAL] --src DIR [-I DIR...] --depfile DEP OUT.c SYMBOL

Each DIR/*.comp names its variants in lines `// variants: NAME[=DEF,DEF...] ...`; without any it is
built as STEM_f32 and STEM_f16 (=XF_F16). Every variant is validated with spirv-val when given. The
folder is found at build time, so a new shader needs no build edit; the depfile lists the sources,
the included headers and the folders, so adding a file reruns the step.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import embed_files  # noqa: E402


def variants(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*//\s*variants:\s*(.*)', line)
            if m:
                for word in m.group(1).split():
                    name, _, defs = word.partition('=')
                    out.append((name, [d for d in defs.split(',') if d]))
    return out or [(stem + '_f32', []), (stem + '_f16', ['XF_F16'])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--glslc', required=True)
    ap.add_argument('--spirv-val')
    ap.add_argument('--src', required=True)
    ap.add_argument('-I', dest='includes', action='append', default=[])
    ap.add_argument('--depfile')
    ap.add_argument('out')
    ap.add_argument('symbol')
    args = ap.parse_args()
    sources = sorted(os.path.join(args.src, f) for f in os.listdir(args.src) if f.endswith('.comp'))
    work = tempfile.mkdtemp(prefix='spirv-', dir=os.path.dirname(os.path.abspath(args.out)))
    glslang = os.path.basename(args.glslc).startswith('glslangValidator')
    incs = [args.src] + args.includes
    jobs = []
    for src in sources:
        for name, defs in variants(src):
            spv = os.path.join(work, name + '.spv')
            if glslang:
                cmd = [args.glslc, '-V', '--target-env', 'vulkan1.1']
            else:
                cmd = [args.glslc, '--target-env=vulkan1.1', '-O']
            cmd += ['-I' + d for d in incs] + ['-D%s=1' % d for d in defs] + ['-o', spv, src]
            jobs.append((name, src, cmd, spv))
    names = [j[0] for j in jobs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit('build_spirv: variant names used twice: ' + ', '.join(sorted(dup)))

    def run(job):
        name, src, cmd, spv = job
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return f'{src} ({name}): {r.stdout}{r.stderr}'
        if args.spirv_val:
            r = subprocess.run([args.spirv_val, '--target-env', 'vulkan1.1', spv], capture_output=True, text=True)
            if r.returncode != 0:
                return f'{src} ({name}): spirv-val: {r.stdout}{r.stderr}'
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        errors = [e for e in pool.map(run, jobs) if e]
    if errors:
        sys.exit('\n'.join(errors))
    sys.argv = [sys.argv[0], args.out, args.symbol] + [j[3] for j in jobs]
    embed_files.main()
    for j in jobs:
        os.remove(j[3])
    os.rmdir(work)
    if args.depfile:
        deps = list(sources) + incs
        for d in incs:
            deps += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(('.glsl', '.h'))]
        with open(args.depfile, 'w') as f:
            f.write(args.out + ': ' + ' '.join(p.replace(' ', '\\ ') for p in deps) + '\n')


if __name__ == '__main__':
    main()
