/**
 * No SQL text from a capsule runs as given. Before `--create-schema` executes anything, every
 * statement of the capsule's `schema` section is parsed with PostgreSQL's own parser
 * (libpg-query) and must be exactly one statement of the kind the exporter writes in that place
 * (ddl.ts), aimed at the object the section names there:
 *
 *   types[i].create                  CREATE TYPE … AS ENUM / AS (…) / AS RANGE (SUBTYPE = …), CREATE DOMAIN
 *   sequences[i].create / .ownedBy   CREATE SEQUENCE / ALTER SEQUENCE … OWNED BY
 *   tables[i].create                 CREATE TABLE (partitions: CREATE TABLE … PARTITION OF)
 *   …constraints[j].sql              ALTER TABLE … ADD CONSTRAINT (one command)
 *   …indexes[j].sql                  CREATE [UNIQUE] INDEX
 *
 * Inside them, every function call must be on the allow-list (sql-allowlist.ts), operators
 * must be built-in (unqualified or pg_catalog), and subqueries are refused; extensions must be on
 * their allow-list and no object may be created in a system schema. Anything else is an input
 * error naming the field — the schema is never half-applied, because this runs before the first
 * statement.
 */
import { InputError } from '../../errors.js';
import type { PartitionDdl, SchemaSection } from './ddl.js';
import { ALLOWED_SCHEMA_EXTENSIONS, ALLOWED_SCHEMA_FUNCTIONS } from './sql-allowlist.js';

type Node = Record<string, unknown>;

interface Target {
  schema: string;
  name: string;
}

interface Slot {
  field: string;
  sql: string;
  /** Parse-tree node types allowed at the top (e.g. "CreateStmt"). */
  kinds: readonly string[];
  /** Human wording of what is expected there. */
  expected: string;
  /** The relation or type the statement must be about. */
  target: Target;
}

const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema', 'pg_toast']);
const TYPE_KINDS = ['CreateEnumStmt', 'CreateDomainStmt', 'CompositeTypeStmt', 'CreateRangeStmt'];
/** Nodes that mean "run a query" or "take a parameter": never part of the DDL the exporter writes. */
const REFUSED_NODES = new Set(['SubLink', 'SelectStmt', 'RangeSubselect', 'RangeFunction', 'ParamRef']);

type ParseSync = (sql: string) => unknown;
let parseSync: ParseSync | null = null;
let loading: Promise<void> | null = null;

/**
 * The parser is WebAssembly, loaded on first use (importing it instantiates the module, which
 * commands that never parse SQL should not pay for).
 */
export function loadSqlParser(): Promise<void> {
  loading ??= import('libpg-query').then(async (m) => {
    await m.loadModule();
    parseSync = m.parseSync;
  });
  return loading;
}

function parser(): ParseSync {
  if (!parseSync) throw new Error('internal: loadSqlParser() was not awaited before parsing SQL');
  return parseSync;
}

/** Refuse the section unless every statement passes (see the file comment); `where` names the capsule. */
export async function checkSchemaSectionSql(section: SchemaSection, where: string): Promise<void> {
  await loadSqlParser();
  const fail = (field: string, problem: string): never => {
    throw new InputError(
      `${where}: schema.${field} ${problem} — replay-env does not run it; create this schema with the manifest's "setup" commands instead of --create-schema`,
    );
  };
  checkNames(section, fail);
  for (const slot of schemaSlots(section)) checkSlot(slot, fail);
}

type Fail = (field: string, problem: string) => never;

function checkNames(section: SchemaSection, fail: Fail): void {
  section.schemas.forEach((s, i) => {
    if (SYSTEM_SCHEMAS.has(s) || s.startsWith('pg_')) fail(`schemas[${i}]`, 'names a system schema');
  });
  section.extensions.forEach((e, i) => {
    if (!ALLOWED_SCHEMA_EXTENSIONS.has(e))
      fail(
        `extensions[${i}]`,
        `asks for extension ${JSON.stringify(e)}, which is not on the allow-list (${[...ALLOWED_SCHEMA_EXTENSIONS].join(', ')})`,
      );
  });
}

