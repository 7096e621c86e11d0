/**
 * A social-graph fixture (issue 14): person (invited by a person), forum moderated by a person,
 * message in a forum replying to messages of other people, likes, tags; every FK declared, none
 * deferrable.
 *
 * Subject person 1; the graph is {1, 2} (2 is someone 1 knows). People 3 and 4 are outside it:
 * - forum 10 is moderated by 3 (closure adds forum 10 and person 3), forum 11 by 1: a closure row
 *   of a closure-only table that references a graph row;
 * - message 101 by 3 replies to 100 (by 1) and message 102 by 2 replies to 101: closure adds 101,
 *   a closure row of a declared table that references a graph row;
 * - 1 was invited by 4 (a closure person); 1 likes 101; messages are tagged.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateManifest } from '../../src/manifest/load.js';
import type { Manifest } from '../../src/manifest/schema.js';
import { exportCapsule } from '../../src/postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../../src/postgres/export/zero-setup.js';

export const SOCIAL_SCHEMA = `
  create table person (id int primary key, name text not null, invited_by int references person (id));
  create table knows (person_id int not null references person (id), other_id int not null references person (id),
                      primary key (person_id, other_id));
  create table forum (id int primary key, title text not null, moderator_id int not null references person (id));
  create table message (
    id int primary key, forum_id int not null references forum (id),
    creator_id int not null references person (id), reply_of int references message (id), content text
  );
  create table likes (person_id int not null references person (id), message_id int not null references message (id),
                      primary key (person_id, message_id));
  create table tag (id serial primary key, name text not null unique);
  create table message_tag (message_id int not null references message (id), tag_id int not null references tag (id),
                            primary key (message_id, tag_id));
`;

export const SOCIAL_SEED = `
  insert into person values (4, 'Dora', null), (3, 'Carl', null), (1, 'Ann', 4), (2, 'Ben', 3), (5, 'Eve', null);
  insert into knows values (1, 2), (5, 1);
  insert into forum values (10, 'Postgres', 3), (11, 'Hiking', 1);
  insert into message values
    (100, 10, 1, null, 'hello'), (101, 10, 3, 100, 'hi Ann'), (102, 10, 2, 101, 'hi Carl'),
    (103, 11, 1, null, 'trail?'), (104, 11, 5, 103, 'yes');
  insert into likes values (1, 101), (2, 100), (3, 100), (5, 103);
  insert into tag (name) values ('db'), ('outdoor'), ('unused');
  insert into message_tag values (100, 1), (101, 1), (103, 2), (104, 2);
`;

export const SOCIAL_TABLES = ['person', 'knows', 'forum', 'message', 'likes', 'tag', 'message_tag'];

/** The declared tables; `message_tag` is left out when `withTags` is false (an undeclared child). */
export function socialManifestJson(options: { withTags?: boolean } = {}): Record<string, unknown> {
  const tables: Record<string, unknown>[] = [
    {
      name: 'person',
      alias: 'p',
      from: 'person p join graph_keys g on g.person_id = p.id::text',
      orderBy: 'p.id',
      deletePredicate: 't.id::text = g.person_id',
    },
    {
      name: 'knows',
      alias: 'k',
      from: 'knows k join graph_keys g on g.person_id = k.person_id::text',
      orderBy: 'k.person_id, k.other_id',
      deletePredicate: 't.person_id::text = g.person_id',
    },
    {
      name: 'message',
      alias: 'm',
      from: 'message m join graph_keys g on g.person_id = m.creator_id::text',
      orderBy: 'm.id',
      deletePredicate: 't.creator_id::text = g.person_id',
    },
    {
      name: 'likes',
      alias: 'l',
      from: 'likes l join graph_keys g on g.person_id = l.person_id::text',
      orderBy: 'l.person_id, l.message_id',
      deletePredicate: 't.person_id::text = g.person_id',
    },
  ];
  if (options.withTags !== false)
    tables.push({
      name: 'message_tag',
      alias: 'mt',
      from: 'message_tag mt join message m on m.id = mt.message_id join graph_keys g on g.person_id = m.creator_id::text',
      orderBy: 'mt.message_id, mt.tag_id',
      deletePredicate:
        'exists (select 1 from message m where m.id = t.message_id and m.creator_id::text = g.person_id)',
    });
  return {
    appId: 'social',
    adapter: 'postgres-subject-graph.v1',
    subjectKeys: ['person_id'],
    postgres: {
      graphEdges: [
        "select k.other_id::text as person_id, 'knows'::text as reason from knows k join params p on k.person_id::text = p.person_id",
      ],
      tables,
    },
  };
}

export function socialManifest(options: { withTags?: boolean } = {}): { manifest: Manifest; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'replay-social-'));
  const path = join(dir, 'social.json');
  const json = socialManifestJson(options);
  writeFileSync(path, JSON.stringify(json));
  return { manifest: validateManifest(json, path).manifest, path };
}

/** Exports person `subject` with referential closure and the schema section. */
export async function exportSocial(
  manifest: Manifest,
  sourceUrl: string,
  subject = '1',
  extra: Partial<Parameters<typeof exportCapsule>[0]> = {},
): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'replay-social-capsule-')), `person-${subject}.json`);
  const hooks = zeroSetupHooks(manifest);
  await exportCapsule({
    manifest,
    subject: { person_id: subject },
    databaseUrl: sourceUrl,
    out,
    redaction: 'raw',
    extraRows: hooks.extraRows,
    extraSections: hooks.extraSections,
    ...extra,
  });
  return out;
}
