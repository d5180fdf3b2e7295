/**
 * The MLflow search grammar (filter strings and order_by entries), parsed for real:
 * a small tokenizer whose tokens carry their start offset, a recursive-descent parser, and a
 * per-entity rule table that says which identifiers, comparators and value kinds are allowed.
 *
 *   filter     := clause (AND clause)*            -- no OR, no grouping parentheses
 *   clause     := identifier comparator value
 *   identifier := type "." key | attribute-key    -- key may be `quoted` or "quoted"; the whole
 *                                                    identifier may be quoted too ("run name")
 *   comparator := = | != | <> | > | >= | < | <= | LIKE | ILIKE | IN | NOT IN
 *   value      := 'string' | "string" | number | "(" string ("," string)* ")"
 *   order_by   := identifier [ASC | DESC]
 *
 * Semantics follow MLflow's search_utils.py; every error names the offending token, its 0-based
 * position (a caret line under the input) and how to fix it, because these strings are typed by
 * people into UIs and CLIs.
 */
import { invalid } from '../../core/errors.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type SearchEntity = 'runs' | 'experiments' | 'logged_models' | 'registered_models' | 'model_versions';
export type IdentifierType = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';
/** `key` is normalised: quotes removed, attribute aliases resolved (`created` → `start_time`). */
export interface Identifier {
  type: IdentifierType;
  key: string;
}
export type Comparator = '=' | '!=' | '>' | '>=' | '<' | '<=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';
export type Value = { kind: 'string'; value: string } | { kind: 'number'; value: number } | { kind: 'list'; values: string[] };
/** `position` is the 0-based offset of the clause's identifier in the filter string. */
export interface Clause {
  identifier: Identifier;
  comparator: Comparator;
  value: Value;
  position: number;
}
export interface OrderBy {
  identifier: Identifier;
  ascending: boolean;
}

// ---------------------------------------------------------------------------------------------
// Per-entity rules (data, not code)
// ---------------------------------------------------------------------------------------------

type ValueKind = 'string' | 'number';
interface FieldRule {
  kind: ValueKind;
  comparators: readonly Comparator[];
  /** Literals used in "e.g." hints. */
  sample: string;
  listSample?: string;
}
/** Either any key is accepted (metrics, params, tags) or a closed set of keys (attributes, datasets). */
interface KeySpace<T> {
  any?: T;
  keys?: Readonly<Record<string, T>>;
  /** Lower-cased alias → canonical key. */
  aliases?: Readonly<Record<string, string>>;
}
interface EntityRules {
  /** Singular noun for messages: "run", "model version". */
  noun: string;
  filter: Partial<Record<IdentifierType, KeySpace<FieldRule>>>;
  orderBy: Partial<Record<IdentifierType, KeySpace<true>>>;
  filterExample: string;
  orderByExample: string;
}

const NUMERIC: readonly Comparator[] = ['=', '!=', '>', '>=', '<', '<='];
const STRING: readonly Comparator[] = ['=', '!=', 'LIKE', 'ILIKE'];
const STRING_OR_LIST: readonly Comparator[] = [...STRING, 'IN', 'NOT IN'];

const num = (sample: string): FieldRule => ({ kind: 'number', comparators: NUMERIC, sample });
const str = (comparators: readonly Comparator[] = STRING, sample = "'value'", listSample?: string): FieldRule => ({
  kind: 'string',
  comparators,
  sample,
  ...(listSample === undefined ? {} : { listSample }),
});
const TIMESTAMP = num('1700000000000');
const ANY = { any: true } as const;
const only = (...keys: string[]): Readonly<Record<string, true>> => Object.fromEntries(keys.map((k) => [k, true]));

const RUN_ATTRIBUTE_ALIASES = { created: 'start_time', 'run name': 'run_name', run_uuid: 'run_id' };

