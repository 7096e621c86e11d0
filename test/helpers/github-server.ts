/**
 * A local stand-in for the part of the GitHub REST API the Action uses, with in-memory state:
 * check runs (create/update), issue comments (list/create/update), PRs for a commit, pulls list,
 * workflow-run artifacts (list/download → redirect to a zip).
 *
 * EVERY request is validated against GitHub's OpenAPI description (@octokit/openapi): the path
 * must match a documented path template with that method, query parameters and the JSON body
 * must satisfy the operation's schemas (ajv + ajv-formats). An invalid request is answered 422
 * and recorded in `violations`, which tests assert is empty.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const require = createRequire(import.meta.url);

type Json = Record<string, unknown>;
interface Operation {
  template: string;
  method: string;
  regex: RegExp;
  params: string[];
  literalSegments: number;
  op: Json;
}

let operations: Operation[] | undefined;

function loadOperations(): Operation[] {
  if (operations) return operations;
  const file = require.resolve('@octokit/openapi/generated/api.github.com.deref.json');
  const spec = JSON.parse(readFileSync(file, 'utf8')) as { paths: Record<string, Record<string, Json>> };
  const out: Operation[] = [];
  for (const [template, item] of Object.entries(spec.paths)) {
    const params: string[] = [];
    const pattern = template
      .split('/')
      .map((seg) =>
        seg.replace(/\{([^}]+)\}|[^{}]+/g, (m, name: string | undefined) => {
          if (name) {
            params.push(name);
            return '([^/]+)';
          }
          return m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        }),
      )
      .join('/');
    const literalSegments = template.split('/').filter((s) => s && !s.includes('{')).length;
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      out.push({
        template,
        method: method.toUpperCase(),
        regex: new RegExp(`^${pattern}$`),
        params,
        literalSegments,
        op,
      });
    }
  }
  // Prefer the most literal template (…/check-runs/{id} over …/{owner}/{repo}/{path}).
  out.sort((a, b) => b.literalSegments - a.literalSegments);
  operations = out;
  return out;
}

// ajv-formats is CommonJS: its default export arrives as the module object under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (a: Ajv) => void;
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
const compiled = new Map<string, ValidateFunction>();
function validator(key: string, schema: unknown): ValidateFunction {
  const known = compiled.get(key);
  if (known) return known;
  const v = ajv.compile(schema as object);
  compiled.set(key, v);
  return v;
}

export interface RecordedRequest {
  method: string;
  path: string;
  template?: string;
  query: Record<string, string>;
  body?: unknown;
  status: number;
}

export interface CheckRun {
  id: number;
  name: string;
  head_sha: string;
  status: string;
  conclusion?: string;
  details_url?: string;
  external_id?: string;
  output: { title?: string; summary?: string; text?: string };
  annotations: Json[];
  /** Annotations per request that carried some. */
  annotationBatches: number[];
}

export interface IssueComment {
  id: number;
  issue_number: number;
  body: string;
  /** Who wrote it (default: the workflow token's bot). */
  user: { login: string; type: 'Bot' | 'User' };
  created_at: string;
  updated_at: string;
}

export interface FakeArtifact {
  id: number;
  runId: number;
  owner: string;
  repo: string;
  name: string;
  /** The zip archive served on download. */
  zip: Buffer;
}

