// Headless gadget instances: created detached, running with no client, persisted in the store and resumed when
// the daemon starts again. Clients attach to an instance's run and detach without stopping it.
import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { GadgetRun, type RunOptions } from './gadget-run.js';
import { InstanceStore } from './instance-store.js';
import { ServiceError } from './errors.js';
import { InstanceStatus, type ApiCreateInstanceRequest, type ApiGadgetInstance } from './proto.js';
import { isValidInstanceId, isValidInstanceName, DEFAULT_EVENT_BUFFER_LENGTH } from './consts.js';
import type { Logger } from '../gadget/logger.js';
import type { ClientStream } from './client-stream.js';

interface Instance {
  spec: ApiGadgetInstance;
  /** Events kept for clients that attach later (CreateGadgetInstanceRequest.eventBufferLength; 0: the daemon's). */
  eventBufferLength: number;
  run?: GadgetRun;
  done?: Promise<void>;
  state: { status: number; message: string };
}

export function timeoutMsOf(ns: string | number | undefined): number {
  if (ns === undefined || ns === '' || ns === 0 || ns === '0') return 0;
  const v = BigInt(ns);
  return v <= 0n ? 0 : Number(v / 1000000n);
}

export class InstanceManager {
  private readonly instances = new Map<string, Instance>();
  /** Create requests are serialised: the name and id checks and the start must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly store: InstanceStore, private readonly runOpts: RunOptions, private readonly log: Logger, private readonly defaultEventBufferLength = DEFAULT_EVENT_BUFFER_LENGTH) {}

  /** Start every stored instance (after a restart). Failures become the instance's error state. */
  async resume(): Promise<void> {
    this.store.init();
    for (const req of this.store.loadAll((m) => this.log.warn(m))) {
      const spec = req.gadgetInstance!;
      const inst: Instance = { spec, eventBufferLength: req.eventBufferLength ?? 0, state: { status: InstanceStatus.Invalid, message: '' } };
      this.instances.set(spec.id, inst);
      try {
        await this.start(inst);
        this.log.info(`resumed gadget instance ${spec.id} (${spec.name || spec.gadgetConfig?.imageName})`);
      } catch (e) {
        inst.state = { status: InstanceStatus.Error, message: (e as Error).message.split('\n')[0]! };
        this.log.warn(`gadget instance ${spec.id}: ${inst.state.message}`);
      }
    }
  }