const RULES: Readonly<Record<SearchEntity, EntityRules>> = {
  runs: {
    noun: 'run',
    filter: {
      metric: { any: num('0.8') },
      param: { any: str() },
      tag: { any: str() },
      attribute: {
        keys: {
          run_id: str(STRING_OR_LIST, "'a1b2c3'", "('a1b2c3', 'd4e5f6')"),
          run_name: str(),
          status: str(STRING, "'FINISHED'"),
          user_id: str(),
          artifact_uri: str(),
          lifecycle_stage: str(STRING, "'active'"),
          start_time: TIMESTAMP,
          end_time: TIMESTAMP,
        },
        aliases: RUN_ATTRIBUTE_ALIASES,
      },
      dataset: {
        keys: {
          name: str(STRING_OR_LIST, "'train'", "('train', 'eval')"),
          digest: str(STRING_OR_LIST, "'3f2a9c'", "('3f2a9c', '8b1d4e')"),
          context: str(STRING_OR_LIST, "'training'", "('training', 'evaluation')"),
        },
      },
    },
    orderBy: {
      metric: ANY,
      param: ANY,
      tag: ANY,
      attribute: {
        keys: only('start_time', 'end_time', 'run_name', 'run_id', 'status', 'user_id', 'artifact_uri', 'experiment_id'),
        aliases: RUN_ATTRIBUTE_ALIASES,
      },
    },
    filterExample: "metrics.rmse < 0.8 AND params.model = 'cnn'",
    orderByExample: 'metrics.rmse DESC',
  },
  experiments: {
    noun: 'experiment',
    filter: {
      attribute: {
        keys: { name: str(), creation_time: TIMESTAMP, last_update_time: TIMESTAMP, experiment_id: str(['=', '!=', 'IN'], "'1'", "('1', '2')") },
      },
      tag: { any: str() },
    },
    orderBy: { attribute: { keys: only('name', 'experiment_id', 'creation_time', 'last_update_time') } },
    filterExample: "name LIKE 'fraud%' AND tags.team = 'risk'",
    orderByExample: 'creation_time DESC',
  },
  logged_models: {
    noun: 'logged model',
    filter: {
      metric: { any: num('0.8') },
      param: { any: str() },
      tag: { any: str() },
      attribute: {
        keys: {
          name: str(),
          model_id: str([...STRING, 'IN'], "'m-1a2b'", "('m-1a2b', 'm-3c4d')"),
          model_type: str(),
          status: str(STRING, "'READY'"),
          source_run_id: str(),
          creation_timestamp: TIMESTAMP,
          last_updated_timestamp: TIMESTAMP,
        },
        aliases: { creation_time: 'creation_timestamp' },
      },
    },
    orderBy: {
      metric: ANY,
      param: ANY,
      attribute: {
        keys: only('name', 'creation_timestamp', 'last_updated_timestamp', 'model_id'),
        aliases: { creation_time: 'creation_timestamp' },
      },
    },
    filterExample: "metrics.accuracy > 0.9 AND params.model = 'cnn'",
    orderByExample: 'metrics.accuracy DESC',
  },
  registered_models: {
    noun: 'registered model',
    filter: { attribute: { keys: { name: str() } }, tag: { any: str() } },
    orderBy: {
      attribute: {
        keys: only('name', 'creation_timestamp', 'last_updated_timestamp'),
        // MLflow's registry accepts `timestamp` as shorthand for the last update.
        aliases: { timestamp: 'last_updated_timestamp' },
      },
    },
    filterExample: "name LIKE 'fraud%'",
    orderByExample: 'last_updated_timestamp DESC',
  },
  model_versions: {
    noun: 'model version',
    filter: {
      attribute: {
        keys: {
          name: str(),
          run_id: str([...STRING, 'IN'], "'a1b2c3'", "('a1b2c3', 'd4e5f6')"),
          source_path: str(),
          current_stage: str(STRING, "'Production'"),
          version_number: num('3'),
        },
      },
      tag: { any: str() },
    },
    orderBy: { attribute: { keys: only('name', 'version_number', 'creation_timestamp', 'last_updated_timestamp') } },
    filterExample: "name = 'fraud' AND version_number > 2",
    orderByExample: 'version_number DESC',
  },
};

