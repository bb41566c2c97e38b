#!/usr/bin/env python3
"""Regenerate src/operators/formatters/tables.ts (syscall and errno names) from the x86_64 UAPI headers."""
import re
sysc, errno = {}, {}
for l in open('/usr/include/x86_64-linux-gnu/asm/unistd_64.h'):
    m = re.match(r'#define __NR_(\w+)\s+(\d+)', l)
    if m: sysc[int(m.group(2))] = m.group(1)
for f in ['/usr/include/asm-generic/errno-base.h', '/usr/include/asm-generic/errno.h']:
    for l in open(f):
        m = re.match(r'#define\s+(E\w+)\s+(\d+)', l)
        if m and int(m.group(2)) not in errno: errno[int(m.group(2))] = m.group(1)
out = ["// Generated once from the x86_64 kernel UAPI headers (asm/unistd_64.h, asm-generic/errno*.h).",
       "// Regenerate with scripts/gen-tables.py; kept in the tree so ig runs without kernel headers.",
       "export const SYSCALLS_X86_64: Record<number, string> = {"]
out += [f"  {k}: '{v}'," for k, v in sorted(sysc.items())]
out += ["};", "", "export const ERRNO_NAMES: Record<number, string> = {"]
out += [f"  {k}: '{v}'," for k, v in sorted(errno.items())]
out += ["};", ""]
open('src/operators/formatters/tables.ts', 'w').write("\n".join(out))