export interface FakePull {
  number: number;
  headSha: string;
  headLabel: string;
  state: 'open' | 'closed';
}

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  readonly checkRuns: CheckRun[] = [];
  readonly comments: IssueComment[] = [];
  readonly artifacts: FakeArtifact[] = [];
  readonly pulls: FakePull[] = [];
  /** Answer every POST/PATCH/PUT/DELETE with 403 (a fork's read-only token). */
  forbidWrites = false;
  /**
   * The token's user for GET /user; undefined: the workflow's GITHUB_TOKEN (an installation token:
   * GET /user is 403 and comments are written by github-actions[bot]).
   */
  tokenUser: string | undefined = undefined;
  /** Answer matching REST requests with this status (e.g. a persistent 429) instead of routing them. */
  failRequests?: {
    match: (method: string, template: string) => boolean;
    status: number;
    headers?: Record<string, string>;
    message?: string;
  };
  private nextId = 1000;
  private server?: Server;
  url = '';

  async start(): Promise<string> {
    loadOperations();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.violations.push(`server error on ${req.method} ${req.url}: ${(err as Error).stack}`);
        send(res, 500, { message: 'fake server error' });
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  /** Add comments written by someone else (for pagination tests). */
  seedComments(issueNumber: number, count: number, body = 'an unrelated comment'): void {
    for (let i = 0; i < count; i++)
      this.addComment(issueNumber, `${body} ${i}`, { login: 'someone', type: 'User' });
  }

  /** A comment by someone else with exactly this body (e.g. a forged marker). */
  seedComment(issueNumber: number, body: string, login = 'mallory'): IssueComment {
    return this.addComment(issueNumber, body, { login, type: 'User' });
  }

  commentsOn(issueNumber: number): IssueComment[] {
    return this.comments.filter((c) => c.issue_number === issueNumber);
  }

  addArtifact(a: Omit<FakeArtifact, 'id'>): FakeArtifact {
    const artifact = { ...a, id: this.nextId++ };
    this.artifacts.push(artifact);
    return artifact;
  }

  private addComment(issueNumber: number, body: string, user?: IssueComment['user']): IssueComment {
    const now = new Date().toISOString();
    const author = user ?? {
      login: this.tokenUser ?? 'github-actions[bot]',
      type: this.tokenUser ? 'User' : 'Bot',
    };
    const c = {
      id: this.nextId++,
      issue_number: issueNumber,
      body,
      user: author,
      created_at: now,
      updated_at: now,
    };
    this.comments.push(c);
    return c;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    // The runner's artifact service (twirp, ACTIONS_RESULTS_URL) and its blob storage: not part of
    // the REST API, so not validated against the OpenAPI description.
    if (url.pathname.startsWith('/twirp/')) return this.twirp(url.pathname, raw, res);
    const upload = /^\/_upload\/(\d+)$/.exec(url.pathname);
    if (upload && method === 'PUT') return this.blobPut(Number(upload[1]), url, raw, res);
    // The artifact blob (the redirect target): not part of the REST API.
    const blob = /^\/_blob\/(\d+)\.zip$/.exec(url.pathname);
    if (blob && method === 'GET') {
      const a =
        this.artifacts.find((x) => x.id === Number(blob[1])) ??
        this.runArtifacts.find((x) => x.id === Number(blob[1]));
      if (!a) return send(res, 404, { message: 'blob not found' });
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': a.zip.length });
      res.end(a.zip);
      return;
    }
    const query = Object.fromEntries(url.searchParams);
    const record: RecordedRequest = { method, path: url.pathname, query, status: 0 };
    this.requests.push(record);
    let body: unknown;
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return this.reject(res, record, `${method} ${url.pathname}: body is not JSON`);
      }
    }
    record.body = body;
    const match = this.match(method, url.pathname);
    if (!match)
      return this.reject(
        res,
        record,
        `${method} ${url.pathname}: no such operation in the OpenAPI description`,
        404,
      );
    record.template = match.op.template;
    const problems = validateRequest(match.op, match.params, query, body);
    if (problems.length)
      return this.reject(res, record, `${method} ${match.op.template}: ${problems.join('; ')}`);
    const fail = this.failRequests;
    if (fail?.match(method, match.op.template)) {
      record.status = fail.status;
      for (const [k, v] of Object.entries(fail.headers ?? {})) res.setHeader(k, v);
      return send(res, fail.status, { message: fail.message ?? 'failing on purpose (fake GitHub)' });
    }
    if (this.forbidWrites && method !== 'GET') {
      record.status = 403;
      return send(res, 403, {
        message: 'Resource not accessible by integration',
        documentation_url: 'https://docs.github.com/rest',
        status: '403',
      });
    }
    const result = this.route(method, match.op.template, match.params, query, body as Json | undefined);
    record.status = result.status;
    if (result.headers) for (const [k, v] of Object.entries(result.headers)) res.setHeader(k, v);
    send(res, result.status, result.body);
  }

  /** Artifacts of "this run", served by the twirp artifact service. */
  readonly runArtifacts: { id: number; name: string; zip: Buffer; finalized: boolean }[] = [];
  private readonly blocks = new Map<string, Buffer>();

  /** ACTIONS_RUNTIME_TOKEN: a JWT whose scp claim names the run and job backend ids. */
  static runtimeToken(): string {
    const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${part({ alg: 'none', typ: 'JWT' })}.${part({ scp: 'Actions.GenericRead:x Actions.Results:run-1:job-1' })}.sig`;
  }

  private async twirp(path: string, raw: Buffer, res: ServerResponse): Promise<void> {
    const method = path.split('/').pop();
    const body = raw.length ? (JSON.parse(raw.toString('utf8')) as Json) : {};
    this.requests.push({ method: 'POST', path, query: {}, body, status: 200 });
    switch (method) {
      case 'ListArtifacts': {
        const name = (body.nameFilter as string | undefined) ?? undefined;
        const id = body.idFilter as string | undefined;
        const list = this.runArtifacts.filter(
          (a) =>
            a.finalized &&
            (name === undefined || a.name === name) &&
            (id === undefined || String(a.id) === String(id)),
        );
        return send(res, 200, {
          artifacts: list.map((a) => ({
            workflowRunBackendId: 'run-1',
            workflowJobRunBackendId: 'job-1',
            databaseId: String(a.id),
            name: a.name,
            size: String(a.zip.length),
            createdAt: new Date().toISOString(),
          })),
        });
      }
      case 'GetSignedArtifactURL': {
        const a = this.runArtifacts.find((x) => x.name === body.name);
        if (!a) return send(res, 404, { code: 'not_found', msg: 'artifact not found' });
        return send(res, 200, { signedUrl: `${this.url}/_blob/${a.id}.zip?sig=secret` });
      }
      case 'CreateArtifact': {
        const a = { id: this.nextId++, name: String(body.name), zip: Buffer.alloc(0), finalized: false };
        this.runArtifacts.push(a);
        return send(res, 200, { ok: true, signedUploadUrl: `${this.url}/_upload/${a.id}?sig=secret` });
      }
      case 'FinalizeArtifact': {
        const a = this.runArtifacts.find((x) => x.name === body.name && !x.finalized);
        if (!a) return send(res, 404, { code: 'not_found', msg: 'artifact not found' });
        a.finalized = true;
        return send(res, 200, { ok: true, artifactId: String(a.id) });
      }
      default:
        this.violations.push(`twirp ${method}: not implemented in the fake`);
        return send(res, 501, { code: 'unimplemented', msg: String(method) });
    }
  }

  /** Azure block blob upload: Put Block (?comp=block&blockid=…) then Put Block List (?comp=blocklist). */
  private async blobPut(id: number, url: URL, raw: Buffer, res: ServerResponse): Promise<void> {
    const a = this.runArtifacts.find((x) => x.id === id);
    if (!a) return send(res, 404, { message: 'no such upload' });
    const comp = url.searchParams.get('comp');
    const headers = {
      'x-ms-request-id': String(this.nextId++),
      'x-ms-version': '2025-01-05',
      etag: '"0x1"',
      'last-modified': new Date().toUTCString(),
    };
    if (comp === 'block') {
      this.blocks.set(`${id}:${url.searchParams.get('blockid')}`, raw);
    } else if (comp === 'blocklist') {
      const ids = [...raw.toString('utf8').matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map(
        (m) => m[1]!,
      );
      a.zip = Buffer.concat(ids.map((b) => this.blocks.get(`${id}:${b}`) ?? Buffer.alloc(0)));
    } else {
      a.zip = raw; // single-shot Put Blob
    }
    res.writeHead(201, { ...headers, 'content-length': 0 });
    res.end();
  }

  private reject(res: ServerResponse, record: RecordedRequest, message: string, status = 422): void {
    this.violations.push(message);
    record.status = status;
    send(res, status, { message: `Invalid request (fake GitHub): ${message}` });
  }

  private match(method: string, path: string): { op: Operation; params: Record<string, string> } | undefined {
    for (const op of loadOperations()) {
      if (op.method !== method) continue;
      const m = op.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      op.params.forEach((p, i) => {
        params[p] = decodeURIComponent(m[i + 1]!);
      });
      return { op, params };
    }
    return undefined;
  }

  private route(
    method: string,
    template: string,
    p: Record<string, string>,
    q: Record<string, string>,
    body: Json | undefined,
  ): { status: number; body?: unknown; headers?: Record<string, string> } {
    const key = `${method} ${template}`;
    switch (key) {
      case 'POST /repos/{owner}/{repo}/check-runs': {
        const b = body ?? {};
        const output = (b.output ?? {}) as Json;
        const annotations = (output.annotations as Json[] | undefined) ?? [];
        const run: CheckRun = {
          id: this.nextId++,
          name: String(b.name),
          head_sha: String(b.head_sha),
          status: b.conclusion ? 'completed' : String(b.status ?? 'queued'),
          conclusion: b.conclusion as string | undefined,
          details_url: b.details_url as string | undefined,
          external_id: b.external_id as string | undefined,
          output: {
            title: output.title as string,
            summary: output.summary as string,
            text: output.text as string,
          },
          annotations: [...annotations],
          annotationBatches: annotations.length ? [annotations.length] : [],
        };
        this.checkRuns.push(run);
        return { status: 201, body: this.checkRunJson(run, p) };
      }
      case 'PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}': {
        const run = this.checkRuns.find((r) => r.id === Number(p.check_run_id));
        if (!run) return { status: 404, body: { message: 'Not Found' } };
        const b = body ?? {};
        if (b.conclusion) {
          run.conclusion = String(b.conclusion);
          run.status = 'completed';
        }
        const output = b.output as Json | undefined;
        if (output) {
          if (output.title !== undefined) run.output.title = String(output.title);
          if (output.summary !== undefined) run.output.summary = String(output.summary);
          const ann = (output.annotations as Json[] | undefined) ?? [];
          run.annotations.push(...ann);
          if (ann.length) run.annotationBatches.push(ann.length);
        }
        return { status: 200, body: this.checkRunJson(run, p) };
      }
      case 'GET /user': {
        if (!this.tokenUser)
          return {
            status: 403,
            body: {
              message: 'Resource not accessible by integration',
              documentation_url: 'https://docs.github.com/rest',
            },
          };
        return { status: 200, body: { login: this.tokenUser, id: 1, type: 'User' } };
      }
      case 'GET /repos/{owner}/{repo}/issues/{issue_number}/comments': {
        const all = this.commentsOn(Number(p.issue_number));
        const perPage = Number(q.per_page ?? 30);
        const page = Number(q.page ?? 1);
        const slice = all.slice((page - 1) * perPage, page * perPage);
        const headers: Record<string, string> = {};
        if (page * perPage < all.length) {
          const next = new URL(`${this.url}/repos/${p.owner}/${p.repo}/issues/${p.issue_number}/comments`);
          next.searchParams.set('per_page', String(perPage));
          next.searchParams.set('page', String(page + 1));
          headers.link = `<${next}>; rel="next"`;
        }
        return { status: 200, body: slice.map((c) => this.commentJson(c, p)), headers };
      }
      case 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments': {
        const c = this.addComment(Number(p.issue_number), String(body?.body));
        return { status: 201, body: this.commentJson(c, p) };
      }
      case 'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}': {
        const c = this.comments.find((x) => x.id === Number(p.comment_id));
        if (!c) return { status: 404, body: { message: 'Not Found' } };
        c.body = String(body?.body);
        c.updated_at = new Date().toISOString();
        return { status: 200, body: this.commentJson(c, p) };
      }
      case 'GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls': {
        const prs = this.pulls.filter((pr) => pr.headSha === p.commit_sha);
        return { status: 200, body: prs.map((pr) => this.pullJson(pr, p)) };
      }
      case 'GET /repos/{owner}/{repo}/pulls': {
        const prs = this.pulls.filter(
          (pr) =>
            (!q.head || pr.headLabel === q.head) && (!q.state || q.state === 'all' || pr.state === q.state),
        );
        return { status: 200, body: prs.map((pr) => this.pullJson(pr, p)) };
      }
      case 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts': {
        const list = this.artifacts.filter(
          (a) =>
            a.owner === p.owner &&
            a.repo === p.repo &&
            a.runId === Number(p.run_id) &&
            (!q.name || a.name === q.name),
        );
        return {
          status: 200,
          body: { total_count: list.length, artifacts: list.map((a) => this.artifactJson(a)) },
        };
      }
      case 'GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}': {
        const a = this.artifacts.find(
          (x) => x.id === Number(p.artifact_id) && x.owner === p.owner && x.repo === p.repo,
        );
        if (!a) return { status: 404, body: { message: 'Not Found' } };
        return { status: 302, headers: { location: `${this.url}/_blob/${a.id}.zip?sig=secret` } };
      }
      default:
        this.violations.push(`${key}: documented, but the fake server does not implement it`);
        return { status: 501, body: { message: `not implemented in the fake: ${key}` } };
    }
  }

  private checkRunJson(run: CheckRun, p: Record<string, string>): Json {
    return {
      id: run.id,
      name: run.name,
      head_sha: run.head_sha,
      status: run.status,
      conclusion: run.conclusion ?? null,
      html_url: `https://github.com/${p.owner}/${p.repo}/runs/${run.id}`,
      url: `${this.url}/repos/${p.owner}/${p.repo}/check-runs/${run.id}`,
      output: { ...run.output, annotations_count: run.annotations.length },
    };
  }

  private commentJson(c: IssueComment, p: Record<string, string>): Json {
    return {
      id: c.id,
      body: c.body,
      html_url: `https://github.com/${p.owner}/${p.repo}/pull/${c.issue_number}#issuecomment-${c.id}`,
      created_at: c.created_at,
      updated_at: c.updated_at,
      user: { login: c.user.login, type: c.user.type, id: 1 },
    };
  }

  private pullJson(pr: FakePull, p: Record<string, string>): Json {
    return {
      number: pr.number,
      state: pr.state,
      html_url: `https://github.com/${p.owner}/${p.repo}/pull/${pr.number}`,
      head: { sha: pr.headSha, label: pr.headLabel },
    };
  }

  private artifactJson(a: FakeArtifact): Json {
    return {
      id: a.id,
      name: a.name,
      size_in_bytes: a.zip.length,
      archive_download_url: `${this.url}/repos/${a.owner}/${a.repo}/actions/artifacts/${a.id}/zip`,
      expired: false,
      created_at: new Date().toISOString(),
    };
  }
}