/** Identifier type prefixes, lower-cased (matching is case-insensitive). */
const TYPE_ALIASES: ReadonlyMap<string, IdentifierType> = new Map([
  ['metric', 'metric'],
  ['metrics', 'metric'],
  ['param', 'param'],
  ['params', 'param'],
  ['parameter', 'param'],
  ['parameters', 'param'],
  ['tag', 'tag'],
  ['tags', 'tag'],
  ['attribute', 'attribute'],
  ['attributes', 'attribute'],
  ['attr', 'attribute'],
  ['run', 'attribute'],
  ['dataset', 'dataset'],
  ['datasets', 'dataset'],
]);
const TYPE_PREFIX: Readonly<Record<IdentifierType, string>> = {
  metric: 'metrics.',
  param: 'params.',
  tag: 'tags.',
  attribute: 'attributes.',
  dataset: 'datasets.',
};
const TYPE_NOUN: Readonly<Record<IdentifierType, string>> = {
  metric: 'metric',
  param: 'param',
  tag: 'tag',
  attribute: 'attribute',
  dataset: 'dataset field',
};

const OPERATORS: ReadonlyMap<string, Comparator> = new Map<string, Comparator>([
  ['=', '='],
  ['!=', '!='],
  ['<>', '!='],
  ['>', '>'],
  ['>=', '>='],
  ['<', '<'],
  ['<=', '<='],
]);
const ALL_COMPARATORS = '=, !=, <>, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN';
/** Words that can never start an identifier, so a misplaced one gets a precise message. */
const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'LIKE', 'ILIKE', 'ASC', 'DESC']);

// Object-literal tables inherit `constructor`, `toString`, ...; never let a user key hit those.
const own = <T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

interface Source {
  entity: SearchEntity;
  kind: 'filter' | 'order_by';
  text: string;
}

function fail(src: Source, token: Token, problem: string, fix: string, showFound = true): never {
  // Control whitespace would break the caret alignment; each is one code unit, so spaces keep offsets.
  const shown = src.text.replace(/[\t\n\r\v\f]/g, ' ');
  const found = showFound ? `, found ${describe(token, src)}` : '';
  const message =
    `Invalid ${src.kind} "${shown}": ${problem} at position ${token.start}${found}. ${fix}\n` +
    `  ${shown}\n  ${' '.repeat(token.start)}^`;
  const where = src.kind === 'filter' ? { filter: src.text } : { orderBy: src.text };
  throw invalid(message, { position: token.start, token: token.text, ...where });
}

function describe(token: Token, src: Source): string {
  switch (token.kind) {
    case 'eof':
      return `the end of the ${src.kind}`;
    case 'string':
      return token.quote === '`' ? `quoted name ${token.text}` : `string ${token.text}`;
    default:
      return `'${token.text}'`;
  }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------------

type TokenKind = 'word' | 'number' | 'string' | 'op' | '(' | ')' | ',' | 'eof';
interface Token {
  kind: TokenKind;
  /** Exactly as written (quotes included), for messages. */
  text: string;
  /** Unescaped content for strings; same as text otherwise. */
  value: string;
  quote?: "'" | '"' | '`';
  start: number;
  end: number;
}

// A number must not run straight into a word character, so `1e`, `1.2.3` or `12ab` become one bad
// word token (reported whole) rather than a number followed by garbage.
const NUMBER_RE = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\p{L}\p{N}_.\-/])/uy;
// Unquoted names: MLflow keys are `[/\w.\- ]`; spaces need quoting. Dots stay inside the word so
// `metrics.val.loss` is a single token and the key keeps its dots.
const WORD_RE = /[\p{L}\p{N}_][\p{L}\p{N}_.\-/]*/uy;
// Greedy on purpose: `==` or `=<` surface as one unknown comparator instead of a confusing pair.
const OP_RE = /[<>=!]+/y;

function tokenize(src: Source): Token[] {
  const text = src.text;
  const tokens: Token[] = [];
  let i = 0;
  const sticky = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    return re.exec(text)?.[0];
  };
  const push = (kind: TokenKind, raw: string): void => {
    tokens.push({ kind, text: raw, value: raw, start: i, end: i + raw.length });
    i += raw.length;
  };
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') {
      const token = readQuoted(src, i, ch);
      tokens.push(token);
      i = token.end;
      continue;
    }
    if (ch === '(' || ch === ')' || ch === ',') {
      push(ch, ch);
      continue;
    }
    const op = sticky(OP_RE);
    if (op !== undefined) {
      push('op', op);
      continue;
    }
    const number = sticky(NUMBER_RE);
    if (number !== undefined) {
      push('number', number);
      continue;
    }
    const word = sticky(WORD_RE);
    if (word !== undefined) {
      push('word', word);
      continue;
    }
    const bad = String.fromCodePoint(text.codePointAt(i) ?? 0);
    const token: Token = { kind: 'word', text: bad, value: bad, start: i, end: i + bad.length };
    fail(src, token, `unexpected character '${bad}'`, 'Quote keys that contain special characters (tags.`my key`) and quote string values (\'text\')', false);
  }
  tokens.push({ kind: 'eof', text: '', value: '', start: text.length, end: text.length });
  return tokens;
}

