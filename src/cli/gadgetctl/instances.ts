// `gadgetctl list|ls|ps`, `show`, `delete`: headless gadget instances of the daemon.
import { stringify as yamlStringify } from 'yaml';
import type { GadgetClient } from '../../service/client.js';
import { InstanceStatus, type ApiGadgetInstance } from '../../service/proto.js';
import { findInstance } from './run.js';

function statusText(i: ApiGadgetInstance): string {
  switch (i.state?.status) {
    case InstanceStatus.Running: return 'Running';
    case InstanceStatus.Error: return 'Error';
    default: return i.state ? 'Unknown' : '';
  }
}

export async function listInstances(client: GadgetClient, json: boolean): Promise<void> {
  const all = await client.listInstances();
  if (json) {
    process.stdout.write(JSON.stringify(all.map((i) => ({ id: i.id, name: i.name, tags: i.tags, image: i.gadgetConfig?.imageName ?? '', status: statusText(i), message: i.state?.message ?? '' }))) + '\n');
    return;
  }
  const rows = all.map((i) => [i.id.slice(0, 12), i.name, i.tags.join(','), i.gadgetConfig?.imageName ?? '', statusText(i)]);
  const head = ['ID', 'NAME', 'TAGS', 'GADGET', 'STATUS'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join(' ').trimEnd() + '\n';
  process.stdout.write(line(head) + rows.map(line).join(''));
}

export async function showInstance(client: GadgetClient, key: string): Promise<void> {
  const i = await client.getInstance((await findInstance(client, key)).id);
  process.stdout.write(yamlStringify({
    ID: i.id, Name: i.name, Tags: i.tags, Image: i.gadgetConfig?.imageName ?? '',
    TimeCreated: new Date(Number(i.timeCreated) * 1000).toISOString().replace('.000Z', 'Z'),
    Params: i.gadgetConfig?.paramValues ?? {}, Status: statusText(i), Message: i.state?.message ?? '',
  }));
}

/** Delete each named instance; names not found are reported, the others still deleted. Returns failures. */
export async function deleteInstances(client: GadgetClient, keys: string[]): Promise<number> {
  let failures = 0;
  for (const k of keys) {
    try {
      const i = await findInstance(client, k);
      await client.removeInstance(i.id);
      process.stdout.write(`${i.id}\n`);
    } catch (e) {
      failures++;
      process.stderr.write(`Error: ${(e as Error).message}\n`);
    }
  }
  return failures;
}
