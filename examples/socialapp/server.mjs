// socialapp: the demo app's HTTP server (node:http + pg). Reads DATABASE_URL; listens on PORT
// (default 4517) on 127.0.0.1.
//   GET /health                      -> {"ok":true,"users":N}
//   GET /api/timeline                -> the signed-in user's private timeline (JSON)
//   GET /                            -> the same timeline as an HTML page
// "Signed in" is the x-tenant-id / x-user-id request headers (or ?tenant=&user= for the page):
// a stand-in for a real session, enough to read one user's private data.
//
// A planted bug for replay-env's own tests, OFF by default: with SOCIALAPP_PLANTED_BUG set to
// cross-tenant-write, reading the timeline also stamps created_at on the users of every OTHER
// tenant (a "last seen" update missing its tenant filter). No response shows it; replay-env's
// database-state judge does (a write outside the subject's graph).
import { createServer } from 'node:http';
import pg from 'pg';

const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write('socialapp: DATABASE_URL is not set\n');
  process.exit(2);
}
const port = Number(process.env.PORT || 4517);
const plantedBug = process.env.SOCIALAPP_PLANTED_BUG === 'cross-tenant-write';
const pool = new pg.Pool({ connectionString: url, max: 4 });

async function timeline(tenant, user) {
  const me = await pool.query(
    `select u.user_id, u.display_name, w.name as workspace
       from users u join workspaces w on w.id = u.workspace_id
      where u.tenant_id = $1 and u.user_id = $2`,
    [tenant, user],
  );
  if (me.rows.length === 0) return null;
  if (plantedBug) await pool.query('update users set created_at = now() where tenant_id <> $1', [tenant]);
  const messages = await pool.query(
    `select m.id, m.created_at as "sentAt", s.display_name as "from", r.display_name as "to", m.body,
            coalesce((select json_agg(json_build_object('by', ru.display_name, 'kind', x.kind) order by x.id)
                        from reactions x join users ru on ru.tenant_id = x.tenant_id and ru.user_id = x.user_id
                       where x.message_id = m.id), '[]') as reactions
       from messages m
       join users s on s.tenant_id = m.tenant_id and s.user_id = m.sender_user_id
       join users r on r.tenant_id = m.tenant_id and r.user_id = m.recipient_user_id
      where m.tenant_id = $1 and (m.sender_user_id = $2 or m.recipient_user_id = $2)
      order by m.created_at, m.id`,
    [tenant, user],
  );
  const reacted = await pool.query(
    `select x.kind, m.body, s.display_name as "author"
       from reactions x join messages m on m.id = x.message_id
       join users s on s.tenant_id = m.tenant_id and s.user_id = m.sender_user_id
      where x.tenant_id = $1 and x.user_id = $2 order by x.id`,
    [tenant, user],
  );
  return { user: me.rows[0], messages: messages.rows, reacted: reacted.rows };
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(t) {
  const items = t.messages
    .map(
      (m) =>
        `<li class="message"><b>${esc(m.from)}</b> &rarr; ${esc(m.to)}: ${esc(m.body)}` +
        (m.reactions.length
          ? ` <span class="reactions">${m.reactions.map((r) => esc(r.kind)).join(' ')}</span>`
          : '') +
        '</li>',
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(t.user.display_name)} - socialapp</title></head>
<body><h1 id="who">${esc(t.user.display_name)}</h1><p>${esc(t.user.workspace)}</p>
<ul id="timeline">${items}</ul></body></html>`;
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type });
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}

const server = createServer(async (req, res) => {
  try {
    const u = new URL(req.url ?? '/', 'http://localhost');
    if (u.pathname === '/health') {
      const r = await pool.query('select count(*)::int as n from users');
      return send(res, 200, { ok: true, users: r.rows[0].n });
    }
    const tenant = req.headers['x-tenant-id'] ?? u.searchParams.get('tenant');
    const user = req.headers['x-user-id'] ?? u.searchParams.get('user');
    if (u.pathname === '/api/timeline' || u.pathname === '/') {
      if (!tenant || !user) return send(res, 401, { error: 'not signed in' });
      const t = await timeline(String(tenant), String(user));
      if (!t) return send(res, 404, { error: 'no such user' });
      return u.pathname === '/' ? send(res, 200, page(t), 'text/html; charset=utf-8') : send(res, 200, t);
    }
    return send(res, 404, { error: 'not found' });
  } catch (err) {
    return send(res, 500, { error: String(err?.message ?? err) });
  }
});

server.listen(port, '127.0.0.1', () =>
  process.stdout.write(`socialapp listening on http://127.0.0.1:${port}\n`),
);
const shutdown = () => server.close(() => pool.end().then(() => process.exit(0)));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
