import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdNames, installResolver } from './operator.js';
import { Batch, DataSource, Kind } from '../../datasource/index.js';

test('names come from the passwd file and follow its changes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-uid-'));
  const p = join(dir, 'passwd');
  writeFileSync(p, 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  const t = new IdNames(p, 0);
  assert.equal(t.lookup(1000), 'alice');
  assert.equal(t.lookup(4242), '');
  writeFileSync(p, 'root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/sh\n');
  const later = new Date(Date.now() + 5000);
  utimesSync(p, later, later);
  assert.equal(t.lookup(1000), 'bob');
});

test('gadget_uid / gadget_gid fields get hidden user / group siblings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-uid-'));
  writeFileSync(join(dir, 'passwd'), 'alice:x:1000:1000::/:/bin/sh\n');
  writeFileSync(join(dir, 'group'), 'staff:x:50:\n');
  const ds = new DataSource('x', 'single');
  ds.staticSize = 8;
  const creds = ds.addField({ name: 'creds', kind: Kind.Bytes, storage: { type: 'static', offs: 0, size: 8 } });
  ds.addField({ name: 'uid', parent: creds, kind: Kind.Uint32, tags: ['type:gadget_uid'], storage: { type: 'static', offs: 0, size: 4 } });
  ds.addField({ name: 'gid_raw', parent: creds, kind: Kind.Uint32, tags: ['type:gadget_gid'], storage: { type: 'static', offs: 4, size: 4 } });
  assert.equal(installResolver(ds, { users: new IdNames(join(dir, 'passwd')), groups: new IdNames(join(dir, 'group')) }), 2);
  const b = Batch.empty(ds, 1);
  b.buf.writeUInt32LE(1000, 0);
  b.buf.writeUInt32LE(50, 4);
  assert.equal(ds.getField('creds.user')!.get(b, 0), 'alice');
  assert.equal(ds.getField('creds.gid')!.get(b, 0), 'staff');
  assert.equal(ds.getField('creds.user')!.hidden, true);
});

test('the coarse clock of the per-event checks lasts one event-loop turn (no timer once lookups stop)', async () => {
  const { coarseClockArmed } = await import('./names.js');
  const dir = mkdtempSync(join(tmpdir(), 'ig-uid-'));
  const p = join(dir, 'passwd');
  writeFileSync(p, 'alice:x:1000:1000::/:/bin/sh\n');
  const t = new IdNames(p, 100);
  assert.equal(t.lookup(1000), 'alice');
  assert.equal(coarseClockArmed(), true);
  await new Promise((res) => setImmediate(res));
  assert.equal(coarseClockArmed(), false, 'the clock is let go at the end of the turn: no timer wakes an idle run later');
  // ... and a lookup after the recheck interval (100 ms here) reads the clock again: a change of the file is seen.
  await new Promise((res) => setTimeout(res, 150));
  writeFileSync(p, 'bob:x:1000:1000::/:/bin/sh\n');
  const later = new Date(Date.now() + 5000);
  utimesSync(p, later, later);
  assert.equal(t.lookup(1000), 'bob');
});
