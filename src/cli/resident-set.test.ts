// IG_DROP_CLEAN_PAGES: what it accepts, and a bad value named in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { residentSetMode } from './resident-set.js';

test('IG_DROP_CLEAN_PAGES: code+rodata by default; code, off (or 0) on request; anything else refused by name', () => {
  assert.equal(residentSetMode({}), 'code+rodata');
  assert.equal(residentSetMode({ IG_DROP_CLEAN_PAGES: '' }), 'code+rodata');
  assert.equal(residentSetMode({ IG_DROP_CLEAN_PAGES: 'code' }), 'code');
  assert.equal(residentSetMode({ IG_DROP_CLEAN_PAGES: 'off' }), 'off');
  assert.equal(residentSetMode({ IG_DROP_CLEAN_PAGES: '0' }), 'off');
  assert.throws(() => residentSetMode({ IG_DROP_CLEAN_PAGES: 'all' }), /^Error: invalid value "all" for IG_DROP_CLEAN_PAGES: expected code\+rodata, code or off$/);
});
