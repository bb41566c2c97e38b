// Packet filters (--pf, --pf-<name>): one param per GADGET_PF(name) splice point the object has (a FUNC named
// gadget_pf_<name> in its BTF), as upstream. A set filter is compiled from pcap syntax to eBPF and spliced in
// at load (src/bpf/pcap-filter.ts); an unset one leaves the accept-all body.
import type { Btf } from '../../bpf/btf/btf.js';
import type { BpfObject } from '../../bpf/object.js';
import { PacketFilterError, pcapToEbpf } from '../../bpf/pcap-filter.js';
import { GadgetError, type GadgetContext } from '../../gadget/context.js';
import type { ParamDesc } from '../../gadget/params.js';
import { EBPF_PREFIX } from './params.js';

const PF_FUNC_PREFIX = 'gadget_pf_';

/** Filter names ("" for GADGET_PF()) the object declares. */
export function packetFilterNames(btf: Btf): string[] {
  return btf.funcNamesWithPrefix(PF_FUNC_PREFIX).map((f) => f.slice(PF_FUNC_PREFIX.length)).sort();
}

const paramKey = (name: string) => (name === '' ? 'pf' : `pf-${name}`);

export function packetFilterParams(names: string[]): ParamDesc[] {
  return names.map((n) => ({
    key: paramKey(n), prefix: EBPF_PREFIX, defaultValue: '', typeHint: 'string',
    description: n === '' ? 'Packet filter in pcap syntax (as tcpdump), e.g. "udp and port 53"' : `Packet filter ${n} in pcap syntax (as tcpdump)`,
  }));
}

/** Compile the set filters and hand them to the object; a bad expression ends the run in one line. */
export function configurePacketFilters(ctx: GadgetContext, obj: BpfObject, names: string[]): void {
  const filters: { name: string; insns: Buffer }[] = [];
  for (const name of names) {
    const expr = (ctx.params.get(EBPF_PREFIX + paramKey(name)) ?? '').trim();
    if (!expr) continue;
    try {
      filters.push({ name, insns: pcapToEbpf(expr) });
    } catch (e) {
      if (e instanceof PacketFilterError) throw new GadgetError(`gadget ${ctx.name}: --${paramKey(name)} ${JSON.stringify(expr)}: invalid packet filter: ${e.message}`);
      throw e;
    }
    ctx.log.debug(`packet filter ${paramKey(name)}: ${JSON.stringify(expr)} compiled to ${filters.at(-1)!.insns.length / 8} eBPF instructions`);
  }
  if (filters.length > 0) obj.setPacketFilters(filters);
}
