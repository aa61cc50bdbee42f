import WebSocket from 'ws';

/** What a process holds after two forced full collections: its V8 heap in use, and memory outside it (Buffers). */
export interface AfterGc {
  heapUsed: number;
  external: number;
}

/**
 * Forces two full garbage collections in a Node process started with `--inspect` (its inspector's
 * `ws://` URL, printed on stderr as "Debugger listening on …") and reads its memory afterwards, so
 * that memory is compared after a collection, not in the middle of one. Undefined when it does not answer.
 */
export async function memoryAfterGc(inspectorUrl: string | undefined): Promise<AfterGc | undefined> {
  if (!inspectorUrl) return undefined;
  const ws = new WebSocket(inspectorUrl);
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    let id = 0;
    const call = (method: string, params: object = {}) =>
      new Promise<unknown>((resolve, reject) => {
        const mine = ++id;
        const timer = setTimeout(() => reject(new Error(`${method} timed out`)), 10_000);
        ws.on('message', (data: Buffer) => {
          const reply = JSON.parse(data.toString()) as { id?: number; result?: unknown };
          if (reply.id !== mine) return;
          clearTimeout(timer);
          resolve(reply.result);
        });
        ws.send(JSON.stringify({ id: mine, method, params }));
      });
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const expression = 'JSON.stringify((({ heapUsed, external }) => ({ heapUsed, external }))(process.memoryUsage()))';
    const result = (await call('Runtime.evaluate', { expression, returnByValue: true })) as { result?: { value?: string } };
    return result.result?.value ? (JSON.parse(result.result.value) as AfterGc) : undefined;
  } catch {
    return undefined;
  } finally {
    ws.terminate();
  }
}

/** The inspector URL in a line of a child's stderr, if it is the line that announces it. */
export const inspectorUrlIn = (line: string) => /^Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1];
