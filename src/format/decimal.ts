// Exact decimal arithmetic on u64 values held as two u32 halves, without BigInt (hot paths: timestamps, ids).

/** (hi * 2^32 + lo) mod 1e9, exactly (2^32 = 4294967296 = 4 * 1e9 + 294967296). */
export function u64Mod1e9(hi: number, lo: number): number {
  const h = hi % 1e9;
  return ((((h * 294967) % 1e9) * 1000) + h * 296 + lo) % 1e9;
}
