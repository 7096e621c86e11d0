/** Screenshot comparison with pixelmatch: the fraction of pixels that differ. */
import { readFileSync } from 'node:fs';
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';

export type ScreenshotComparison =
  | { ok: true; ratio: number; width: number; height: number; sizeChanged: boolean }
  | { ok: false; error: string };

export function compareScreenshots(goldenFile: string, actualFile: string): ScreenshotComparison {
  let g: PNG;
  let a: PNG;
  try {
    g = PNG.sync.read(readFileSync(goldenFile));
  } catch (err) {
    return { ok: false, error: `golden screenshot ${goldenFile} unreadable: ${(err as Error).message}` };
  }
  try {
    a = PNG.sync.read(readFileSync(actualFile));
  } catch (err) {
    return { ok: false, error: `screenshot ${actualFile} unreadable: ${(err as Error).message}` };
  }
  if (g.width !== a.width || g.height !== a.height)
    return { ok: true, ratio: 1, width: a.width, height: a.height, sizeChanged: true };
  const differing = pixelmatch(g.data, a.data, null, g.width, g.height, { threshold: 0.1 });
  const total = g.width * g.height;
  return {
    ok: true,
    ratio: total ? differing / total : 0,
    width: g.width,
    height: g.height,
    sizeChanged: false,
  };
}
