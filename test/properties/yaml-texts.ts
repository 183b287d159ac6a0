/**
 * YAML texts that probe where two parsers could disagree: every CloudFormation short-form tag in
 * each node kind, nested; the scalars YAML 1.1 and 1.2 read differently (`yes`, `0755`, `0o17`,
 * `-.5`, `1_000`, timestamps, `.inf`); quoting and escapes, block scalars, comments, explicit and
 * collection keys, duplicates, anchors, directives, tabs, long keys; and all of these with a few
 * characters changed, which is where parsers part ways. Used to check that the fast YAML path
 * (lib/core/fast-yaml.ts) reads every text it accepts exactly as the `yaml` package does.
 */
import fc from 'fast-check';
import { CFN_TAGS } from '../../lib/core/template.js';

export const TAG_NAMES = CFN_TAGS.map((t) => t.name);

/** Plain scalars each schema may resolve differently, and strings that look like other things. */
export const EDGE_SCALARS = [
  'yes', 'no', 'on', 'off', 'y', 'n', 'Yes', 'NO',
  'true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'FALSE',
  'null', 'Null', 'NULL', 'nULL', '~', '',
  '0', '-0', '+0', '00', '0755', '0o17', '0o8', '0O17', '0x1F', '0X1F', '0xg', '-0x1F', '+0o7', '0b101', '1_000', '+12', '-12',
  '12345678901234567890', '9007199254740993', `1${'0'.repeat(310)}`,
  '1.5', '1.', '.5', '-.5', '+.5', '5.e3', '1e3', '1E3', '1e+3', '1.5e-3', '-1.5E3', '.5e3', '1.7976931348623157e309', '1_0.5', '0.1e',
  '.inf', '.Inf', '.INF', '-.inf', '+.inf', '-.Inf', '.iNf', 'inf', '.nan', '.NaN', '.NAN', '-.nan', 'nan', 'NaN',
  '2001-12-14t21:59:43.10-05:00', '2002-12-14', '12:30:45', '1:20', '190:20:30',
  'a:b', ':a', 'a :b', '-a', '- a', 'a-', '?a', 'a?', '<<', '=', 'a#b', 'a # b', 'é', '日本', '😀',
  'arn:aws:s3:::bucket/*', 's3:*', '${AWS::Region}', '${A}:${B}', 'a&b', 'R&D', 'a & b', 'x*y', '*', '**',
  'Fn::GetAtt', 'Ref', '__proto__', 'constructor', 'toString',
];

const QUOTED = [
  "'single'", "'it''s'", "''", '""', '"double"', '"\\x41\\u00e9\\U0001F600\\t\\n\\\\\\""', '"\\N\\_\\L\\P\\e\\0\\a\\b\\v\\f\\r\\ \\/"', '"bad \\q"',
  '"line one\n  line two"', "'fold\n\n  kept'", '"trail\\\n  ing"', '"tab\there"', "'#not a comment'", '"a: b"', "'- x'", '"${Name}-queue"',
];

const BLOCK_HEADERS = ['|', '>', '|-', '>-', '|+', '>+', '|2', '>1-', '|-2', '| # c', '>  '];

/** Lines of block scalars (code, JSON, shell) that would mean something else outside one. */
const BLOCK_LINES = [
  'text', '  more', '', 'a: b', '# not a comment', '\tx', 'x  ', 'a && b', 'cmd &>/dev/null', 'x ? y : z', '"color": "#fff",', 'if x[0]:', '[ ! -f x ]',
  'a>1', '&anchor', '*alias', '- item', '-', "'quote", '"quote', '[open', '{open', '}', ']', '%x', '--- x', '...', '? k', '!Ref x', '"\\U0001F600"', '{"a": [1, 2]}',
];

const KEYS = ['a', 'b', 'a', 'Type', 'Resources', 'Properties', '"a"', "'a'", '1', '"1"', '01', 'true', 'null', '~', '""', '<<', '__proto__', 'a b', '"k: v"', 'Fn::If', '[a]', '{a: 1}', '!Ref k', '? a', '.inf', '0x1'];

const SPECIAL = [':', ' ', '-', '?', '[', ']', '{', '}', ',', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', '\t', '\r', '\n', '\n  ', '\\', '\u00a0', '\u2028', '\u0085', '\ufeff', '\x07', '\x00'];

const pick = <T>(xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);

const tagName = pick(TAG_NAMES);
const plain = pick(EDGE_SCALARS);
const scalarText = fc.oneof({ weight: 4, arbitrary: plain }, { weight: 2, arbitrary: pick(QUOTED) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) });