function isNumber(raw: string): boolean {
  NUMBER_RE.lastIndex = 0;
  const m = NUMBER_RE.exec(raw);
  return m !== null && m[0] === raw;
}

/** Reads a quoted run; the quote char is escaped by doubling it ('it''s') or with a backslash ('it\'s'). */
function readQuoted(src: Source, start: number, quote: "'" | '"' | '`'): Token {
  const text = src.text;
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i] as string;
    const next = text[i + 1];
    if (ch === '\\' && (next === quote || next === '\\')) {
      // Only the quote and the backslash are unescaped: other backslashes (LIKE's `\%`, Windows
      // paths) reach the value untouched.
      value += next;
      i += 2;
    } else if (ch === quote && next === quote) {
      value += quote;
      i += 2;
    } else if (ch === quote) {
      const raw = text.slice(start, i + 1);
      return { kind: 'string', text: raw, value, quote, start, end: i + 1 };
    } else {
      value += ch;
      i++;
    }
  }
  const token: Token = { kind: 'string', text: text.slice(start), value, quote, start, end: text.length };
  const what = quote === '`' ? 'quoted name' : 'string';
  fail(src, token, `unterminated ${what}`, `Add the closing ${quote}; write a ${quote} inside it as ${quote}${quote} or \\${quote}`, false);
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

interface ParsedIdentifier<T> {
  identifier: Identifier;
  rule: T;
  /** The identifier as the user wrote it, for "e.g." hints. */
  text: string;
  start: number;
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;
  private readonly rules: EntityRules;

  constructor(private readonly src: Source) {
    this.rules = RULES[src.entity];
    this.tokens = tokenize(src);
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.index++;
    return token;
  }

  private isWord(token: Token, ...words: string[]): boolean {
    return token.kind === 'word' && words.includes(token.text.toUpperCase());
  }

  private fail(token: Token, problem: string, fix: string, showFound = true): never {
    fail(this.src, token, problem, fix, showFound);
  }

  filter(): Clause[] {
    const clauses = [this.clause()];
    for (;;) {
      const token = this.next();
      if (token.kind === 'eof') return clauses;
      if (this.isWord(token, 'AND')) {
        clauses.push(this.clause());
      } else if (this.isWord(token, 'OR')) {
        this.fail(token, 'OR is not supported', 'MLflow filters combine clauses with AND only; run one search per alternative and merge the results', false);
      } else if (token.kind === '(' || token.kind === ')') {
        this.groupingError(token);
      } else {
        this.fail(token, 'expected AND or the end of the filter', `Join clauses with AND, e.g. ${this.rules.filterExample}`);
      }
    }
  }

  orderBy(): OrderBy & { position: number } {
    const id = this.identifier(this.rules.orderBy);
    let ascending = true;
    const direction = this.peek();
    if (this.isWord(direction, 'ASC', 'DESC')) {
      ascending = direction.text.toUpperCase() === 'ASC';
      this.next();
    }
    const rest = this.next();
    if (rest.kind === ',') {
      this.fail(rest, 'one order_by entry holds a single key', `Pass each key as its own order_by entry, e.g. ['${this.rules.orderByExample}', '${id.text} ASC']`, false);
    }
    if (rest.kind !== 'eof') {
      const fix = this.isWord(direction, 'ASC', 'DESC')
        ? `Put exactly one key and an optional direction in each entry, e.g. ${this.rules.orderByExample}`
        : `Write '${id.text} ASC' or '${id.text} DESC'; quote keys containing spaces with backticks, e.g. metrics.\`f1 score\` DESC`;
      this.fail(rest, 'expected ASC, DESC or the end of the order_by', fix);
    }
    return { identifier: id.identifier, ascending, position: id.start };
  }

