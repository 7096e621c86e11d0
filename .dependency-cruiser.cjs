/**
 * The folder order of src/, checked by `npm run lint` (dependency-cruiser).
 *
 * Stages, in the order a folder may import them (a stage imports only stages before it):
 *   manifest → capsule → redaction → postgres → trace → run → judge → gate → report → scenario
 * - redaction sits before postgres: postgres/export and run/ scan and redact values with it.
 * - trace sits before run: trace/ is the trace format (schema, building, reading, writing) that
 *   the run writes, so run/ imports trace/ and trace/ never imports run/.
 * - scenario/ (`scenario add`: export → replay → judge → bless → registry) chains the stages
 *   before it; only front doors import it.
 * - util/ and the files directly in src/ (errors.ts, version.ts) import no folder but util/.
 * - Front doors (cli/, action/, demo/) may import anything; nothing else imports them.
 * - No cycle between folders at any depth (scope "folder"), front doors included.
 * A folder not listed here fails the check until it is given its place in the lists below.
 */
const STAGES = [
  'manifest',
  'capsule',
  'redaction',
  'postgres',
  'trace',
  'run',
  'judge',
  'gate',
  'report',
  'scenario',
];
const FRONT_DOORS = ['cli', 'action', 'demo'];
const KNOWN = [...STAGES, ...FRONT_DOORS, 'util'];

const folders = (names) => `^src/(${names.join('|')})/`;

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
const stageOrder = STAGES.map((stage, i) => ({
  name: `stage-order-${stage}`,
  severity: 'error',
  comment: `src/${stage}/ may import only util/, src/*.ts and the stages before it (${STAGES.slice(0, i).join(', ') || 'none'}); see .dependency-cruiser.cjs`,
  from: { path: `^src/${stage}/` },
  to: { path: folders([...STAGES.slice(i + 1), ...FRONT_DOORS]) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...stageOrder,
    {
      name: 'util-imports-no-stage',
      severity: 'error',
      comment: 'util/ and src/*.ts are shared by every stage: they import no other folder',
      from: { path: '^src/(util/|[^/]+\\.ts$)' },
      to: { path: '^src/[^/]+/', pathNot: '^src/util/' },
    },
    {
      name: 'folder-has-a-place',
      severity: 'error',
      comment: `every src/ folder is a stage, a front door or util/ (${KNOWN.join(', ')}): give a new one its place in .dependency-cruiser.cjs`,
      from: { path: '^src/[^/]+/', pathNot: folders(KNOWN) },
      to: {},
    },
    {
      name: 'no-folder-cycle',
      severity: 'error',
      comment: 'folders must not import each other in a cycle (at any depth)',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    // Type-only imports count: they couple folders as much as value imports do.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
  },
};
