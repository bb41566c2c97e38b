// Network endpoints (gadget_l3endpoint_t / gadget_l4endpoint_t): addresses as inet_ntop writes them, protocol names.

/** Format an IP stored as 16 raw bytes (v4 in the first 4) according to its version; '' for another version. */
export function ipString(buf: Buffer, offs: number, version: number): string {
  if (version === 4) return `${buf[offs]}.${buf[offs + 1]}.${buf[offs + 2]}.${buf[offs + 3]}`;
  if (version !== 6) return '';
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(buf.readUInt16BE(offs + i).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (parts[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && parts[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return parts.join(':');
  // IPv4-mapped addresses read better in dotted form.
  if (best === 0 && bestLen === 5 && parts[5] === 'ffff') return `::ffff:${buf[offs + 12]}.${buf[offs + 13]}.${buf[offs + 14]}.${buf[offs + 15]}`;
  return `${parts.slice(0, best).join(':')}::${parts.slice(best + bestLen).join(':')}`;
}

/** IP protocol numbers of the transports gadgets report. */
export const PROTOCOLS: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

