// A real Prometheus (Debian's 2.42) for tests: own config and data dir under a temp dir, listening on a free
// loopback port, scraping the given targets every second; stopped by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface PromSample { metric: Record<string, string>; value: [number, string] }

export class Prometheus {
  private child?: ChildProcess;
  private log = '';
  readonly dir: string;
  port = 0;

  constructor(private readonly targets: string[], private readonly scrapeInterval = '1s') {
    this.dir = mkdtempSync(join(tmpdir(), 'ig-export-prom-'));
  }

  get url(): string { return `http://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    this.port = await freePort();
    const cfg = join(this.dir, 'prometheus.yml');
    writeFileSync(cfg, `global: {scrape_interval: ${this.scrapeInterval}, evaluation_interval: ${this.scrapeInterval}}\n` +
      `scrape_configs: [{job_name: ig, static_configs: [{targets: [${this.targets.map((t) => `'${t}'`).join(', ')}]}]}]\n`);
    this.child = spawn('prometheus', [`--config.file=${cfg}`, `--storage.tsdb.path=${join(this.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${this.port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.log = (this.log + d).slice(-4000); });
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`prometheus exited: ${this.log}`);
      try { if ((await fetch(`${this.url}/-/ready`)).ok) return; } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`prometheus not ready: ${this.log}`);
  }

  async query(promql: string): Promise<PromSample[]> {
    const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = await r.json() as { status: string; data?: { result: PromSample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
    return body.data!.result;
  }

  /** Poll a query until `ok` accepts its result (the first scrape comes ~5 s after start). */
  async waitFor(promql: string, ok: (r: PromSample[]) => boolean, timeoutMs = 30000, poke?: () => void): Promise<PromSample[]> {
    const deadline = Date.now() + timeoutMs;
    let last: PromSample[] = [];
    while (Date.now() < deadline) {
      poke?.();
      last = await this.query(promql);
      if (ok(last)) return last;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`PromQL ${promql}: no acceptable result in ${timeoutMs} ms; last: ${JSON.stringify(last).slice(0, 500)}; targets: ${await this.targetsText()}`);
  }

  async targetsText(): Promise<string> {
    try { return JSON.stringify((await (await fetch(`${this.url}/api/v1/targets`)).json() as { data: unknown }).data).slice(0, 600); } catch (e) { return String(e); }
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