function schemaSlots(section: SchemaSection): Slot[] {
  const slots: Slot[] = [];
  section.types.forEach((t, i) => {
    slots.push({
      field: `types[${i}].create`,
      sql: t.create,
      kinds: TYPE_KINDS,
      expected: 'one CREATE TYPE or CREATE DOMAIN statement',
      target: { schema: t.schema, name: t.name },
    });
  });
  section.sequences.forEach((s, i) => {
    const target = { schema: s.schema, name: s.name };
    slots.push({
      field: `sequences[${i}].create`,
      sql: s.create,
      kinds: ['CreateSeqStmt'],
      expected: 'one CREATE SEQUENCE statement',
      target,
    });
    if (s.ownedBy !== null)
      slots.push({
        field: `sequences[${i}].ownedBy`,
        sql: s.ownedBy,
        kinds: ['AlterSeqStmt'],
        expected: 'one ALTER SEQUENCE … OWNED BY statement',
        target,
      });
  });
  section.tables.forEach((t, i) => {
    const base = `tables[${i}]`;
    const target = { schema: t.schema, name: t.relname };
    slots.push({
      field: `${base}.create`,
      sql: t.create,
      kinds: ['CreateStmt'],
      expected: 'one CREATE TABLE statement',
      target,
    });
    relationSlots(slots, base, target, t);
    partitionSlots(slots, `${base}.partitions`, t.partitions);
  });
  return slots;
}

function relationSlots(
  slots: Slot[],
  base: string,
  target: Target,
  r: Pick<PartitionDdl, 'constraints' | 'indexes'>,
): void {
  r.constraints.forEach((c, j) => {
    slots.push({
      field: `${base}.constraints[${j}].sql`,
      sql: c.sql,
      kinds: ['AlterTableStmt'],
      expected: 'one ALTER TABLE … ADD CONSTRAINT statement',
      target,
    });
  });
  r.indexes.forEach((x, j) => {
    slots.push({
      field: `${base}.indexes[${j}].sql`,
      sql: x.sql,
      kinds: ['IndexStmt'],
      expected: 'one CREATE INDEX statement',
      target,
    });
  });
}

function partitionSlots(slots: Slot[], base: string, partitions: PartitionDdl[]): void {
  partitions.forEach((p, i) => {
    const at = `${base}[${i}]`;
    const target = { schema: p.schema, name: p.name };
    slots.push({
      field: `${at}.create`,
      sql: p.create,
      kinds: ['CreateStmt'],
      expected: 'one CREATE TABLE … PARTITION OF statement',
      target,
    });
    relationSlots(slots, at, target, p);
    partitionSlots(slots, `${at}.partitions`, p.partitions);
  });
}

/** Parse one statement; the parse tree's top node as { kind, node }. */
export function parseOneStatement(sql: string): { kind: string; node: Node } | { error: string } {
  let stmts: { stmt?: Node }[];
  try {
    stmts = (parser()(sql) as { stmts?: { stmt?: Node }[] }).stmts ?? [];
  } catch (err) {
    return { error: `is not valid SQL (${(err as Error).message})` };
  }
  if (stmts.length !== 1)
    return {
      error: `holds ${stmts.length} statements${stmts.length > 1 ? ` (${stmts.map((s) => Object.keys(s.stmt ?? {})[0]).join(', ')})` : ''}`,
    };
  const top = stmts[0]?.stmt ?? {};
  const kind = Object.keys(top)[0] ?? '';
  return { kind, node: (top[kind] ?? {}) as Node };
}

function checkSlot(slot: Slot, fail: Fail): void {
  const parsed = parseOneStatement(slot.sql);
  if ('error' in parsed) fail(slot.field, `${parsed.error}; expected ${slot.expected}`);
  else if (!slot.kinds.includes(parsed.kind))
    fail(slot.field, `is a ${parsed.kind} statement; expected ${slot.expected}`);
  else checkParsed(slot, parsed, fail);
}

function checkParsed(slot: Slot, parsed: { kind: string; node: Node }, fail: Fail): void {
  const problem = checkShape(parsed.kind, parsed.node, slot.target) ?? checkExpressions(parsed.node);
  if (problem) fail(slot.field, problem);
}

