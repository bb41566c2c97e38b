// Library lookup inside a container's root (symlinks followed inside it, never out to the host) and the identity
// of a file under overlayfs (the layer's file, which is what a uprobe attaches to), on real overlay mounts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileIdentity, resolveInRoot, resolveLibrary } from './libs.js';

test('resolveInRoot / resolveLibrary: absolute and relative links stay inside the root', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-libs-root-'));
  try {
    fs.mkdirSync(path.join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
    fs.mkdirSync(path.join(root, 'opt/real'), { recursive: true });
    fs.writeFileSync(path.join(root, 'opt/real/libigfoo.so.1.2'), 'x');
    // /lib -> /usr/lib (absolute: the container's /usr/lib, not the host's)
    fs.symlinkSync('/usr/lib', path.join(root, 'lib'));
    fs.symlinkSync('/opt/real/libigfoo.so.1.2', path.join(root, 'usr/lib/x86_64-linux-gnu/libigfoo.so.1'));
    fs.symlinkSync('../../../../../../etc/passwd', path.join(root, 'opt/escape'));
    fs.symlinkSync('loop2', path.join(root, 'opt/loop1'));
    fs.symlinkSync('loop1', path.join(root, 'opt/loop2'));

    assert.equal(resolveInRoot(root, '/lib/x86_64-linux-gnu/libigfoo.so.1'), `${root}/opt/real/libigfoo.so.1.2`);
    assert.equal(resolveLibrary('libigfoo', root), `${root}/opt/real/libigfoo.so.1.2`);
    assert.equal(resolveLibrary('libigfoo'), undefined, 'the host has no such library');
    // `..` stops at the root: /etc/passwd of the root, which does not exist there
    assert.equal(resolveInRoot(root, '/opt/escape'), undefined);
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'mine');
    assert.equal(resolveInRoot(root, '/opt/escape'), `${root}/etc/passwd`);
    assert.equal(resolveInRoot(root, '/opt/loop1'), undefined, 'a link loop ends the resolution');
    assert.equal(resolveLibrary('/opt/real/libigfoo.so.1.2', root), `${root}/opt/real/libigfoo.so.1.2`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

const canMount = process.getuid?.() === 0 && fs.readFileSync('/proc/filesystems', 'utf8').includes('overlay');

test('fileIdentity: a file under two overlays of one lower layer is one file; a copied-up file is the upper\'s', { skip: canMount ? false : 'needs root and overlayfs' }, () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-libs-ovl-'));
  const mounted: string[] = [];
  try {
    for (const x of ['lower', 'u1', 'w1', 'm1', 'u2', 'w2', 'm2']) fs.mkdirSync(path.join(d, x));
    fs.mkdirSync(path.join(d, 'lower/lib'));
    fs.writeFileSync(path.join(d, 'lower/lib/libc.so.6'), 'lib');
    fs.writeFileSync(path.join(d, 'lower/lib/other'), 'o');
    for (const k of ['1', '2']) {
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${d}/lower,upperdir=${d}/u${k},workdir=${d}/w${k}`, `${d}/m${k}`]);
      mounted.push(`${d}/m${k}`);
    }
    const lower = fs.statSync(path.join(d, 'lower/lib/libc.so.6'));
    const a = fs.statSync(`${d}/m1/lib/libc.so.6`);
    const b = fs.statSync(`${d}/m2/lib/libc.so.6`);
    assert.notEqual(`${a.dev}:${a.ino}`, `${b.dev}:${b.ino}`, 'stat() alone sees two files');
    assert.equal(fileIdentity('', `${d}/m1/lib/libc.so.6`), `${lower.dev}:${lower.ino}`);
    assert.equal(fileIdentity('', `${d}/m2/lib/libc.so.6`), `${lower.dev}:${lower.ino}`);
    // written through the first overlay: copied up, another file than the lower one
    fs.appendFileSync(`${d}/m1/lib/other`, 'more');
    const up = fs.statSync(`${d}/u1/lib/other`);
    assert.equal(fileIdentity('', `${d}/m1/lib/other`), `${up.dev}:${up.ino}`);
    // a file on no overlay: its own identity
    const plain = fs.statSync(path.join(d, 'lower/lib/other'));
    assert.equal(fileIdentity('', path.join(d, 'lower/lib/other')), `${plain.dev}:${plain.ino}`);
  } finally {
    for (const m of mounted.reverse()) spawnSync('umount', [m]);
    fs.rmSync(d, { recursive: true, force: true });
  }
});