function validateRequest(
  op: Operation,
  params: Record<string, string>,
  query: Record<string, string>,
  body: unknown,
): string[] {
  const problems: string[] = [];
  const declared = ((op.op.parameters as Json[] | undefined) ?? []).filter(
    (x) => x.in === 'path' || x.in === 'query',
  );
  for (const param of declared) {
    const name = String(param.name);
    const value = param.in === 'path' ? params[name] : query[name];
    if (value === undefined) {
      if (param.required) problems.push(`missing ${param.in} parameter ${name}`);
      continue;
    }
    const schema = (param.schema ?? {}) as Json;
    const coerced = schema.type === 'integer' || schema.type === 'number' ? Number(value) : value;
    if ((schema.type === 'integer' && !Number.isInteger(coerced)) || Number.isNaN(coerced)) {
      problems.push(`${param.in} parameter ${name}=${value} is not ${schema.type}`);
      continue;
    }
    const v = validator(`${op.method} ${op.template} param ${name}`, schema);
    if (!v(coerced)) problems.push(`${param.in} parameter ${name}: ${ajv.errorsText(v.errors)}`);
  }
  for (const name of Object.keys(query)) {
    if (!declared.some((d) => d.in === 'query' && d.name === name))
      problems.push(`undocumented query parameter ${name}`);
  }
  const rb = op.op.requestBody as Json | undefined;
  const schema = (rb?.content as Record<string, Json> | undefined)?.['application/json']?.schema;
  if (body !== undefined) {
    if (!schema) problems.push('the operation takes no JSON body');
    else {
      const v = validator(`${op.method} ${op.template} body`, schema);
      if (!v(body)) problems.push(`body ${ajv.errorsText(v.errors, { dataVar: 'body' })}`);
    }
  } else if (rb?.required) {
    problems.push('the operation requires a JSON body');
  }
  return problems;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** A real zip archive (stored, no compression) of the given files — what an artifact download returns. */
export function buildZip(files: Record<string, Buffer | string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const nameBuf = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0, 10); // time/date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, nameBuf, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}
