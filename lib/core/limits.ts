/**
 * The bounds on what one commit of a source may ask Cairn to read and compute, each checked before
 * the work it bounds: a repository cannot make Cairn run out of memory, stack or time. Every limit
 * has a message naming what was too large, by how much, and the limit (README: cairn.yaml reference).
 */

export const LIMITS = {
  /** cairn.yaml, in bytes as stored (decoded from Git). Thousands of stacks fit in far less. */
  manifestBytes: 1_048_576,
  /** Each template and deployment file, in bytes as stored: CloudFormation's largest template. */
  fileBytes: 1_048_576,
  /** Everything one commit reads (cairn.yaml, deployment files, templates), in bytes. */
  commitBytes: 32 * 1_048_576,
  /**
   * Stacks one source declares. CloudFormation's default quota is 2,000 stacks per region, but a
   * source may span regions and the quota can be raised; 5,000 keeps one commit's work and the
   * reconciler's memory bounded (measured to 3,000 by the scale benchmark).
   */
  stacks: 5_000,
  /** Nesting of cairn.yaml and deployment files; a real cairn.yaml nests five levels (stacks.app.parameters.P.fromStack). */
  manifestDepth: 32,
  /** Nesting of a template: far deeper than any real one, well within what canonicalisation can walk. */
  templateDepth: 500,
} as const;

/** `1 MiB`, `32 MiB`, `512 KiB`: a byte count for messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1_048_576 && bytes % 1_048_576 === 0) return `${bytes / 1_048_576} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** Whether containers nest more than `max` levels, found without recursion. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  // Two stacks side by side rather than an object per value: this walks every node of every template.
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const item = values.pop();
    const depth = depths.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(item)) {
      if (child === null || typeof child !== 'object') continue;
      values.push(child);
      depths.push(depth + 1);
    }
  }
  return false;
}

/** Whether `text` holds more than `max` of the characters `[` and `{`, counted natively. */
function opensMoreThan(text: string, max: number): boolean {
  let count = 0;
  for (const c of ['[', '{']) {
    for (let i = text.indexOf(c); i >= 0; i = text.indexOf(c, i + 1)) if (++count > max) return true;
  }
  return false;
}

/**
 * Whether the text opens more than `max` flow collections (`[`, `{`) without closing them, outside
 * quoted scalars and comments: checked before YAML parsing, because the parser exhausts memory on
 * tens of thousands of nested brackets, spending seconds and hundreds of megabytes before it
 * reports them. A quote opens a quoted scalar only where one can start (first on its line, after
 * `: `, or inside brackets after `[ { ,`) and `#` a comment only after whitespace, as in YAML, so a
 * stray quote or `#` in a plain scalar does not hide the brackets after it. The check is a fast path,
 * not the only bound: what it misreads still reaches a parser that fails with an error within the
 * file size limit.
 */
export function flowNestsDeeperThan(text: string, max: number): boolean {
  // Nesting deeper than `max` needs more than `max` opening brackets; most texts have far fewer.
  if (!opensMoreThan(text, max)) return false;
  let depth = 0;
  let quote = '';
  // The last character that was not a space or tab, '\n' at the start of a line.
  let previous = '\n';
  let spaced = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) {
        quote = '';
        previous = c;
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      spaced = true;
      continue;
    }
    const afterSpace = spaced;
    spaced = false;
    const canStartScalar = previous === '\n' || (previous === ':' && afterSpace) || (depth > 0 && '[{,'.includes(previous));
    if ((c === '"' || c === "'") && canStartScalar) quote = c;
    else if (c === '#' && (i === 0 || /[ \t\r\n]/.test(text[i - 1]!))) {
      const eol = text.indexOf('\n', i);
      if (eol < 0) break;
      i = eol - 1;
    } else if (c === '[' || c === '{') {
      if (++depth > max) return true;
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
    previous = c;
  }
  return false;
}
