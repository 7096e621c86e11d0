/**
 * A two-tenant schema for the database-state tests: the subject is tenant acme (its graph), tenant
 * globex is outside it; audit_log is the table a manifest would ignore.
 */
import type { CapsuleHeader } from '../../src/capsule/schema.js';
import { validateManifest } from '../../src/manifest/load.js';
import type { Manifest } from '../../src/manifest/schema.js';

export const TENANT_SCHEMA = `
  drop table if exists audit_log, notes, accounts cascade;
  create table accounts (tenant text not null, id int not null, name text not null,
                         updated_at timestamptz not null default now(), primary key (tenant, id));
  create table notes (id serial primary key, tenant text not null, account int not null,
                      body text not null, updated_at timestamptz not null default now(),
                      foreign key (tenant, account) references accounts (tenant, id));
  create table audit_log (id serial primary key, tenant text not null, what text not null);
  insert into accounts (tenant, id, name, updated_at) values ('acme', 1, 'Ada secret-name', '2025-01-01'),
    ('acme', 2, 'Bob', '2025-01-01'), ('globex', 1, 'Eve', '2025-01-01'), ('globex', 2, 'Fay', '2025-01-01');
  insert into notes (tenant, account, body, updated_at) values ('acme', 1, 'private acme note', '2025-01-01'),
    ('acme', 2, 'b', '2025-01-01'), ('globex', 1, 'private globex note', '2025-01-01');
`;

export function tenantManifest(extra: Record<string, unknown> = {}): Manifest {
  const table = (name: string) => ({
    name,
    from: `${name} t join graph_keys g on g.tenant = t.tenant`,
    deletePredicate: 't.tenant = g.tenant',
  });
  return validateManifest(
    {
      appId: 'tenants',
      adapter: 'postgres-subject-graph.v1',
      subjectKeys: ['tenant'],
      postgres: { tables: [table('accounts'), table('notes'), table('audit_log')] },
      ...extra,
    },
    'tenants.json',
  ).manifest;
}

export const TENANT_HEADER = {
  subject: { tenant: 'acme' },
  graph: [{ tenant: 'acme', reasons: ['subject'] }],
} as unknown as CapsuleHeader;
