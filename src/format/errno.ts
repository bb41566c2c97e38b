// errno numbers as names (gadget_errno): ENOENT for 2 or -2, '' for 0, and "error#N" for a number with no
// name, as upstream's formatter prints it.
import { ERRNO_NAMES } from './errno-table.js';

export function errnoName(v: number): string {
  if (v === 0) return '';
  const n = Math.abs(v);
  return ERRNO_NAMES[n] ?? `error#${n}`;
}
