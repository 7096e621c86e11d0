/**
 * Hosts as libpq and node-postgres will actually reach them, for target safety:
 *
 * - a host that parses as an IPv4 address the way inet_aton/getaddrinfo read it is that address:
 *   `873267715` and `0x34010203` are 52.1.2.3, `0177.1` is 127.0.0.1, `127.1` is 127.0.0.1;
 * - DNS names are case-insensitive and a trailing dot is the same name
 *   (`db.x.rds.amazonaws.com.` is `db.x.rds.amazonaws.com`);
 * - `host=a,b` (and `?host=a,b`) lists several hosts, tried in turn: each one must be judged.
 */

/** One inet_aton part: decimal, 0x hex or leading-zero octal; null when it is not a number. */
function inetPart(text: string): number | null {
  if (/^0x[0-9a-f]*$/i.test(text)) return text.length === 2 ? 0 : Number.parseInt(text.slice(2), 16);
  if (/^0[0-7]*$/.test(text)) return Number.parseInt(text, 8);
  if (/^[1-9][0-9]*$/.test(text)) return Number(text);
  return null;
}

/**
 * The IPv4 address inet_aton would make of `host` (1 to 4 parts; the last fills the remaining
 * bytes), as dotted quad, or null when it is not such an address.
 */
export function inetAton(host: string): string | null {
  const parts = host.split('.');
  if (parts.length < 1 || parts.length > 4 || parts.some((p) => p === '')) return null;
  const nums = parts.map(inetPart);
  if (nums.some((n) => n === null)) return null;
  const values = nums as number[];
  const lastBytes = 4 - (values.length - 1);
  const last = values[values.length - 1]!;
  if (last >= 2 ** (8 * lastBytes)) return null;
  if (values.slice(0, -1).some((n) => n > 255)) return null;
  const bytes = [...values.slice(0, -1)];
  for (let i = lastBytes - 1; i >= 0; i--) bytes.push(Math.floor(last / 2 ** (8 * i)) % 256);
  return bytes.join('.');
}

/** Lower-cased, without IPv6 brackets and trailing dots; a numeric IPv4 host as dotted quad. */
function normalizeHost(host: string): string {
  const h = host
    .trim()
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.+$/, '');
  return inetAton(h) ?? h;
}

/** The hosts of a libpq host list (`a,b`), each normalized; empty entries mean the default socket. */
export function splitHosts(host: string): string[] {
  return host.split(',').map((h) => (h.startsWith('/') ? h : normalizeHost(h)));
}
