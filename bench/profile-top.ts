import { readFileSync } from 'node:fs';

/**
 * `node dist/bench/profile-top.js <file.cpuprofile|file.heapprofile> [n] [--inclusive]`: the functions
 * with the most self time (CPU profile) or self allocation (heap profile), in percent of the whole,
 * and with `--inclusive` the time under each function as well.
 */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface CpuNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

const [file, count = '30'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const inclusive = process.argv.includes('--inclusive');
if (!file) throw new Error('usage: profile-top <profile> [n] [--inclusive]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes?: CpuNode[]; samples?: number[]; timeDeltas?: number[]; head?: HeapNode };
const name = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
const self = new Map<string, number>();
const under = new Map<string, number>();
let total = 0;

if (profile.head) {
  const walk = (node: HeapNode) => {
    self.set(name(node.callFrame), (self.get(name(node.callFrame)) ?? 0) + node.selfSize);
    total += node.selfSize;
    node.children.forEach(walk);
  };
  walk(profile.head);
} else {
  const nodes = new Map((profile.nodes ?? []).map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of nodes.values()) for (const child of n.children ?? []) parent.set(child, n.id);
  (profile.samples ?? []).forEach((id, i) => {
    const dt = profile.timeDeltas?.[i] ?? 0;
    total += dt;
    const leaf = nodes.get(id);
    if (leaf) self.set(name(leaf.callFrame), (self.get(name(leaf.callFrame)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = name(nodes.get(at)!.callFrame);
      if (!seen.has(key)) under.set(key, (under.get(key) ?? 0) + dt);
      seen.add(key);
    }
  });
}

const show = (title: string, values: Map<string, number>) => {
  process.stdout.write(`${title}\n`);
  for (const [key, value] of [...values].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
    process.stdout.write(`${((100 * value) / total).toFixed(1).padStart(5)} %  ${key}\n`);
  }
};
const unit = profile.head ? `${(total / 1e6).toFixed(1)} MB allocated` : `${(total / 1000).toFixed(0)} ms sampled`;
show(`self (${unit})`, self);
if (inclusive && !profile.head) show('inclusive', under);
