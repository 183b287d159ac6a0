/**
 * The fast way to read YAML: js-yaml, which reads a template in a fraction of the time the `yaml`
 * package takes, with a schema that reproduces what `yaml` gives for YAML 1.2's core schema (`yes`
 * is a string, `0755` the number 755, `0o17` 15, no timestamps, no merge keys). `yaml` stays the
 * reference: it reads every document the fast path declines, and every document js-yaml rejects, so
 * that the outcome and every error message, with its line, is what `yaml` says.
 *
 * The fast path declines (answers undefined) wherever the two could read a document differently,
 * found before reading (the patterns and the scan below) or after (keys js-yaml spells otherwise):
 * anchors, directives, explicit and collection keys, null keys, some tags and block scalar headers,
 * and the places js-yaml is more lenient than `yaml` (indentation of continued lines, comments
 * without a space, tabs, document markers, long keys). Each is there because a differential test
 * found the two apart (test/properties/template.property.test.ts, test/core/template-yaml.test.ts).
 * Duplicate keys are an error in js-yaml, so a document with one goes to `yaml` too, which says
 * where it is.
 */
import { FAILSAFE_SCHEMA, load, Type, type Schema } from 'js-yaml';

/** YAML 1.2 core schema's null: `~`, `null`, `Null`, `NULL` and the empty plain scalar. */
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT_DEC = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** The core schema's scalar tags, resolved and constructed exactly as `yaml` 2 does. */
const CORE_TYPES = [
  new Type('tag:yaml.org,2002:null', {
    kind: 'scalar',
    resolve: (data: string | null) => data === null || NULL.test(data),
    construct: () => null,
  }),
  new Type('tag:yaml.org,2002:bool', {
    kind: 'scalar',
    resolve: (data: string | null) => data !== null && BOOL.test(data),
    construct: (data: string) => data[0] === 't' || data[0] === 'T',
  }),
  new Type('tag:yaml.org,2002:int', {
    kind: 'scalar',
    resolve: (data: string | null) => data !== null && (INT_OCT.test(data) || INT_DEC.test(data) || INT_HEX.test(data)),
    construct: (data: string) => (INT_OCT.test(data) ? parseInt(data.substring(2), 8) : INT_DEC.test(data) ? parseInt(data, 10) : parseInt(data.substring(2), 16)),
  }),
  new Type('tag:yaml.org,2002:float', {
    kind: 'scalar',
    resolve: (data: string | null) => data !== null && (FLOAT_NAN.test(data) || FLOAT_EXP.test(data) || FLOAT.test(data)),
    construct: (data: string) =>
      FLOAT_NAN.test(data) ? (data.slice(-3).toLowerCase() === 'nan' ? NaN : data[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY) : parseFloat(data),
  }),
];

/** How one local tag (`!Name`) reads, whatever node it is on. */
export interface LocalTag {
  /** Without the `!`. */
  name: string;
  construct: (value: unknown) => unknown;
}

/** Thrown from a tag's construct to hand the document to `yaml`. */
class Declined extends Error {}

/**
 * The core schema plus `tags`, each on scalars, sequences and mappings. A tag's value is the
 * scalar's text, as `yaml` gives it, or the collection. js-yaml resolves a scalar on the line after
 * its tag (`!Ref` then `  null` below it) as if untagged, and reads an empty node (`!Ref` alone) as
 * null too: where a tag gets anything but a string or a collection, the text is not known, and
 * the document goes to `yaml`.
 */
export function fastSchema(tags: readonly LocalTag[] = []): Schema {
  const explicit = tags.flatMap(({ name, construct }) =>
    (['scalar', 'sequence', 'mapping'] as const).map(
      (kind) =>
        new Type(`!${name}`, {
          kind,
          construct: (data: unknown) => {
            if (data === null || typeof data !== 'object' && typeof data !== 'string') throw new Declined();
            return construct(data);
          },
        }),
    ),
  );
  return FAILSAFE_SCHEMA.extend({ implicit: CORE_TYPES, explicit });
}

/** Things `yaml` reads differently, or warns about: see the top of this file. */
const DECLINED = [
  /[\uFEFF\u2028\u2029\u0085]/,
  /^%/m,
  /\r(?!\n)/,
  // A tab in indentation, or after a sequence's `-`: `yaml` refuses both.
  /^[ -]*\t/m,
  // A block scalar as the whole document: `yaml` reads the lines below it, even `# x`, as its content.
  /^(?:[ \t]*(?:(?:#|---).*)?\r?\n)*[ \t]*(?:![^\s]*[ \t]+)?[|>]/,
  // A document start with something after it on its line (js-yaml reads `---x` as a marker and
  // `x`), and a document end (js-yaml ends a document at `...` that `yaml` finds unfinished).
  /^---(?![ \t]*\r?$|[ \t]+#)/m,
  /^\.\.\./m,
  // A tag ending its line and another tag or anchor starting the next (two properties of one node
  // for `yaml`, a tagged node inside another for js-yaml), or a block scalar (whose tag js-yaml drops).
  /(?:^|[ \t])![^\s]*[ \t]*(?:#.*)?\r?\n(?:[ \t]*(?:#.*)?\r?\n)*[ \t]*[!&|>]/m,
];
/** The characters that end a run of a plain scalar the structure scan can skip. */
const PLAIN_STOP = /[ \t#:]/g;

/**
 * What `yaml` and js-yaml read differently that only the structure shows, found in one pass over
 * the lines that knows block scalars (their content is skipped), quoted and plain scalars, flow
 * collections, comments and node properties; true where the fast path declines:
 * - an anchor (`&a`): js-yaml shares the node, `yaml` copies it, and bounds how often;
 * - an explicit key (`? x`), and a collection as a key (`[a]: b`, `{[a]}`), stringified differently;
 * - a tag js-yaml reads otherwise: `!` alone (null for js-yaml, "" for `yaml`), a verbatim `!<...>`
 *   taken without the space `yaml` asks for, a tag with a bracket or quote in it, `!!seq` and
 *   `!!map` (an empty collection on an empty node for js-yaml, an error for `yaml`);
 * - a block scalar with an indentation indicator (counted from another column at the top level) or
 *   keep chomping (js-yaml keeps a last line of spaces);
 * - a `\U` escape (js-yaml takes code points past U+10FFFF);
 * - a comment right after a token (`"a"#`): `yaml` wants white space before it;
 * - an empty sequence item (nothing after its `-`, and the next line no deeper): js-yaml then takes
 *   the items of the enclosing sequence that follow into it (`- - x` / `  -` / `- y` reads as one
 *   sequence of three);
 * - a line with room for an implicit key longer than 1024 characters, which `yaml` refuses, and a
 *   line with two implicit keys (`a: !t b: c`), which js-yaml can read as a mapping in a mapping;
 * - a quoted scalar or flow collection that goes on over a line not indented past the block
 *   collection it is in (`a: "b` / `c"` below `a`), and a flow collection closed there: `yaml`
 *   finds it unfinished, or warns, js-yaml reads it. Where a line does not show how deep its block
 *   is (a value on a line of its own), its indentation less one stands for it, erring towards
 *   declining.
 */
function declinedByStructure(text: string): boolean {
  let quote = '';
  // The open flow collections, innermost last; for a mapping, whether its entry has passed the `:`.
  const open: { map: boolean; value: boolean }[] = [];
  // Continuation lines of the open quoted scalar or flow collection must be indented past this column.
  let bound = -1;
  // Inside a block scalar: lines indented past this column (and blank lines) are its content.
  let blockBound: number | undefined;
  // The column of the `-` of a sequence item with nothing after it on the previous line.
  let bareDash = -1;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const next = end + 1;
    if (text[end - 1] === '\r') end--;
    // Room for an implicit key longer than 1024 characters, which `yaml` refuses and js-yaml takes.
    for (let j = start + 1024; j < end; j++) if (text[j] === ':') return true;
    let i = start;
    while (i < end && text[i] === ' ') i++;
    const indent = i - start;
    let blank = true;
    for (let j = i; j < end && blank; j++) if (text[j] !== ' ' && text[j] !== '\t') blank = false;
    if (blank) {
      start = next;
      continue;
    }
    if (blockBound !== undefined) {
      if (indent > blockBound) {
        start = next;
        continue;
      }
      blockBound = undefined;
    }
    const continued = quote !== '' || open.length > 0;
    if (continued && indent <= bound) return true;
    if (bareDash >= 0 && indent <= bareDash) return true;
    bareDash = -1;
    // The column of the block collection this line's values are in, where the line shows it.
    let lineBlock = -1;
    if (!continued) {
      while (text[i] === '-' && (i + 1 === end || text[i + 1] === ' ' || text[i + 1] === '\t')) {
        lineBlock = i - start;
        i++;
        while (text[i] === ' ' || text[i] === '\t') i++;
      }
      // Nothing after the last `-` but a comment: the item is empty unless the next line is deeper.
      if (lineBlock >= 0 && (i === end || text[i] === '#')) bareDash = lineBlock;
    }
    const keyStart = i - start;
    let prev = ' ';
    let plain = false;
    // Implicit keys begun on this line, outside flow collections.
    let keys = 0;
    for (; i < end; i++) {
      const c = text[i]!;
      if (quote) {
        if (quote === '"' && c === '\\') {
          if (text[i + 1] === 'U') return true;
          i++;
        } else if (c === quote) {
          if (quote === "'" && text[i + 1] === "'") i++;
          else quote = '';
        }
        prev = c;
        continue;
      }
      if (c === ' ' || c === '\t') {
        prev = c;
        continue;
      }
      const spaced = prev === ' ' || prev === '\t';
      if (c === '#') {
        if (spaced) break;
        if (!plain) return true;
        prev = c;
        continue;
      }
      const inner = open[open.length - 1];
      const after = text[i + 1];
      const endsToken = after === undefined || i + 1 === end || after === ' ' || after === '\t' || after === '\r';
      if (plain) {
        if (c === ':' && (endsToken || (inner && ',[]{}'.includes(after!)))) {
          plain = false;
          if (inner) inner.value = true;
          else if (keys++ > 0) return true;
          else lineBlock = keyStart;
        }
        if (!inner || !',[]{}'.includes(c)) {
          prev = c;
          if (plain && !inner) {
            // Outside flow collections, what follows in a plain scalar only sets `prev` until a
            // space, a tab, a `#` or a `:`: skip to the next of those (or the line's end) at once.
            PLAIN_STOP.lastIndex = i + 1;
            const stop = PLAIN_STOP.exec(text);
            const j = stop === null || stop.index > end ? end : stop.index;
            if (j > i + 1) {
              prev = text[j - 1]!;
              i = j - 1;
            }
          }
          continue;
        }
        // A flow indicator ends the plain scalar and is read as such below.
        plain = false;
      }
      const ownBound = lineBlock >= 0 ? lineBlock : indent - 1;
      const nodeStart = spaced || (inner !== undefined && '[{,:'.includes(prev));
      if (c === ':' && (endsToken || inner)) {
        if (inner) inner.value = true;
        else if (keys++ > 0) return true;
        else lineBlock = keyStart;
      } else if (inner && c === ',') {
        inner.value = false;
      } else if (inner && (c === ']' || c === '}')) {
        open.pop();
        let j = i + 1;
        while (text[j] === ' ' || text[j] === '\t') j++;
        // A collection as an implicit key.
        if (text[j] === ':') return true;
      } else if (!nodeStart) {
        plain = true;
      } else if (c === '"' || c === "'") {
        quote = c;
        if (!inner) bound = ownBound;
      } else if (c === '[' || c === '{') {
        if (inner?.map && !inner.value) return true;
        if (!inner) bound = ownBound;
        open.push({ map: c === '{', value: false });
      } else if (c === '&') {
        return true;
      } else if (c === '?' && endsToken) {
        return true;
      } else if (c === '!') {
        let j = i + 1;
        while (j < end && text[j] !== ' ' && text[j] !== '\t') j++;
        const tag = text.slice(i, j);
        if (tag === '!' || tag.startsWith('!<') || tag === '!!seq' || tag === '!!map' || /[,[\]{}"']/.test(tag)) return true;
        i = j - 1;
      } else if ((c === '|' || c === '>') && !inner) {
        let j = i + 1;
        while (j < end && text[j] !== ' ' && text[j] !== '\t') j++;
        if (/[0-9+]/.test(text.slice(i + 1, j))) return true;
        blockBound = ownBound;
        break;
      } else {
        plain = true;
      }
      prev = c;
    }
    start = next;
  }
  return false;
}

/** Keys js-yaml makes of a null or an object key, which `yaml` spells differently. */
function hasStrayKey(value: unknown): boolean {
  const pending = [value];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (item === null || typeof item !== 'object') continue;
    if (Array.isArray(item)) {
      for (const child of item) pending.push(child);
      continue;
    }
    for (const key in item) {
      if (key === 'null' || key.includes('[object Object]')) return true;
      pending.push((item as Record<string, unknown>)[key]);
    }
  }
  return false;
}

/**
 * One YAML document read with js-yaml and `schema`, as `yaml` would read it; undefined where the
 * fast path declines or js-yaml fails, and the document is then for `yaml` to read. `maxDepth`
 * bounds js-yaml's recursion; a document nested deeper goes to `yaml` too.
 */
export function loadFast(text: string, schema: Schema, maxDepth: number): { value: unknown } | undefined {
  for (const pattern of DECLINED) if (pattern.test(text)) return undefined;
  if (declinedByStructure(text)) return undefined;
  let value: unknown;
  try {
    value = load(text, { schema, maxDepth } as Parameters<typeof load>[1]);
  } catch {
    // A YAML error, a Declined, or js-yaml out of stack: `yaml` says which.
    return undefined;
  }
  return hasStrayKey(value) ? undefined : { value };
}