  private clause(): Clause {
    const id = this.identifier(this.rules.filter);
    const { comparator, token } = this.comparator(id);
    if (!id.rule.comparators.includes(comparator)) {
      this.fail(token, `comparator '${token.text.toUpperCase()}' is not supported for ${this.noun(id.identifier)}`, `${capitalize(this.noun(id.identifier))} supports ${id.rule.comparators.join(', ')}`, false);
    }
    const value = comparator === 'IN' || comparator === 'NOT IN' ? this.list(id, token) : this.scalar(id, token);
    return { identifier: id.identifier, comparator, value, position: id.start };
  }

  private identifier<T>(spaces: Partial<Record<IdentifierType, KeySpace<T>>>): ParsedIdentifier<T> {
    const previous = this.tokens[this.index - 1];
    const first = this.next();
    let type: IdentifierType;
    let key: string;
    let end = first.end;

    if (first.kind === 'word' && !KEYWORDS.has(first.text.toUpperCase())) {
      const dot = first.text.indexOf('.');
      if (dot < 0) {
        type = 'attribute';
        key = first.text;
      } else {
        const prefix = first.text.slice(0, dot);
        const known = TYPE_ALIASES.get(prefix.toLowerCase());
        if (known === undefined) {
          this.fail(first, `unknown identifier type '${prefix}'`, `Prefix keys with ${this.allowedPrefixes(spaces)}, e.g. ${this.example()}`, false);
        }
        type = known;
        key = first.text.slice(dot + 1);
        // `metrics."f1 score"` / tags.`my-tag`: the quoted part must touch the dot.
        const quoted = this.peek();
        if (first.text.endsWith('.') && quoted.kind === 'string' && quoted.start === first.end) {
          if (quoted.quote === "'") {
            this.fail(quoted, 'single quotes cannot quote a key', `Single quotes are for values; quote keys with backticks or double quotes, e.g. ${first.text}\`${quoted.value}\``, false);
          }
          this.next();
          key += quoted.value;
          end = quoted.end;
        }
      }
    } else if (first.kind === 'string' && first.quote !== "'") {
      // Whole identifier quoted: "run name", `metrics.f1 score`.
      const dot = first.value.indexOf('.');
      const known = dot < 0 ? undefined : TYPE_ALIASES.get(first.value.slice(0, dot).toLowerCase());
      type = known ?? 'attribute';
      key = known === undefined ? first.value : first.value.slice(dot + 1);
    } else if (first.kind === '(' || first.kind === ')') {
      this.groupingError(first);
    } else if (this.isWord(first, 'OR')) {
      this.fail(first, 'OR is not supported', 'MLflow filters combine clauses with AND only; run one search per alternative and merge the results', false);
    } else {
      const after = previous === undefined ? '' : ` after '${previous.text}'`;
      const hint =
        first.kind === 'string'
          ? "Single quotes are for values; quote names with backticks or double quotes, e.g. tags.`my key`"
          : first.kind === 'eof' && previous !== undefined
            ? `Add a clause after '${previous.text}' or remove it`
            : `Start with a key, e.g. ${this.example()}`;
      this.fail(first, `expected ${this.src.kind === 'filter' ? 'a key to filter on' : 'a key to order by'}${after}`, hint);
    }

    const text = this.src.text.slice(first.start, end);
    if (key === '') {
      this.fail(first, `missing key in '${text}'`, `Name the key after the dot, e.g. ${this.example()}`, false);
    }
    const space = spaces[type];
    if (space === undefined) {
      const where = this.src.kind === 'filter' ? 'filtered on' : 'ordered by';
      this.fail(first, `${TYPE_PREFIX[type].slice(0, -1)} cannot be ${where} when searching ${this.src.entity}`, `Use ${this.allowedPrefixes(spaces)}, e.g. ${this.example()}`, false);
    }
    if (space.any !== undefined) {
      return { identifier: { type, key }, rule: space.any, text, start: first.start };
    }
    // Closed key sets (attributes, dataset fields) match case-insensitively and through aliases.
    const lower = key.toLowerCase();
    const canonical = own(space.aliases, lower) ?? lower;
    const rule = own(space.keys, canonical);
    if (rule === undefined) {
      const valid = Object.keys(space.keys ?? {}).join(', ');
      const others = type === 'attribute' ? this.otherPrefixes(spaces) : '';
      this.fail(first, `unknown ${TYPE_NOUN[type]} '${key}' for ${this.rules.noun}s`, `Valid ${TYPE_NOUN[type]}s${this.src.kind === 'order_by' ? ' to order by' : ''}: ${valid}${others}`, false);
    }
    return { identifier: { type, key: canonical }, rule, text, start: first.start };
  }

