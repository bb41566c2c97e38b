// Converters shared by operators: raw values of typed fields (BTF typedef names) as the text people read.
// Pure functions and tables only, no imports from the rest of ig: operators, the native render plan's memo
// fillers and any client that prints decoded packets use the same ones.
export { errnoName } from './errno.js';
export { signalName } from './signals.js';
export { syscallName, parseSyscallFormat, syscallParams, formatParams, formatRet, type SyscallParam } from './syscalls.js';
export { fileFlags } from './flags.js';
export { fileMode } from './modes.js';
export { ipString, PROTOCOLS } from './endpoints.js';
export { humanBytes, humanDuration } from './units.js';
export { TimestampFormatter, formatTimestampNs } from './time.js';
export { u64Mod1e9 } from './decimal.js';
export { targetName, type NamedField } from './names.js';
