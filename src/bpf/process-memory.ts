// Shrinking this process's resident set without touching live data: its clean, file-backed, read-only pages out of its
// page tables (native/src/clean_pages.c), the C heap's free pages back to the kernel (native/src/heap_trim.c).
// They are page-cache pages shared with every process mapping the same files (node's binary, libc, libbpf): this
// lowers RSS, not memory use; what runs again refaults from the page cache (a minor fault per ~16 pages).
// Writable mappings and mappings holding private copies (RELRO, relocations) are refused in C, whatever is asked.
import { native } from './native.js';

export interface DroppedPages {
  /** Mappings whose pages were dropped. */
  mappings: number;
  /** kB they had resident before. */
  residentKb: number;
}

/**
 * Drop the resident pages of every executable file mapping (node's code, shared libraries, the addon); with
 * `readOnlyData` also of every read-only file mapping without private copies (node's .rodata and ELF tables).
 */
export function dropCleanCodePages(readOnlyData = false): DroppedPages {
  return native.dropCleanCodePages(readOnlyData);
}

/** Drop the pages of [start, end) (page-aligned, inside one clean non-writable file mapping; throws otherwise). */
export function dropCleanFilePages(start: number, end: number): number {
  return native.dropCleanFilePages(start, end);
}

/** Return the C heap's free pages (every malloc arena) to the kernel: what start-up freed stays resident otherwise. */
export function trimMallocHeap(): boolean {
  return native.trimMallocHeap() === 1;
}
