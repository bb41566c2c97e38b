#!/usr/bin/env python3
"""Regenerate src/format/syscall-table.ts and src/format/errno-table.ts from the x86_64 UAPI headers."""
import re
sysc, errno = {}, {}
for l in open('/usr/include/x86_64-linux-gnu/asm/unistd_64.h'):
    m = re.match(r'#define __NR_(\w+)\s+(\d+)', l)
    if m: sysc[int(m.group(2))] = m.group(1)
for f in ['/usr/include/asm-generic/errno-base.h', '/usr/include/asm-generic/errno.h']:
    for l in open(f):
        m = re.match(r'#define\s+(E\w+)\s+(\d+)', l)
        if m and int(m.group(2)) not in errno: errno[int(m.group(2))] = m.group(1)


def table(path, source, name, entries):
    out = [f"// Generated from the x86_64 kernel UAPI headers ({source}) by scripts/gen-tables.py;",
           "// kept in the tree so ig runs without kernel headers.",
           f"export const {name}: Record<number, string> = {{"]
    out += [f"  {k}: '{v}'," for k, v in sorted(entries.items())]
    out += ["};", ""]
    open(path, 'w').write("\n".join(out))


table('src/format/syscall-table.ts', 'asm/unistd_64.h', 'SYSCALLS_X86_64', sysc)
table('src/format/errno-table.ts', 'asm-generic/errno*.h', 'ERRNO_NAMES', errno)