function relationOf(node: Node, key: string): Target | null {
  const rv = node[key] as { schemaname?: string; relname?: string } | undefined;
  if (!rv?.relname) return null;
  return { schema: rv.schemaname ?? 'public', name: rv.relname };
}

function namesOf(list: unknown): string[] {
  return Array.isArray(list)
    ? list.map((x) => String((x as { String?: { sval?: string } }).String?.sval))
    : [];
}

function sameTarget(got: Target | null, want: Target): boolean {
  return got !== null && got.schema === want.schema && got.name === want.name;
}

function describe(t: Target | null): string {
  return t ? JSON.stringify(`${t.schema}.${t.name}`) : 'no object';
}

/** The statement is about the section's object, and only does what the exporter writes. */
function checkShape(kind: string, node: Node, target: Target): string | null {
  const about = statementTarget(kind, node);
  if (!sameTarget(about, target))
    return `is about ${describe(about)}, not ${describe(target)} as the section says`;
  if (SYSTEM_SCHEMAS.has(target.schema)) return 'creates an object in a system schema';
  if (kind === 'AlterTableStmt') {
    const cmds = (node.cmds as { AlterTableCmd?: { subtype?: string } }[] | undefined) ?? [];
    if (cmds.length !== 1 || cmds[0]?.AlterTableCmd?.subtype !== 'AT_AddConstraint')
      return 'is an ALTER TABLE that does more than ADD CONSTRAINT';
  }
  if (kind === 'AlterSeqStmt' && !defNames(node.options).every((d) => d === 'owned_by'))
    return 'is an ALTER SEQUENCE that does more than OWNED BY';
  if (kind === 'CreateRangeStmt' && !defNames(node.params).every((d) => d === 'subtype'))
    return 'declares range options other than SUBTYPE (they name functions)';
  return null;
}

function defNames(list: unknown): string[] {
  return Array.isArray(list)
    ? list.map((d) => String((d as { DefElem?: { defname?: string } }).DefElem?.defname))
    : [];
}

function statementTarget(kind: string, node: Node): Target | null {
  switch (kind) {
    case 'CreateStmt':
    case 'AlterTableStmt':
    case 'IndexStmt':
      return relationOf(node, 'relation');
    case 'CreateSeqStmt':
    case 'AlterSeqStmt':
      return relationOf(node, 'sequence');
    case 'CompositeTypeStmt':
      return relationOf(node, 'typevar');
    case 'CreateEnumStmt':
    case 'CreateRangeStmt':
      return qualified(namesOf(node.typeName));
    case 'CreateDomainStmt':
      return qualified(namesOf(node.domainname));
    default:
      return null;
  }
}

function qualified(names: string[]): Target | null {
  if (names.length === 1) return { schema: 'public', name: names[0]! };
  if (names.length === 2) return { schema: names[0]!, name: names[1]! };
  return null;
}

/** Walk the whole parse tree: allow-listed functions, built-in operators, no subqueries. */
function checkExpressions(tree: unknown): string | null {
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      stack.push(...value);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    for (const [key, child] of Object.entries(value as Node)) {
      const problem = checkNode(key, child);
      if (problem) return problem;
      stack.push(child);
    }
  }
  return null;
}

function checkNode(key: string, child: unknown): string | null {
  if (REFUSED_NODES.has(key)) return `contains a ${key === 'ParamRef' ? 'parameter' : 'subquery'}`;
  if (key === 'FuncCall') {
    const names = namesOf((child as Node).funcname);
    const name = names.at(-1)?.toLowerCase() ?? '';
    const schemaOk = names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog');
    if (!schemaOk || !ALLOWED_SCHEMA_FUNCTIONS.has(name))
      return `calls function ${JSON.stringify(names.join('.'))}, which is not on the allow-list of functions a capsule may use in defaults, checks, generated columns and indexes`;
  }
  if (key === 'A_Expr') {
    const names = namesOf((child as Node).name);
    if (names.length > 1 && names[0] !== 'pg_catalog')
      return `uses operator ${JSON.stringify(names.join('.'))} from schema ${JSON.stringify(names[0])} (only built-in operators are allowed)`;
  }
  return null;
}