  private comparator(id: ParsedIdentifier<FieldRule>): { comparator: Comparator; token: Token } {
    const token = this.next();
    if (token.kind === 'op') {
      const comparator = OPERATORS.get(token.text);
      if (comparator === undefined) {
        const fix = token.text === '==' ? "Use a single '=' for equality" : `Use one of ${ALL_COMPARATORS}`;
        this.fail(token, `unknown comparator '${token.text}'`, fix, false);
      }
      return { comparator, token };
    }
    if (this.isWord(token, 'LIKE', 'ILIKE', 'IN')) {
      return { comparator: token.text.toUpperCase() as Comparator, token };
    }
    if (this.isWord(token, 'NOT')) {
      const inToken = this.next();
      if (!this.isWord(inToken, 'IN')) {
        this.fail(inToken, "expected IN after 'NOT'", "NOT is only valid in NOT IN; for a negated match use '!='");
      }
      const both: Token = { ...token, text: this.src.text.slice(token.start, inToken.end), end: inToken.end };
      return { comparator: 'NOT IN', token: both };
    }
    const openKeys = id.identifier.type === 'metric' || id.identifier.type === 'param' || id.identifier.type === 'tag';
    const hint =
      openKeys && token.kind === 'word' && !KEYWORDS.has(token.text.toUpperCase())
        ? `. If the key contains spaces, quote it, e.g. ${TYPE_PREFIX[id.identifier.type]}\`${id.identifier.key} ${token.text}\``
        : '';
    this.fail(token, `expected a comparator after '${id.text}'`, `${capitalize(this.noun(id.identifier))} supports ${id.rule.comparators.join(', ')}${hint}`);
  }

  private scalar(id: ParsedIdentifier<FieldRule>, cmp: Token): Value {
    const token = this.next();
    const subject = capitalize(this.valueNoun(id.identifier));
    if (id.rule.kind === 'number') {
      if (token.kind === 'number') {
        const value = Number(token.text);
        if (!Number.isFinite(value)) this.fail(token, 'number out of range', `Use a finite number, e.g. ${id.text} ${cmp.text} ${id.rule.sample}`, false);
        return { kind: 'number', value };
      }
      const unquote = token.kind === 'string' && isNumber(token.value.trim());
      const fix = unquote
        ? `${subject} values are numbers; drop the quotes, e.g. ${id.text} ${cmp.text} ${token.value.trim()}`
        : `${subject} values are numbers, e.g. ${id.text} ${cmp.text} ${id.rule.sample}`;
      this.fail(token, `expected a number after '${cmp.text}'`, fix);
    }
    if (token.kind === 'string' && token.quote !== '`') return { kind: 'string', value: token.value };
    const sample = token.kind === 'word' || token.kind === 'number' ? `'${token.text}'` : id.rule.sample;
    const why = token.kind === 'string' ? 'Backticks quote names, not values' : `${subject} values are strings`;
    this.fail(token, `expected a quoted string after '${cmp.text}'`, `${why}; use single or double quotes, e.g. ${id.text} ${cmp.text} ${sample}`);
  }