  create(req: ApiCreateInstanceRequest): Promise<ApiGadgetInstance> {
    const p = this.queue.then(() => this.createNow(req));
    // The caller gets this creation's error; the queue only orders creations and goes on after a failed one.
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async createNow(req: ApiCreateInstanceRequest): Promise<ApiGadgetInstance> {
    const given = req.gadgetInstance;
    if (!given?.gadgetConfig?.imageName) throw new ServiceError(status.INVALID_ARGUMENT, 'a gadget instance needs gadgetConfig.imageName');
    const id = given.id || randomBytes(16).toString('hex');
    if (!isValidInstanceId(id)) throw new ServiceError(status.INVALID_ARGUMENT, `invalid instance id "${id}": 32 lower-case hex characters expected`);
    if (given.name && !isValidInstanceName(given.name)) throw new ServiceError(status.INVALID_ARGUMENT, `invalid instance name "${given.name}": 1-32 characters of a-z, 0-9, - and _`);
    for (const t of given.tags ?? []) if (t.includes(',')) throw new ServiceError(status.INVALID_ARGUMENT, `invalid tag "${t}": no commas`);
    if (this.instances.has(id)) throw new ServiceError(status.ALREADY_EXISTS, `gadget instance with id "${id}" already exists`);
    if (given.name && [...this.instances.values()].some((i) => i.spec.name === given.name)) {
      throw new ServiceError(status.ALREADY_EXISTS, `gadget instance with name "${given.name}" already exists`);
    }
    const spec: ApiGadgetInstance = {
      id, name: given.name ?? '', tags: given.tags ?? [], nodes: given.nodes ?? [],
      timeCreated: String(Math.floor(Date.now() / 1000)), gadgetConfig: { ...given.gadgetConfig, paramValues: { ...given.gadgetConfig.paramValues } },
    };
    const ebl = req.eventBufferLength ?? 0;
    if (!Number.isInteger(ebl) || ebl < 0) throw new ServiceError(status.INVALID_ARGUMENT, `invalid eventBufferLength ${ebl}: expected 0 (the daemon's setting) or a positive number of events`);
    const inst: Instance = { spec, eventBufferLength: ebl, state: { status: InstanceStatus.Invalid, message: '' } };
    // Prepare before storing: an unknown image or a bad param is the caller's error, not a stored broken instance.
    await this.start(inst);
    this.instances.set(id, inst);
    try {
      this.store.save({ gadgetInstance: spec, eventBufferLength: req.eventBufferLength ?? 0 });
    } catch (e) {
      this.instances.delete(id);
      inst.run?.stop('could not be stored');
      throw new ServiceError(status.INTERNAL, `storing gadget instance ${id}: ${(e as Error).message}`);
    }
    return this.withState(inst);
  }

  private async start(inst: Instance): Promise<void> {
    const cfg = inst.spec.gadgetConfig!;
    const run = await GadgetRun.prepare(cfg.imageName, cfg.paramValues ?? {}, { ...this.runOpts, logLevel: cfg.logLevel || undefined });
    run.bufferEvents(inst.eventBufferLength > 0 ? inst.eventBufferLength : this.defaultEventBufferLength);
    inst.run = run;
    run.ctx.instance = { id: inst.spec.id, name: inst.spec.name };
    inst.state = { status: InstanceStatus.Running, message: '' };
    inst.done = run.run(timeoutMsOf(cfg.timeout)).then(
      () => { if (inst.state.status === InstanceStatus.Running) inst.state = { status: InstanceStatus.Error, message: 'gadget finished' }; },
      (e: Error) => {
        inst.state = { status: InstanceStatus.Error, message: e.message.split('\n')[0]! };
        this.log.warn(`gadget instance ${inst.spec.id}: ${inst.state.message}`);
      },
    ).finally(() => { for (const c of run.clients) c.close(); });
  }

  private withState(inst: Instance): ApiGadgetInstance {
    return { ...inst.spec, state: { ...inst.state } };
  }

  list(): ApiGadgetInstance[] {
    return [...this.instances.values()].map((i) => this.withState(i));
  }

  get(id: string): ApiGadgetInstance {
    const inst = this.instances.get(id);
    if (!inst) throw new ServiceError(status.NOT_FOUND, `gadget instance "${id}" not found`);
    return this.withState(inst);
  }

  /** The run of an instance, for GetGadgetInfo and attach. */
  runOf(id: string): GadgetRun {
    const inst = this.instances.get(id);
    if (!inst) throw new ServiceError(status.NOT_FOUND, `gadget instance "${id}" not found`);
    if (!inst.run || inst.state.status !== InstanceStatus.Running) throw new ServiceError(status.FAILED_PRECONDITION, `gadget instance "${id}" is not running${inst.state.message ? `: ${inst.state.message}` : ''}`);
    return inst.run;
  }

  attach(id: string, c: ClientStream): GadgetRun {
    const run = this.runOf(id);
    run.attach(c);
    return run;
  }

  /** Stop the instance, wait until its kernel objects are released, forget it. */
  async remove(id: string): Promise<void> {
    const inst = this.instances.get(id);
    if (!inst) throw new ServiceError(status.NOT_FOUND, `gadget instance "${id}" not found`);
    this.instances.delete(id);
    inst.run?.stop('removed');
    await inst.done;
    this.store.remove(id);
  }

  /** Daemon shutdown: stop every run, keep the files (they resume on the next start). */
  async stopAll(): Promise<void> {
    for (const i of this.instances.values()) i.run?.stop('daemon stopping');
    await Promise.all([...this.instances.values()].map((i) => i.done));
  }
}
