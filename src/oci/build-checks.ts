// Checks `ig image build` makes on its inputs and outputs before anything reaches the store.

import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { OciError } from './errors.js';
import { ElfFile } from '../bpf/btf/elf.js';

/**
 * A path named in build.yaml must stay inside the gadget folder (also through symlinks): a build should package
 * the gadget's own files, never pick up `../../etc/shadow` into an image that may be pushed.
 */
export function checkInsideGadgetDir(dir: string, p: string, what: string): void {
  const root = realOrSelf(path.resolve(dir));
  const abs = realOrSelf(path.resolve(dir, p));
  const rel = path.relative(root, abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new OciError(`${what} "${p}" is outside the gadget folder ${dir}: build.yaml may only name files inside it`);
  }
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p; // does not exist (yet): the lexical path is what will be used
  }
}

/**
 * The object must declare its license (`char LICENSE[] SEC("license") = "GPL";`): without it the kernel refuses
 * GPL-only helpers at load time, on every machine the image is run on, with an error that does not say why.
 * An object without programs (only maps, for a WASM module to use: upstream's map test gadgets) needs none.
 */
export function checkLicense(object: Buffer, src: string): void {
  const elf = new ElfFile(object);
  const SHF_EXECINSTR = 0x4n;
  if (!elf.sections.some((s) => (s.flags & SHF_EXECINSTR) !== 0n && s.size > 0)) return;
  const data = elf.sectionData('license');
  const license = data ? data.toString('latin1').replace(/\0.*$/s, '') : '';
  if (!license) {
    throw new OciError(`${src}: the program declares no license: add  char LICENSE[] SEC("license") = "GPL";  (the kernel refuses GPL-only helpers to programs without a license)`);
  }
}
