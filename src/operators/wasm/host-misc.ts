// Host functions beyond data: log, params, config, handles, kallsyms, syscalls and the mount-namespace filter.
import { readFileSync } from 'node:fs';
import { Kind } from '../../datasource/kinds.js';
import type { LogLevel } from '../../gadget/logger.js';
import { SYSCALLS_X86_64 } from '../../format/syscall-table.js';
import { syscallParams } from '../../format/syscalls.js';
import { type HostState } from './state.js';

const LEVELS: LogLevel[] = ['error', 'warn', 'info', 'debug', 'debug'];
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

let syscallIds: Map<string, number> | undefined;
let kallsyms: Set<string> | undefined;

/** Layout of upstream's syscallDeclaration: name[32], nrParams u8, pad[3], params[6] of {name[32], flags u32}. */
const DECL_SIZE = 32 + 4 + 6 * 36;
const PARAM_IS_POINTER = 1;

export function miscFunctions(s: HostState) {
  const { mem, ctx } = s;
  return {
    gadgetLog(level: number, msg: bigint): void {
      const text = mem.string(msg, 'gadgetLog');
      const l = LEVELS[level];
      if (!l) { ctx.log.warn(`${s.who}: log with unknown level ${level}: ${text}`); return; }
      ctx.log[l](text);
    },
    gadgetShouldLog(level: number): number {
      const l = LEVELS[level];
      return l && ORDER[l] <= ORDER[ctx.log.level] && (level < 4 || ctx.log.level === 'debug') ? 1 : 0;
    },

    getParamValue(key: bigint, dst: bigint): number {
      const k = mem.string(key, 'getParamValue');
      const v = s.paramValue(k);
      if (v === undefined) return 1;
      return mem.write(Buffer.from(v), dst, 'getParamValue') ? 0 : 1;
    },

    setConfig(key: bigint, value: bigint, kind: number): number {
      const k = mem.string(key, 'setConfig');
      if (kind !== Kind.String) return 1;
      applyConfig(s, k, mem.string(value, 'setConfig'));
      return 0;
    },

    releaseHandle(h: number): number {
      const o = s.handles.get(h);
      if (!o) return 1;
      if (o.t === 'map') o.release?.();
      s.handles.delete(h);
      return 0;
    },

    kallsymsSymbolExists(name: bigint): number {
      const n = mem.string(name, 'kallsymsSymbolExists');
      if (!kallsyms) {
        kallsyms = new Set();
        try {
          for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
            const parts = line.split(/\s+/);
            if (parts[2]) kallsyms.add(parts[2]);
          }
        } catch (e) {
          ctx.log.debug(`${s.who}: reading /proc/kallsyms: ${(e as Error).message}`);
        }
      }
      return kallsyms.has(n) ? 1 : 0;
    },

    getSyscallName(id: number, dst: bigint): number {
      // As upstream (and strace): a number without a name is "syscall_<hex>".
      const name = SYSCALLS_X86_64[id & 0xffff] ?? `syscall_${(id & 0xffff).toString(16)}`;
      return mem.write(Buffer.from(name), dst, 'getSyscallName') ? 0 : 1;
    },
    getSyscallID(name: bigint): number {
      const n = mem.string(name, 'getSyscallID');
      if (!syscallIds) {
        syscallIds = new Map();
        for (const [id, nm] of Object.entries(SYSCALLS_X86_64)) syscallIds.set(nm, Number(id));
      }
      return syscallIds.get(n) ?? -1;
    },
    getSyscallDeclaration(name: bigint, dst: bigint): number {
      const n = mem.string(name, 'getSyscallDeclaration');
      const params = syscallParams(n);
      if (!params) return 1;
      const out = Buffer.alloc(DECL_SIZE);
      out.write(n.slice(0, 31), 0);
      out[32] = Math.min(params.length, 6);
      params.slice(0, 6).forEach((p, k) => {
        const o = 36 + k * 36;
        out.write(p.name.slice(0, 31), o);
        out.writeUInt32LE(p.pointer ? PARAM_IS_POINTER : 0, o + 32);
      });
      return mem.write(out, dst, 'getSyscallDeclaration') ? 0 : 1;
    },

    shouldDiscardMntnsID(mntns: bigint): number {
      const m = ctx.offers.offeredMap('gadget_mntns_filter_map');
      if (!m) return 0; // no container selection: the gadget wants everything
      const key = Buffer.alloc(8);
      key.writeBigUInt64LE(BigInt.asUintN(64, mntns));
      return m.lookup(key) ? 0 : 1;
    },
  };
}

/**
 * setConfig: upstream writes into the gadget's config (gadget.yaml as viper). What reaches operators here:
 * data source and field annotations, applied to what already exists and kept for fields added later.
 */
function applyConfig(s: HostState, key: string, value: string): void {
  const m = /^datasources\.([^.]+)\.(?:fields\.(.+)\.)?annotations\.(.+)$/.exec(key);
  const md = s.ctx.metadata;
  if (m) {
    const [, dsName, fieldName, ann] = m as unknown as [string, string, string | undefined, string];
    const cfg = (md.datasources[dsName] ??= { annotations: {}, fields: {} });
    const ds = s.ctx.dataSources.get(dsName);
    if (fieldName) {
      const fc = ((cfg.fields ??= {})[fieldName] ??= { annotations: {}, tags: [] });
      (fc.annotations ??= {})[ann] = value;
      const f = ds?.getField(fieldName);
      if (f) {
        f.annotations.set(ann, value);
        if (ann === 'columns.hidden') f.setHidden(value === 'true');
      }
    } else {
      (cfg.annotations ??= {})[ann] = value;
      ds?.annotations.set(ann, value);
    }
    return;
  }
  // Anything else is kept in the lower-cased document for getConfig-style lookups.
  let cur = md.raw as Record<string, unknown>;
  const parts = key.toLowerCase().split('.');
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    cur = (next && typeof next === 'object' ? next : (cur[p] = {})) as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}
