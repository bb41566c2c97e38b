// `kubectl gadget list` and `delete`: headless gadget instances across the nodes (one ID on every node), and
// `version`: the client's and each node's daemon's.
import type { ApiGadgetInstance } from '../../service/proto.js';
import { InstanceStatus } from '../../service/proto.js';
import { igVersion } from '../version.js';
import { onEveryNode, type NodeConn } from './nodes.js';

const say = (s: string) => process.stderr.write(s);

function statusText(i: ApiGadgetInstance): string {
  switch (i.state?.status) {
    case InstanceStatus.Running: return 'Running';
    case InstanceStatus.Error: return 'Error';
    default: return i.state ? 'Unknown' : '';
  }
}

/** Instances by ID, each with the nodes it is on and its status there. Unreachable nodes are said once each. */
export async function listCluster(conns: NodeConn[], json: boolean): Promise<number> {
  const res = await onEveryNode(conns, (c) => c.listInstances());
  const byId = new Map<string, { inst: ApiGadgetInstance; nodes: { node: string; status: string; message: string }[] }>();
  let failures = 0;
  for (const r of res) {
    if (!r.ok) { failures++; say(`WARN: node ${r.node}: ${r.error}\n`); continue; }
    for (const i of r.value) {
      let e = byId.get(i.id);
      if (!e) { e = { inst: i, nodes: [] }; byId.set(i.id, e); }
      e.nodes.push({ node: r.node, status: statusText(i), message: i.state?.message ?? '' });
    }
  }
  const all = [...byId.values()].sort((a, b) => a.inst.name.localeCompare(b.inst.name) || a.inst.id.localeCompare(b.inst.id));
  const summary = (ns: { status: string }[]) => {
    const running = ns.filter((n) => n.status === 'Running').length;
    return running === ns.length ? 'Running' : `${running}/${ns.length} Running`;
  };
  if (json) {
    process.stdout.write(JSON.stringify(all.map(({ inst: i, nodes }) => ({
      id: i.id, name: i.name, tags: i.tags, image: i.gadgetConfig?.imageName ?? '', status: summary(nodes),
      nodes: nodes.map((n) => ({ node: n.node, status: n.status, message: n.message })),
    }))) + '\n');
  } else {
    const rows = all.map(({ inst: i, nodes }) => [i.id.slice(0, 12), i.name, i.tags.join(','), i.gadgetConfig?.imageName ?? '', nodes.map((n) => n.node).sort().join(','), summary(nodes)]);
    const head = ['ID', 'NAME', 'TAGS', 'GADGET', 'NODES', 'STATUS'];
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    const line = (r: string[]) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join(' ').trimEnd() + '\n';
    process.stdout.write(line(head) + rows.map(line).join(''));
  }
  return failures === conns.length && conns.length > 0 ? 1 : 0;
}

/** Delete each instance (name, ID or ID prefix) on every node that has it. Returns the number of failures. */
export async function deleteCluster(conns: NodeConn[], keys: string[]): Promise<number> {
  let failures = 0;
  const lists = await onEveryNode(conns, (c) => c.listInstances());
  for (const r of lists) if (!r.ok) say(`WARN: node ${r.node}: ${r.error}\n`);
  for (const key of keys) {
    const ids = new Set<string>();
    for (const r of lists) {
      if (!r.ok) continue;
      const exact = r.value.filter((i) => i.id === key || i.name === key);
      for (const h of exact.length ? exact : r.value.filter((i) => i.id.startsWith(key))) ids.add(h.id);
    }
    if (ids.size === 0) { failures++; say(`Error: gadget instance "${key}" not found on any node\n`); continue; }
    if (ids.size > 1) { failures++; say(`Error: gadget instance name or ID "${key}" is ambiguous (${[...ids].map((i) => i.slice(0, 12)).join(', ')})\n`); continue; }
    const id = [...ids][0]!;
    const holders = conns.filter((_, k) => { const r = lists[k]!; return r.ok && r.value.some((i) => i.id === id); });
    const res = await onEveryNode(holders, (c) => c.removeInstance(id));
    const bad = res.filter((x) => !x.ok);
    for (const b of bad) say(`Error: node ${b.node}: ${(b as { error: string }).error}\n`);
    if (bad.length) failures++;
    if (bad.length < res.length) process.stdout.write(`${id}\n`);
  }
  return failures;
}

export async function versionCluster(conns: NodeConn[]): Promise<void> {
  process.stdout.write(`Client version: ${igVersion()}\n`);
  const res = await onEveryNode(conns, (c) => c.getInfo());
  for (const r of res) {
    process.stdout.write(r.ok ? `Server version (${r.node}): ${r.value.serverVersion}\n` : `Server version (${r.node}): not available (${r.error})\n`);
  }
  if (conns.length === 0) process.stdout.write('Server version: not available (no gadget pods)\n');
}