  private list(id: ParsedIdentifier<FieldRule>, cmp: Token): Value {
    const example = `${id.text} ${cmp.text} ${id.rule.listSample ?? `(${id.rule.sample})`}`;
    const open = this.next();
    if (open.kind !== '(') this.fail(open, `expected '(' after '${cmp.text}'`, `${cmp.text} takes a parenthesised list of quoted strings, e.g. ${example}`);
    if (this.peek().kind === ')') this.fail(this.peek(), `empty ${cmp.text} list`, `List at least one quoted string, e.g. ${example}`, false);
    const values: string[] = [];
    for (;;) {
      const item = this.next();
      if (item.kind !== 'string' || item.quote === '`') {
        const fix = item.kind === 'word' || item.kind === 'number' ? `Quote each value, e.g. ${id.text} ${cmp.text} ('${item.text}')` : `e.g. ${example}`;
        this.fail(item, `expected a quoted string in the ${cmp.text} list`, fix);
      }
      values.push(item.value);
      const sep = this.next();
      if (sep.kind === ')') return { kind: 'list', values };
      if (sep.kind !== ',') this.fail(sep, `expected ',' or ')' in the ${cmp.text} list`, `Separate values with commas and close the list with ')', e.g. ${example}`);
    }
  }

  private groupingError(token: Token): never {
    this.fail(token, 'parentheses for grouping are not supported', `Remove them: clauses are combined with AND only, and parentheses are only used for IN lists, e.g. ${this.rules.filterExample}`, false);
  }

  private noun(id: Identifier): string {
    return `${TYPE_NOUN[id.type]} '${id.key}'`;
  }

  private valueNoun(id: Identifier): string {
    return id.type === 'attribute' || id.type === 'dataset' ? this.noun(id) : TYPE_NOUN[id.type];
  }

  private allowedPrefixes(spaces: Partial<Record<IdentifierType, unknown>>): string {
    const prefixes = (Object.keys(spaces) as IdentifierType[]).map((t) => TYPE_PREFIX[t]);
    return `${prefixes.join(', ')} (bare names are attributes)`;
  }

  private otherPrefixes(spaces: Partial<Record<IdentifierType, unknown>>): string {
    const open = (Object.keys(spaces) as IdentifierType[]).filter((t) => t === 'metric' || t === 'param' || t === 'tag');
    return open.length === 0 ? '' : `; other keys need a prefix: ${open.map((t) => TYPE_PREFIX[t]).join(', ')}`;
  }

  private example(): string {
    return this.src.kind === 'filter' ? this.rules.filterExample : this.rules.orderByExample;
  }
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/** Parses an MLflow filter string; empty or whitespace-only means "no filter" (zero clauses). */
export function parseFilter(entity: SearchEntity, filter: string | undefined | null): Clause[] {
  if (filter === undefined || filter === null || filter.trim() === '') return [];
  return new Parser({ entity, kind: 'filter', text: filter }).filter();
}

/** Parses one order_by entry, `<identifier> [ASC|DESC]`; ascending unless DESC is given. */
export function parseOrderBy(entity: SearchEntity, orderBy: string): OrderBy {
  const { identifier, ascending } = new Parser({ entity, kind: 'order_by', text: orderBy }).orderBy();
  return { identifier, ascending };
}

/** Parses every order_by entry and rejects a key ordered twice (MLflow does too). */
export function parseOrderBys(entity: SearchEntity, orderBys: readonly string[] | undefined): OrderBy[] {
  const seen = new Map<string, number>();
  return (orderBys ?? []).map((text, index) => {
    const src: Source = { entity, kind: 'order_by', text };
    const { identifier, ascending, position } = new Parser(src).orderBy();
    const key = `${identifier.type}\u0000${identifier.key}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      const token: Token = { kind: 'word', text: text.trim(), value: text, start: position, end: text.length };
      fail(src, token, `${TYPE_NOUN[identifier.type]} '${identifier.key}' already appears in order_by[${earlier}]`, 'Order by each key once; remove this entry', false);
    }
    seen.set(key, index);
    return { identifier, ascending };
  });
}

/**
 * SQL LIKE → anchored RegExp for in-memory matching: `%` is any run, `_` one character, and a
 * backslash makes the next character literal (`\%`, `\_`, `\\`), as in PostgreSQL/MySQL; SQL
 * backends must pass `ESCAPE '\'` (SQLite has no default escape) to agree with this.
 */
export function likeToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let source = '';
  const chars = Array.from(pattern); // code points, so `_` matches a whole astral character
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === '\\' && i + 1 < chars.length) source += escapeRegExp(chars[++i] as string);
    else if (ch === '%') source += '.*';
    else if (ch === '_') source += '.';
    else source += escapeRegExp(ch);
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'isu' : 'su');
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
