import type { Deployment, Instance } from './deployment.js';
import type { FaultKind, FaultRecord } from './history.js';
import type { Rng } from './rng.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every kind a campaign injects, each at least once. */
export const FAULT_KINDS: readonly FaultKind[] = [
  'rolling-restart',
  'sigkill',
  'sigstop',
  'amqp-close',
  'redis-restart',
  'redis-rollback',
  'redis-unreachable',
  'redis-latency',
  'pubsub-kill',
];

/**
 * The order of the faults: every kind once, shuffled by the seed, then more drawn at random until
 * the run's fault phase is full (about one fault per `spacingMs`).
 */
export function schedule(rng: Rng, faultPhaseMs: number, spacingMs: number): FaultKind[] {
  const kinds = rng.shuffle(FAULT_KINDS);
  const extra = Math.max(0, Math.floor(faultPhaseMs / spacingMs) - kinds.length);
  for (let i = 0; i < extra; i++) kinds.push(rng.pick(FAULT_KINDS));
  return kinds;
}

/** Injects faults into a deployment, keeping its number of instances, and records each. */
export class FaultInjector {
  readonly faults: FaultRecord[] = [];

  /** @param stateLost called before Redis loses or rolls back its state (the workload stops republishing older ids). */
  constructor(
    private readonly d: Deployment,
    private readonly rng: Rng,
    private readonly size: number,
    private readonly stateLost: () => void = () => undefined,
  ) {}

  async inject(kind: FaultKind): Promise<void> {
    const record: FaultRecord = { kind, at: Date.now() };
    this.faults.push(record);
    try {
      await this.run(kind, record);
    } catch (err) {
      record.detail = `${record.detail ?? ''} (failed: ${(err as Error).message})`.trim();
      throw err;
    } finally {
      record.until = Date.now();
    }
  }

  /** Ends every fault still in effect: stalled instances resumed, links restored, the instance count made good. */
  async heal(): Promise<void> {
    for (const instance of this.d.instances) {
      if (instance.running) instance.child.kill('SIGCONT');
      instance.link.restore();
      instance.link.setLatency(0);
    }
    for (const instance of this.d.instances.filter((i) => !i.running)) await this.d.retire(instance);
    while (this.d.running().length < this.size) await this.d.add();
  }

  private async run(kind: FaultKind, record: FaultRecord): Promise<void> {
    const { d, rng } = this;
    switch (kind) {
      case 'rolling-restart': {
        // A deploy: the new instance first, then SIGTERM to the one consuming (it drains and exits 0).
        const old = d.active() ?? rng.pick(d.running());
        const fresh = await d.add();
        record.target = old.name;
        record.detail = `${fresh.name} started, ${old.name} stopped`;
        old.child.kill('SIGTERM');
        const code = await old.exited(20_000);
        if (code !== 0) record.detail += `; exit code ${code}`;
        await d.retire(old);
        return;
      }
      case 'sigkill': {
        const victim = this.pickTarget(0.6);
        record.target = victim.name;
        victim.child.kill('SIGKILL');
        await victim.exited(10_000);
        await d.retire(victim);
        await sleep(rng.int(1_000, 4_000));
        record.detail = `replaced by ${(await d.add()).name}`;
        return;
      }
      case 'sigstop': {
        const victim = this.pickTarget(0.5);
        const ms = rng.int(1_000, 10_000);
        record.target = victim.name;
        record.detail = `${ms} ms`;
        victim.child.kill('SIGSTOP');
        await sleep(ms);
        victim.child.kill('SIGCONT');
        return;
      }
      case 'amqp-close': {
        const victim = this.pickTarget(0.8);
        record.target = victim.name;
        record.detail = `${await d.closeConsumeConnection(victim)} connection(s) closed`;
        return;
      }
      case 'redis-restart': {
        // Without persistence: everything Redis held is gone.
        this.stateLost();
        await d.redis.kill();
        d.redis.forgetSnapshot();
        await sleep(rng.int(200, 2_000));
        await d.redis.restart();
        return;
      }
      case 'redis-rollback': {
        // A snapshot now, a few seconds of writes, then Redis comes back from the snapshot.
        this.stateLost();
        await d.redisCommand('SAVE');
        const ms = rng.int(2_000, 6_000);
        record.detail = `back to a snapshot ${ms} ms old`;
        await sleep(ms);
        await d.redis.kill();
        await d.redis.restart();
        return;
      }
      case 'redis-unreachable': {
        const all = rng.chance(0.3);
        const victims = all ? d.running() : [rng.pick(d.running())];
        const ms = rng.int(1_000, 6_000);
        record.target = all ? 'all' : victims[0]!.name;
        record.detail = `${ms} ms`;
        for (const v of victims) v.link.cut();
        await sleep(ms);
        for (const v of victims) v.link.restore();
        return;
      }
      case 'redis-latency': {
        const all = rng.chance(0.5);
        const victims = all ? d.running() : [rng.pick(d.running())];
        const latency = rng.int(20, 150);
        const ms = rng.int(3_000, 10_000);
        record.target = all ? 'all' : victims[0]!.name;
        record.detail = `${latency} ms for ${ms} ms`;
        for (const v of victims) v.link.setLatency(latency);
        await sleep(ms);
        for (const v of victims) v.link.setLatency(0);
        return;
      }
      case 'pubsub-kill': {
        record.detail = `${String(await d.redisCommand('CLIENT', 'KILL', 'TYPE', 'pubsub'))} connection(s) killed`;
        return;
      }
    }
  }

  /** The consuming instance with probability `p`, otherwise any running one. */
  private pickTarget(p: number): Instance {
    const active = this.d.active();
    return active && this.rng.chance(p) ? active : this.rng.pick(this.d.running());
  }
}
