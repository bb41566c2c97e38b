// `ig image …`: build, list, inspect, tag, remove, export, import, pull, push, sign, verify.

import { Command, Option } from 'commander';
import { stringify as toYaml, parse as parseYaml } from 'yaml';
import {
  buildImage, cliAction, exportImages, importImages, inspectImage, listImages, pullImage, pushImage, removeImage,
  signImage, tagImage, verifyImage, OciError,
} from '../oci/index.js';
import { objectDataSources, loadBtf } from '../oci/build-metadata.js';
import { MAX_METADATA_BYTES } from '../oci/limits.js';

/** Store path for CLI commands: --store, then $IG_OCI_STORE, else the default. */
function storeOpt(o: { store?: string }): string | undefined {
  return o.store || process.env.IG_OCI_STORE || undefined;
}

export function parseBool(name: string): (v: string | boolean | undefined) => boolean {
  return (v) => {
    if (v === undefined || v === true) return true;
    if (v === false) return false;
    const s = String(v).toLowerCase();
    if (['true', '1', 't', 'yes'].includes(s)) return true;
    if (['false', '0', 'f', 'no'].includes(s)) return false;
    throw new OciError(`invalid value "${v}" for --${name}: use true or false`);
  };
}

function collectList(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), ...v.split(',').map((s) => s.trim()).filter(Boolean)];
}

/**
 * Progress for pull/push/build: on a terminal one status line is rewritten in place; when piped every step is
 * its own line. Either way it goes to stderr, so stdout stays machine-readable.
 */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): { line: (l: string) => void; done: () => void } {
  const tty = !!stream.isTTY;
  let dirty = false;
  return {
    line(l: string) {
      if (tty) {
        const cols = stream.columns || 100;
        stream.write(`\r\x1b[2K${l.length > cols - 1 ? l.slice(0, cols - 2) + '…' : l}`);
        dirty = true;
      } else {
        stream.write(`${l}\n`);
      }
    },
    done() {
      if (tty && dirty) stream.write('\r\x1b[2K');
      dirty = false;
    },
  };
}

function ago(created: string, now = Date.now()): string {
  const t = Date.parse(created);
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  const plural = (n: number, u: string) => `${n} ${u}${n === 1 ? '' : 's'} ago`;
  if (s < 60) return s <= 1 ? 'About a second ago' : plural(s, 'second');
  const m = Math.floor(s / 60);
  if (m < 60) return m === 1 ? 'About a minute ago' : plural(m, 'minute');
  const h = Math.floor(m / 60);
  if (h < 48) return h === 1 ? 'About an hour ago' : plural(h, 'hour');
  const d = Math.floor(h / 24);
  if (d < 14) return plural(d, 'day');
  if (d < 60) return plural(Math.floor(d / 7), 'week');
  if (d < 730) return plural(Math.floor(d / 30), 'month');
  return plural(Math.floor(d / 365), 'year');
}

export function formatColumns(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(headers), ...rows.map(fmt)].join('\n') + '\n';
}

function output(mode: string, value: unknown): string {
  switch (mode) {
    case 'json':
      return JSON.stringify(value) + '\n';
    case 'jsonpretty':
      return JSON.stringify(value, null, 2) + '\n';
    case 'yaml':
      return toYaml(value);
    default:
      throw new OciError(`invalid output mode "${mode}"`);
  }
}

function remoteOpts(o: { authfile?: string; insecureRegistries?: string[]; certDir?: string }) {
  return { authFile: o.authfile, insecureRegistries: o.insecureRegistries, certDir: o.certDir };
}

function addRemoteFlags(c: Command): Command {
  return c
    .option('--authfile <file>', 'path of the registry credentials file (default /var/lib/ig/config.json for root, falls back to ~/.docker/config.json; env REGISTRY_AUTH_FILE)')
    .option('--insecure-registries <list>', 'registries (host[:port]) reached over plain HTTP without credentials; comma-separated, repeatable', collectList)
    .option('--cert-dir <dir>', 'directory with the registry CA certificate(s) (*.crt); /etc/containers/certs.d/<host>/ is also searched');
}

