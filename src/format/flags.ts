// open(2) flags (gadget_file_flags) as upstream prints them: the access mode, then the set flags, O_RDONLY|O_CLOEXEC.
const OPEN_FLAGS: [number, string][] = [
  [0o100, 'O_CREAT'], [0o200, 'O_EXCL'], [0o400, 'O_NOCTTY'], [0o1000, 'O_TRUNC'], [0o2000, 'O_APPEND'], [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'], [0o20000, 'O_ASYNC'], [0o40000, 'O_DIRECT'], [0o100000, 'O_LARGEFILE'], [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'], [0o1000000, 'O_NOATIME'], [0o2000000, 'O_CLOEXEC'], [0o4010000, 'O_SYNC'], [0o10000000, 'O_PATH'],
  [0o20200000, 'O_TMPFILE'],
];
// Multi-bit flags (O_SYNC includes O_DSYNC, O_TMPFILE includes O_DIRECTORY) are matched first.
const BY_WIDTH = [...OPEN_FLAGS].reverse();

export function fileFlags(flags: number): string {
  const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][flags & 3]!;
  const out = [acc];
  let rest = flags & ~3;
  for (const [bit, name] of BY_WIDTH) {
    if ((rest & bit) === bit && bit !== 0) {
      out.push(name);
      rest &= ~bit;
    }
  }
  return out.join('|');
}