/** A flow node: scalars, flow collections and tagged nodes, nested. */
const { flow } = fc.letrec<{ flow: string }>((tie) => ({
  flow: fc.oneof(
    { depthSize: 'small', maxDepth: 4, depthIdentifier: 'flow' },
    { weight: 4, arbitrary: scalarText.filter((s) => !s.includes('\n')) },
    fc.array(tie('flow'), { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`),
    fc.array(fc.tuple(pick(KEYS), tie('flow')), { maxLength: 3 }).map((ps) => `{${ps.map(([k, v]) => `${k}: ${v}`).join(', ')}}`),
    fc.tuple(tagName, tie('flow')).map(([t, v]) => `!${t} ${v}`),
    pick(['!GetAtt A.B', '!GetAtt A.B.C', '!GetAtt [A, B]', '!GetAtt A', '!Ref', '!Sub ""', '!Bogus x', '!!str 1', '!!int "0x1F"', '!!int 1.5', '!!float 1', '!!float "1.5"', '!!null ""', '!!bool yes', '!!binary aGk=', '!!timestamp 2001-01-01', '! x', '!<!Ref> x', '!<tag:yaml.org,2002:str> 5', '!!map {a: 1}', '!!seq [a]', '!!str [a]', '&a x', '*a', '&a [b]', '*b']),
  ),
}));

/** A flow collection or quoted scalar over several lines, each indented by chance around `indent`. */
function multiLineFlow(indent: number): fc.Arbitrary<string> {
  const line = fc.tuple(fc.integer({ min: -2, max: 4 }), flow).map(([d, v]) => [Math.max(0, indent + d), v] as const);
  return fc.oneof(
    fc.tuple(pick(['[', '{']), fc.array(fc.tuple(line, pick(KEYS)), { minLength: 1, maxLength: 3 }), fc.integer({ min: -2, max: 3 })).map(([open, items, closeShift]) => {
      const close = open === '[' ? ']' : '}';
      const body = items.map(([[n, v], k]) => `\n${' '.repeat(n)}${open === '{' ? `${k}: ` : ''}${v},`).join('');
      return ` ${open}${body}\n${' '.repeat(Math.max(0, indent + closeShift))}${close}`;
    }),
    fc.tuple(pick(['"', "'"]), fc.array(fc.tuple(fc.integer({ min: -2, max: 3 }), pick(['text', 'a: b', '# c', '- x', '', '\\"', "''", '&a', '[x'])), { minLength: 1, maxLength: 3 })).map(
      ([q, lines]) => ` ${q}first${lines.map(([d, l]) => `\n${' '.repeat(Math.max(0, indent + d))}${q === '"' ? l : l.replace(/\\"/g, '"')}`).join('')}${q}`,
    ),
  );
}

/** A block node at `indent`: scalars, block sequences and mappings, block scalars, tagged, with comments. */
function block(indent: number, depth: number): fc.Arbitrary<string> {
  const pad = ' '.repeat(indent);
  const inner = indent + 2;
  const leaf = fc.oneof(
    { weight: 4, arbitrary: flow.map((v) => ` ${v}`) },
    { weight: 2, arbitrary: fc.tuple(pick(BLOCK_HEADERS), fc.array(fc.tuple(pick(BLOCK_LINES), fc.integer({ min: -2, max: 2 })), { minLength: 1, maxLength: 4 })).map(([h, lines]) => ` ${h}\n${lines.map(([l, shift]) => (l ? `${' '.repeat(Math.max(0, inner + (shift > 0 ? shift : 0)))}${l}` : '')).join('\n')}`) },
    { weight: 1, arbitrary: multiLineFlow(indent) },
    { weight: 1, arbitrary: fc.tuple(plain, fc.array(fc.tuple(pick(BLOCK_LINES), fc.integer({ min: -1, max: 3 })), { minLength: 1, maxLength: 2 })).map(([first, lines]) => ` ${first}${lines.map(([l, d]) => `\n${' '.repeat(Math.max(0, indent + d))}${l}`).join('')}`) },
    { weight: 1, arbitrary: fc.tuple(tagName, plain).map(([t, v]) => ` !${t}\n${' '.repeat(inner)}${v}`) },
    { weight: 1, arbitrary: fc.constant('') },
  );
  if (depth <= 0) return leaf;
  const child = block(inner, depth - 1);
  const seq = fc.array(child, { minLength: 1, maxLength: 3 }).map((items) => `\n${items.map((c) => `${pad}-${c.startsWith('\n') ? c : c}`).join('\n')}`);
  const map = fc
    .array(fc.tuple(pick(KEYS), child, fc.boolean()), { minLength: 1, maxLength: 4 })
    .map((pairs) => `\n${pairs.map(([k, v, comment]) => `${pad}${k}:${v}${comment ? ' # c' : ''}`).join('\n')}`);
  const tagged = fc.tuple(tagName, fc.oneof(seq, map)).map(([t, body]) => ` !${t}${body}`);
  return fc.oneof({ weight: 3, arbitrary: leaf }, { weight: 2, arbitrary: map }, { weight: 2, arbitrary: seq }, { weight: 1, arbitrary: tagged });
}

/** A whole document: a block mapping (mostly) or any node, sometimes with markers and comments. */
const documentText = fc
  .tuple(
    fc.oneof({ weight: 4, arbitrary: block(0, 3) }, { weight: 1, arbitrary: flow.map((v) => ` ${v}`) }),
    pick(['', '', '', '---\n', '--- ', '# comment\n', '%YAML 1.2\n---\n', '%YAML 1.1\n---\n', '%TAG !e! tag:example.com,2000:\n---\n', '\ufeff']),
    pick(['', '', '', '\n', '\n...\n', '\n---\n', '\n--- x\n', '\n# end']),
  )
  .map(([body, before, after]) => {
    const text = body.startsWith('\n') ? body.slice(1) : body.trimStart();
    return `${before}${text}${after}`;
  });

const edits = fc.array(fc.record({ at: fc.nat(), remove: fc.nat({ max: 3 }), insert: fc.oneof(pick(SPECIAL), fc.string({ maxLength: 2 })) }), { minLength: 1, maxLength: 3 });

/** Texts to read with both parsers: documents as generated, and with a few characters changed. */
export const yamlText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: documentText },
  {
    weight: 3,
    arbitrary: fc.tuple(documentText, edits).map(([text, es]) =>
      es.reduce((s, e) => {
        const i = e.at % (s.length + 1);
        return s.slice(0, i) + e.insert + s.slice(i + e.remove);
      }, text),
    ),
  },
  // Lines long enough for a key past 1024 characters, and long values.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1000, max: 1040 }), fc.boolean()).map(([n, asKey]) => (asKey ? `${'k'.repeat(n)}: v\n` : `k: ${'v'.repeat(n)}: w\n`)) },
);