function storeFlag(c: Command): Command {
  return c.addOption(new Option('--store <dir>', 'local image store (default /var/lib/ig/oci-store for root, ~/.ig/oci-store otherwise; env IG_OCI_STORE)'));
}

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('Manage gadget images');

  storeFlag(
    image
      .command('build')
      .description('Build a gadget image from a directory (program.bpf.c, gadget.yaml, build.yaml)')
      .argument('[path]', 'gadget directory', '.')
      .option('-t, --tag <name>', 'name and tag of the image (name:tag)')
      .option('-f, --file <file>', 'build file (default build.yaml inside PATH)')
      .option('-o, --output <dir>', 'keep the compiled objects in this directory')
      .option('-l, --local', 'build with the local toolchain (always the case here)')
      .option('--update-metadata', 'create or refresh gadget.yaml from the eBPF object', false)
      .addOption(new Option('--validate-metadata [bool]', 'check gadget.yaml against the eBPF object').default(true).argParser(parseBool('validate-metadata')))
      .option('--no-validate-metadata', 'skip the metadata validation')
      .option('-I, --include <dir>', 'extra include directory for the eBPF compiler; repeatable', (v: string, p: string[] = []) => [...p, v])
      .option('--builder-image <image>', 'not supported: ig always builds with the local toolchain')
      .option('--btfgen', 'not supported yet')
      .option('--btfhub-archive <dir>', 'not supported yet'),
  ).action(
    cliAction(async (dir: string, o: Record<string, unknown>) => {
      if (o.builderImage) throw new OciError('--builder-image is not supported: ig builds with the local clang (like --local)');
      if (o.btfgen || o.btfhubArchive) throw new OciError('--btfgen is not supported yet');
      const p = progressPrinter();
      try {
        const r = await buildImage(dir, {
          tag: o.tag as string | undefined,
          file: o.file as string | undefined,
          output: o.output as string | undefined,
          updateMetadata: !!o.updateMetadata,
          validateMetadata: o.validateMetadata !== false,
          includeDirs: o.include as string[] | undefined,
          store: storeOpt(o),
          progress: p.line,
          warn: (l) => process.stderr.write(`WARN: ${l}\n`),
        });
        p.done();
        process.stdout.write(`Successfully built ${r.reference}@${r.digest}\n`);
      } finally {
        p.done();
      }
    }),
  );

  storeFlag(
    image
      .command('list')
      .alias('ls')
      .description('List gadget images in the local store')
      .option('--no-trunc', 'do not truncate digests')
      .addOption(new Option('-o, --output <mode>', 'output mode').choices(['columns', 'json', 'jsonpretty']).default('columns')),
  ).action(
    cliAction(async (o: { trunc: boolean; output: string; store?: string }) => {
      const list = await listImages({ store: storeOpt(o) });
      if (o.output === 'columns') {
        const rows = list.map((i) => [i.repository, i.tag, o.trunc ? i.digest.slice(7, 19) : i.digest, ago(i.created)]);
        process.stdout.write(formatColumns(['REPOSITORY', 'TAG', 'DIGEST', 'CREATED'], rows));
      } else {
        const items = list.map((i) => ({ repository: i.repository, tag: i.tag, digest: i.digest, created: i.created }));
        process.stdout.write(output(o.output, items));
      }
    }),
  );

  storeFlag(
    image
      .command('inspect')
      .description('Show details of a gadget image')
      .argument('<image>')
      .addOption(new Option('-o, --output <mode>', 'output mode').choices(['json', 'jsonpretty', 'yaml']).default('jsonpretty'))
      .option('--show-datasources', 'also list the data sources and fields the eBPF program provides')
      .option('--extra-info <key>', 'print only this part of the result (e.g. annotations, metadata, manifests)'),
  ).action(
    cliAction(async (ref: string, o: { output: string; showDatasources?: boolean; extraInfo?: string; store?: string }) => {
      const r = await inspectImage(ref, { store: storeOpt(o) });
      const { metadataRaw, ebpf, ...rest } = r;
      const result: Record<string, unknown> = { ...rest };
      if (metadataRaw && metadataRaw.length > MAX_METADATA_BYTES) {
        result.metadata = `(gadget.yaml is ${metadataRaw.length} bytes, more than the 1 MiB limit: not shown)`;
      } else if (metadataRaw) {
        try {
          // uniqueKeys off: the library's duplicate check is quadratic; inspect shows what is there
          result.metadata = parseYaml(metadataRaw.toString('utf8'), { uniqueKeys: false });
        } catch {
          result.metadata = metadataRaw.toString('utf8'); // not YAML: show the text as is
        }
      }
      if (o.showDatasources) {
        if (!ebpf) throw new OciError(`image "${ref}" has no eBPF program for this architecture`);
        const btf = await loadBtf(ebpf);
        result.datasources = objectDataSources(btf).map((d) => ({
          name: d.name,
          type: d.kind,
          fields: d.fields.map((f) => ({ name: f.fullName, offset: f.offset, size: f.size, tags: f.tags })),
        }));
      }
      if (o.extraInfo) {
        if (!(o.extraInfo in result)) throw new OciError(`unknown --extra-info key "${o.extraInfo}" (have: ${Object.keys(result).join(', ')})`);
        process.stdout.write(output(o.output, result[o.extraInfo]));
        return;
      }
      process.stdout.write(output(o.output, result));
    }),
  );

  storeFlag(image.command('tag').description('Give an image another name').argument('<src>').argument('<dst>')).action(
    cliAction(async (src: string, dst: string, o: { store?: string }) => {
      const r = await tagImage(src, dst, { store: storeOpt(o) });
      process.stdout.write(`Successfully tagged with ${r.reference}@${r.digest}\n`);
    }),
  );

  storeFlag(image.command('remove').alias('rm').description('Remove an image (or just this tag) from the local store').argument('<image>')).action(
    cliAction(async (ref: string, o: { store?: string }) => {
      const r = await removeImage(ref, { store: storeOpt(o) });
      process.stdout.write(r.deleted ? `Successfully removed ${r.reference}@${r.digest}\n` : `Successfully untagged ${r.reference}\n`);
    }),
  );

  storeFlag(
    image
      .command('export')
      .description('Export images to a tarball (OCI layout)')
      .argument('<args...>', 'SRC_IMAGE... DST_FILE'),
  ).action(
    cliAction(async (args: string[], o: { store?: string }) => {
      if (args.length < 2) throw new OciError('usage: ig image export SRC_IMAGE... DST_FILE');
      const file = args[args.length - 1];
      const r = await exportImages(args.slice(0, -1), file, { store: storeOpt(o) });
      process.stdout.write(`Successfully exported images to ${r.file}\n`);
    }),
  );

  storeFlag(
    image
      .command('import')
      .description('Import images from a tarball (OCI layout)')
      .argument('<file>')
      .addOption(new Option('-o, --output <mode>', 'output mode').choices(['json', 'jsonpretty'])),
  ).action(
    cliAction(async (file: string, o: { output?: string; store?: string }) => {
      const refs = await importImages(file, { store: storeOpt(o) });
      if (o.output) process.stdout.write(output(o.output, refs));
      else process.stdout.write(`Successfully imported images:\n${refs.map((r) => `  ${r}\n`).join('')}`);
    }),
  );

  storeFlag(addRemoteFlags(image.command('pull').description('Pull an image from a registry').argument('<image>'))).action(
    cliAction(async (ref: string, o: { authfile?: string; insecureRegistries?: string[]; certDir?: string; store?: string }) => {
      const p = progressPrinter();
      try {
        const r = await pullImage(ref, { ...remoteOpts(o), store: storeOpt(o), progress: p.line });
        p.done();
        process.stdout.write(`Successfully pulled ${r.reference}@${r.digest}\n`);
      } finally {
        p.done();
      }
    }),
  );

  storeFlag(addRemoteFlags(image.command('push').description('Push an image to a registry').argument('<image>'))).action(
    cliAction(async (ref: string, o: { authfile?: string; insecureRegistries?: string[]; certDir?: string; store?: string }) => {
      const p = progressPrinter();
      try {
        const r = await pushImage(ref, { ...remoteOpts(o), store: storeOpt(o), progress: p.line });
        p.done();
        process.stdout.write(`Successfully pushed ${r.reference}@${r.digest}\n`);
      } finally {
        p.done();
      }
    }),
  );

  storeFlag(
    image
      .command('sign')
      .description('Sign an image in the local store (cosign-compatible signature, pushed along with the image)')
      .argument('<image>')
      .requiredOption('--key <file>', 'PEM private key (ECDSA P-256 recommended)')
      .option('--key-password <password>', 'passphrase of an encrypted key (default $COSIGN_PASSWORD)'),
  ).action(
    cliAction(async (ref: string, o: { key: string; keyPassword?: string; store?: string }) => {
      const r = await signImage(ref, o.key, { store: storeOpt(o), passphrase: o.keyPassword ?? process.env.COSIGN_PASSWORD });
      process.stdout.write(`Successfully signed ${r.reference}@${r.digest} (${r.signatureTag})\n`);
    }),
  );

  storeFlag(
    addRemoteFlags(
      image
        .command('verify')
        .description("Verify an image's signature against public keys")
        .argument('<image>')
        .option('--public-keys <keys>', 'PEM public key files (or PEM text); comma-separated, repeatable (default: the Inspektor Gadget project key)', collectList),
    ),
  ).action(
    cliAction(async (ref: string, o: { publicKeys?: string[]; authfile?: string; insecureRegistries?: string[]; certDir?: string; store?: string }) => {
      const r = await verifyImage(ref, { ...remoteOpts(o), store: storeOpt(o), publicKeys: o.publicKeys });
      process.stdout.write(`Verified OK: ${r.reference}@${r.digest}\n`);
    }),
  );
}
