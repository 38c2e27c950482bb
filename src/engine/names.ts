// Resolves a NamesFilter (exact names, globs, or a predicate) against the model's hook points.
import { globToRegExp } from './hookPoints';
import type { NamesFilter } from './types';

/**
 * The hook names a filter selects, in `all`'s order. Exact names that do not exist are an error
 * (a typo should not silently cache nothing); a glob that matches nothing is also an error.
 */
export function resolveNames(filter: NamesFilter | undefined, all: readonly string[]): string[] {
  if (filter === undefined) return [...all];
  if (typeof filter === 'function') return all.filter((n) => filter(n));
  const patterns = typeof filter === 'string' ? [filter] : filter;
  const known = new Set(all);
  const selected = new Set<string>();
  for (const p of patterns) {
    if (p.includes('*') || p.includes('?')) {
      const re = globToRegExp(p);
      const hits = all.filter((n) => re.test(n));
      if (hits.length === 0) throw new Error(`names filter '${p}' matches no hook point`);
      hits.forEach((n) => selected.add(n));
    } else if (known.has(p)) {
      selected.add(p);
    } else {
      throw new Error(`no hook point named '${p}'${suggest(p, all)}`);
    }
  }
  return all.filter((n) => selected.has(n));
}

function suggest(name: string, all: readonly string[]): string {
  const tail = name.slice(name.lastIndexOf('.') + 1);
  const near = all.filter((n) => n.endsWith(`.${tail}`) || n === tail).slice(0, 3);
  return near.length > 0 ? ` (did you mean ${near.map((n) => `'${n}'`).join(', ')}?)` : '';
}
