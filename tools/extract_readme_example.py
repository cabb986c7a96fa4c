#!/usr/bin/env python3
"""Writes the C program between <!-- example:begin --> and <!-- example:end --> in README.md to OUT.

usage: extract_readme_example.py README.md OUT.c
The test suite compiles and runs it, so the README's example cannot rot.
"""
import re
import sys

text = open(sys.argv[1], encoding='utf-8').read()
m = re.search(r'<!-- example:begin -->\s*```c\n(.*?)```\s*<!-- example:end -->', text, re.S)
if not m:
    sys.exit('README.md has no example block')
open(sys.argv[2], 'w', encoding='utf-8').write(m.group(1))
