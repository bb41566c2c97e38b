#!/usr/bin/env python3
"""Cross-check gadgets/<name>/gadget.yaml against the compiled object's BTF.

Every field of every data source (tracer struct, map-iterator key and value,
snapshot struct; nested members included, `__` members skipped) must have a
description, and params.ebpf must list exactly the GADGET_PARAM variables.

Usage: OBJDIR=<dir with <name>.o> check_yaml.py <name>...
"""
import json, os, subprocess, sys, yaml

GADGETS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def btf(obj):
    out = subprocess.run(['bpftool', '-j', 'btf', 'dump', 'file', obj], capture_output=True, text=True, check=True).stdout
    types = json.loads(out)['types']
    return {t['id']: t for t in types}

def resolve(T, tid):
    t = T[tid]
    while t['kind'] in ('TYPEDEF', 'CONST', 'VOLATILE', 'TYPE_TAG'):
        t = T[t['type_id']]
    return t

def paths(T, tid, prefix=''):
    t = resolve(T, tid)
    out = []
    if t['kind'] not in ('STRUCT', 'UNION'):
        return out
    for m in t['members']:
        n = m['name']
        if not n or n.startswith('__'):
            continue
        p = prefix + n
        mt = resolve(T, m['type_id'])
        out.append(p)
        if mt['kind'] in ('STRUCT', 'UNION'):
            # l3/l4 endpoints and ip unions: subfields
            out += paths(T, m['type_id'], p + '.')
    return out

def find_struct(T, name):
    for t in T.values():
        if t['kind'] == 'STRUCT' and t['name'] == name:
            return t['id']
    raise KeyError(name)

def map_kv(T, mapname):
    # find VAR mapname -> its struct type, members key/value are pointers
    for t in T.values():
        if t['kind'] == 'VAR' and t['name'] == mapname:
            st = resolve(T, t['type_id'])
            kv = {}
            for m in st['members']:
                if m['name'] in ('key', 'value'):
                    p = T[m['type_id']]  # PTR
                    kv[m['name']] = p['type_id']
            return kv
    raise KeyError(mapname)

def check(name):
    obj = os.environ.get('OBJDIR', '/tmp/igtest') + f'/{name}.o'
    T = btf(obj)
    y = yaml.safe_load(open(os.path.join(GADGETS, name, 'gadget.yaml')))
    ok = True
    ds_fields = {}
    params = []
    for t in T.values():
        if t['kind'] != 'VAR':
            continue
        n = t['name']
        if n.startswith('gadget_tracer_'):
            ds, m, s = n[len('gadget_tracer_'):].split('___')
            ds_fields[ds] = paths(T, find_struct(T, s))
        elif n.startswith('gadget_mapiter_'):
            ds, m = n[len('gadget_mapiter_'):].split('___')
            kv = map_kv(T, m)
            f = []
            for k in ('key', 'value'):
                f += paths(T, kv[k])
                if resolve(T, kv[k])['kind'] not in ('STRUCT', 'UNION'):
                    f.append('<' + k + '>')
            ds_fields[ds] = f
        elif n.startswith('unusedevent_'):
            ds, s = n[len('unusedevent_'):].split('___')
            ds_fields[ds] = paths(T, find_struct(T, s))
        elif n.startswith('gadget_param_'):
            params.append(n[len('gadget_param_'):])
    yds = y.get('datasources', {})
    for ds, fields in ds_fields.items():
        if ds not in yds:
            print(f'{name}: datasource {ds} missing in yaml'); ok = False; continue
        yf = yds[ds].get('fields', {})
        for f in fields:
            if f not in yf:
                print(f'{name}: {ds}.{f} not described'); ok = False
            elif not yf[f].get('annotations', {}).get('description'):
                print(f'{name}: {ds}.{f} has no description'); ok = False
        for f, v in yf.items():
            if not v.get('annotations', {}).get('description'):
                print(f'{name}: yaml field {f} without description'); ok = False
    for ds in yds:
        if ds not in ds_fields:
            print(f'{name}: yaml datasource {ds} not in object'); ok = False
    yp = (y.get('params') or {}).get('ebpf') or {}
    for p in params:
        if p not in yp:
            print(f'{name}: param {p} not in yaml'); ok = False
    for p in yp:
        if p not in params:
            print(f'{name}: yaml param {p} not a GADGET_PARAM'); ok = False
    print(f'{name}: {"OK" if ok else "PROBLEMS"} (ds: {", ".join(f"{d}[{len(f)} fields]" for d, f in ds_fields.items())}; params: {len(params)})')
    return ok

if __name__ == '__main__':
    allok = True
    for n in sys.argv[1:]:
        allok &= check(n)
    sys.exit(0 if allok else 1)
