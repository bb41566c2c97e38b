// errno numbers as names (gadget_errno): ENOENT for 2 or -2, '' for 0.
import { ERRNO_NAMES } from './errno-table.js';

export function errnoName(v: number): string {
  if (v === 0) return '';
  const n = Math.abs(v);
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}
