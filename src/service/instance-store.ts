// Headless instances on disk, as upstream's file store keeps them: one <id>.gadget file per instance holding the
// CreateGadgetInstanceRequest in protobuf's JSON form, in a directory only root can read (0700).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromJsonMessage, toJsonMessage, type ApiCreateInstanceRequest } from './proto.js';
import { isValidInstanceId } from './consts.js';

export class InstanceStore {
  constructor(readonly dir: string) {}

  init(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(id: string): string {
    // Ids are 32 hex characters (checked by the caller): nothing can escape the directory.
    if (!isValidInstanceId(id)) throw new Error(`invalid instance id "${id}"`);
    return path.join(this.dir, `${id}.gadget`);
  }

  /** Every stored instance; a file that cannot be read is reported and skipped, never fatal. */
  loadAll(warn: (msg: string) => void): ApiCreateInstanceRequest[] {
    let names: string[];
    try { names = fs.readdirSync(this.dir); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: ApiCreateInstanceRequest[] = [];
    for (const n of names.sort()) {
      if (!n.endsWith('.gadget')) continue;
      const p = path.join(this.dir, n);
      try {
        const req = fromJsonMessage<ApiCreateInstanceRequest>('CreateGadgetInstanceRequest', JSON.parse(fs.readFileSync(p, 'utf8')));
        if (!req.gadgetInstance || !isValidInstanceId(req.gadgetInstance.id) || `${req.gadgetInstance.id}.gadget` !== n) throw new Error('no valid gadget instance in it');
        out.push(req);
      } catch (e) {
        warn(`skipping instance file ${p}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    return out;
  }

  /** Write atomically (temp file + rename): a daemon killed mid-write leaves the old file or none. */
  save(req: ApiCreateInstanceRequest): void {
    const p = this.file(req.gadgetInstance!.id);
    const { state: _state, ...inst } = req.gadgetInstance!;
    const json = JSON.stringify(toJsonMessage('CreateGadgetInstanceRequest', { ...req, gadgetInstance: inst }), null, 2);
    const tmp = `${p}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, json + '\n', { mode: 0o600 });
    fs.renameSync(tmp, p);
  }

  remove(id: string): void {
    try { fs.unlinkSync(this.file(id)); } catch (e) {
      // Already gone is what we wanted.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}
