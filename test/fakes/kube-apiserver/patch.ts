// FAKE Kubernetes API server: the patch content types the real server accepts. Strategic merge and server-side
// apply are treated as a JSON merge patch (RFC 7386): enough for objects whose lists are replaced whole, which is
// how the tests and `kubectl gadget deploy` use them.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: { [k: string]: Json } = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

interface JsonPatchOp { op: string; path: string; value?: Json; from?: string }

function pointer(path: string): string[] {
  if (path === '') return [];
  return path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 add/remove/replace/test/copy/move; throws with a message the server turns into 422. */
export function jsonPatch(doc: Json, ops: JsonPatchOp[]): Json {
  let root = structuredClone(doc);
  const parentOf = (path: string): [Json[] | { [k: string]: Json }, string] => {
    const parts = pointer(path);
    const last = parts.pop();
    if (last === undefined) throw new Error(`invalid path "${path}"`);
    let cur: Json = root;
    for (const p of parts) {
      if (cur === null || typeof cur !== 'object') throw new Error(`path "${path}" does not exist`);
      cur = Array.isArray(cur) ? cur[Number(p)]! : cur[p]!;
    }
    if (cur === null || typeof cur !== 'object') throw new Error(`path "${path}" does not exist`);
    return [cur, last];
  };
  const get = (path: string): Json => {
    let cur: Json = root;
    for (const p of pointer(path)) {
      if (cur === null || typeof cur !== 'object') throw new Error(`path "${path}" does not exist`);
      cur = (Array.isArray(cur) ? cur[Number(p)] : cur[p]) as Json;
      if (cur === undefined) throw new Error(`path "${path}" does not exist`);
    }
    return cur;
  };
  const add = (path: string, value: Json) => {
    if (path === '') { root = value; return; }
    const [parent, key] = parentOf(path);
    if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, value);
    else parent[key] = value;
  };
  const remove = (path: string) => {
    const [parent, key] = parentOf(path);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else {
      if (!(key in parent)) throw new Error(`path "${path}" does not exist`);
      delete parent[key];
    }
  };
  for (const op of ops) {
    switch (op.op) {
      case 'add': add(op.path, structuredClone(op.value ?? null)); break;
      case 'remove': remove(op.path); break;
      case 'replace': get(op.path); remove(op.path); add(op.path, structuredClone(op.value ?? null)); break;
      case 'test': if (JSON.stringify(get(op.path)) !== JSON.stringify(op.value)) throw new Error(`test failed at "${op.path}"`); break;
      case 'copy': add(op.path, structuredClone(get(op.from ?? ''))); break;
      case 'move': { const v = get(op.from ?? ''); remove(op.from ?? ''); add(op.path, v); break; }
      default: throw new Error(`unknown patch operation "${op.op}"`);
    }
  }
  return root;
}
