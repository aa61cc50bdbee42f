import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES, loadConfig } from '../../src/config.js';
import { Metrics } from '../../src/metrics.js';

const PAGES = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (path: string) => readFileSync(path, 'utf8');

/** The cells of every Markdown table row in a page (header rows included, separator rows left out). */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---'))
    .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| ?| ?\|$/g, '').trim()));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchorsOf(markdown: string): Set<string> {
  const outsideCode = markdown.replace(/```[\s\S]*?```/g, '');
  return new Set([...outsideCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
}

describe('the docs, against the code', () => {
  it('configuration.md has one row for each variable the config schema reads, with its default', () => {
    const rows = tableRows(read('docs/configuration.md')).filter((cells) => cells[0]?.startsWith('`'));
    const documented = new Map<string, string>();
    for (const [names, defaults] of rows) {
      const variables = names!.split(' / ').map((n) => n.replaceAll('`', ''));
      const values = defaults!.split(' / ');
      variables.forEach((name, i) => documented.set(name, values.length === variables.length ? values[i]! : defaults!));
    }
    const variables = [...documented.keys()].filter((name) => /^[A-Z_]+$/.test(name));
    expect(new Set(variables)).toEqual(new Set(ENV_VARIABLES));

    const defaults = loadConfig({}) as unknown as Record<string, unknown>;
    for (const name of ENV_VARIABLES) {
      const cell = documented.get(name)!;
      const value = defaults[name];
      if (name === 'JWT_SECRET') expect(cell, name).toContain('fallback');
      else if (value === undefined || (Array.isArray(value) && value.length === 0)) expect(cell, name).toContain('unset');
      else if (typeof value === 'boolean') expect(cell, name).toContain(String(value));
      else expect(cell, name).toContain(Array.isArray(value) ? value.join(',') : String(value));
    }
  });

  it("operations.md's metric table lists exactly the service's own metrics", () => {
    const metrics = new Metrics(() => 0);
    metrics.watchRedis(() => true);
    const exported = metrics.registry.getMetricsAsArray().map((m) => m.name).filter((name) => name.startsWith('bridge_'));
    const documented = tableRows(read('docs/operations.md'))
      .map((cells) => cells[0]!)
      .filter((cell) => cell.startsWith('`bridge_'))
      .map((cell) => cell.replaceAll('`', ''));
    expect(new Set(documented)).toEqual(new Set(exported));
  });

  it('every relative link in the README and docs/ reaches a file, and every #anchor a heading', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      const text = read(page).replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, anchor] = target!.split('#');
        const file = path ? join(dirname(page), path) : page;
        if (!existsSync(file)) broken.push(`${page}: ${target}`);
        else if (anchor && file.endsWith('.md') && !anchorsOf(read(file)).has(anchor)) broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});
