// Ordering of names without ICU: String.prototype.localeCompare loads ICU's collation data, about 2 MB of
// resident memory in every `ig run`, to order a dozen ASCII names (operators, image tags).

/**
 * The order localeCompare gives names made of ASCII letters, digits, '-', '.', ':' and '/' (letters compared
 * without case first, then lower case before upper). Other characters: a consistent order, not ICU's.
 */
export function compareNames(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a < b ? 1 : a > b ? -1 : 0;
}
