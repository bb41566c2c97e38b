// File modes (gadget_file_mode) as ls prints them: -rw-r--r--, drwxr-xr-x, with setuid/setgid/sticky bits.
const TYPES: [number, string][] = [[0o140000, 's'], [0o120000, 'l'], [0o100000, '-'], [0o060000, 'b'], [0o040000, 'd'], [0o020000, 'c'], [0o010000, 'p']];

export function fileMode(mode: number): string {
  const fmt = mode & 0o170000;
  const t = TYPES.find(([m]) => m === fmt)?.[1] ?? '-';
  const rwx = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? rwx[i] : '-';
  const chars = s.split('');
  if (mode & 0o4000) chars[2] = chars[2] === 'x' ? 's' : 'S';
  if (mode & 0o2000) chars[5] = chars[5] === 'x' ? 's' : 'S';
  if (mode & 0o1000) chars[8] = chars[8] === 'x' ? 't' : 'T';
  return t + chars.join('');
}
