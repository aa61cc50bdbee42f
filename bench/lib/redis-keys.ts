import { createClient } from 'redis';

/** A glob pattern matching exactly the keys that start with `prefix` (its own `*?[]\` escaped). */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
}

/**
 * The Redis keys of this run: a system that makes Redis keys (bridge-redis, under `<its queue>:`)
 * registers its prefix before it starts; the keys are deleted with SCAN MATCH `<prefix>*` + DEL when the
 * system closes and again at the run's clean-up (Ctrl-C, the watchdog). Redis is shared, so nothing
 * outside these prefixes is touched. Connects only when there is something to delete.
 */
export class BenchRedis {
  private readonly pending = new Set<string>();
  private closing = false;
  /** Every prefix registered, with the keys deleted under it, for the report (and a clean-up check). */
  readonly history: Array<{ prefix: string; deleted: number }> = [];

  constructor(readonly url: string) {}

  /** Registers a prefix whose keys the run deletes; refused once clean-up began (they would be left). */
  register(prefix: string): void {
    if (this.closing) throw new Error('the run is stopping');
    if (!this.history.some((h) => h.prefix === prefix)) this.history.push({ prefix, deleted: 0 });
    this.pending.add(prefix);
  }

  /** Deletes every key under `prefix` (after the process that wrote them stopped); returns how many. */
  async deleteKeys(prefix: string): Promise<number> {
    const client = createClient({ url: this.url, name: 'bench-runner-cleanup' });
    client.on('error', () => undefined);
    await client.connect();
    let deleted = 0;
    try {
      let cursor = 0;
      do {
        const reply = await client.scan(cursor, { MATCH: prefixPattern(prefix), COUNT: 1000 });
        cursor = reply.cursor;
        if (reply.keys.length > 0) deleted += await client.del(reply.keys);
      } while (cursor !== 0);
    } finally {
      await client.quit().catch(() => client.disconnect().catch(() => undefined));
    }
    this.pending.delete(prefix);
    const entry = this.history.find((h) => h.prefix === prefix);
    if (entry) entry.deleted += deleted;
    return deleted;
  }

  /** Deletes the keys under every prefix not yet cleaned, ignoring an unreachable Redis; registers no more. */
  async deleteRegistered(): Promise<void> {
    this.closing = true;
    for (const prefix of [...this.pending]) await this.deleteKeys(prefix).catch(() => undefined);
  }
}
