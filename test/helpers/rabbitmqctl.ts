import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** True when `rabbitmqctl` can talk to the local broker (root on this project's machines). */
export async function rabbitmqctlAvailable(): Promise<boolean> {
  try {
    await run('rabbitmqctl', ['-q', 'status'], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Closes, from the broker's side, only the connections whose name starts with `namePrefix`: never
 * anyone else's (the broker is shared by every test file running at the same time).
 */
export async function closeConnectionsNamed(namePrefix: string, reason = 'closed by a fault test'): Promise<number> {
  // Plain output: one `<pid>\t<client properties>` line per connection (JSON output mangles the pid).
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { timeout: 30_000 });
  const pids = stdout
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${namePrefix}`))
    .map((line) => line.split('\t')[0]!);
  for (const pid of pids) await run('rabbitmqctl', ['-q', 'close_connection', pid, reason], { timeout: 30_000 });
  return pids.length;
}
