// Public surface of the BTF layer.
export { Btf, KERNEL_BTF_PATH, type DatasecVar } from './btf.js';
export { ElfFile, EM_BPF, type ElfSection, type ElfSymbol } from './elf.js';
export * from './model.js';
export * from './types.js';
