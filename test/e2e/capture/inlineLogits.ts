/**
 * `npm run capture`: the README's animated capture of inline logits while typing, made the way
 * the UI tests drive VS Code (code-server through playwright-core, harness.ts). It types a
 * sentence into a document with inline logits on, screenshots the editor after each key, and
 * after each word waits until the screen shows the new hint before going on; the frames become
 * one APNG (apng.ts). Not part of `npm test`: run it on demand after a change to how the hint
 * looks. Needs `npm run build` and the e2e tools (.e2e-tools/install.sh).
 *
 *   npm run capture [-- --model SPEC] [--out FILE] [--theme dark|light] [--text "…"]
 *
 * --model defaults to `demo`, the built-in model with random weights (its predictions mean
 * nothing, and the hint says so); pass a folder or Hub id of a real GPT-2 (`gpt2`, from the
 * Hugging Face cache or downloaded) for a capture worth reading.
 * Frame durations are chosen (a key 90 ms, a hint 1.2 s), not measured: the machine's speed
 * should not set the animation's pace. The frames are also written to test-results/capture/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, startVSCode, type Theme, type VSCodeSession } from '../harness';
import { assembleApng, mergeRepeats, type ApngFrame } from './apng';

const KEY_MS = 90;
const HINT_MS = 1200;
const LAST_MS = 2500;
/** How long to wait for the hint after a word (the first one includes loading the model). */
/** How long an unchanged screen must hold after a keystroke to count as showing that keystroke's hint. */
const STILL_ENOUGH_MS = 1500;
const HINT_TIMEOUT_MS = 60_000;
const POLL_MS = 150;

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'demo' },
    out: { type: 'string', default: join(REPO_ROOT, 'docs', 'images', 'inline-logits-typing.png') },
    theme: { type: 'string', default: 'dark' },
    text: { type: 'string', default: 'The quick brown fox jumps over the' },
  },
});

interface Clip {
  x: number;
  y: number;
  width: number;
  height: number;
}

async function editorClip(s: VSCodeSession): Promise<Clip> {
  const box = await s.page.locator('.editor-instance').first().boundingBox();
  if (!box) throw new Error('the editor is not on screen');
  // The first lines of the editor: where the typing and the hint are.
  return { x: Math.round(box.x), y: Math.round(box.y), width: Math.round(box.width), height: Math.min(84, Math.round(box.height)) };
}

/**
 * Screenshots until the editor shows something other than `before` and then holds still for two
 * polls: the hint for the text typed so far has been drawn. With the key/value cache the hint can
 * already be on screen in `before` (drawn within the keystroke's frame), so a screen that has held
 * still since `before` for STILL_ENOUGH_MS counts as drawn too.
 */
async function waitForNewHint(s: VSCodeSession, clip: Clip, before: Buffer, after: string): Promise<Buffer> {
  const start = Date.now();
  const deadline = start + HINT_TIMEOUT_MS;
  let last = before;
  let still = 0;
  while (Date.now() < deadline) {
    await s.page.waitForTimeout(POLL_MS);
    const now = await s.page.screenshot({ clip });
    if (now.equals(last)) {
      if (++still >= 2 && (!now.equals(before) || Date.now() - start >= STILL_ENOUGH_MS)) return now;
    } else still = 0;
    last = now;
  }
  throw new Error(`nothing new on screen ${HINT_TIMEOUT_MS / 1000} s after typing ${JSON.stringify(after)}: are inline logits showing?`);
}

interface DecodeCheck {
  frameCount: number;
  /** Frames whose decoded pixels differ from their screenshot's, with how many pixels differ. */
  mismatches: string[];
  /** Each frame's duration as the decoder reports it, in ms. */
  durationsMs: number[];
}

/**
 * Decodes the APNG with Chromium's own decoder (WebCodecs' ImageDecoder, in the workbench page)
 * and compares every frame's pixels with the screenshot it was made from, so the file is checked
 * by an independent reader, not by the code that wrote it.
 */
async function decodeInBrowser(s: VSCodeSession, apng: Buffer, frames: readonly ApngFrame[]): Promise<DecodeCheck> {
  const input = { apng: apng.toString('base64'), pngs: frames.map((f) => f.png.toString('base64')) };
  // Page code as text: the root tsconfig has no DOM types (activation.e2e.ts does the same).
  return s.page.evaluate<DecodeCheck>(`(${IN_PAGE_DECODE})(${JSON.stringify(input)})`);
}

const IN_PAGE_DECODE = `async ({ apng, pngs }) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const pixels = (src, w, h) => {
    const ctx = new OffscreenCanvas(w, h).getContext('2d');
    ctx.drawImage(src, 0, 0);
    return ctx.getImageData(0, 0, w, h).data;
  };
  const decoder = new ImageDecoder({ data: bytes(apng), type: 'image/png' });
  await decoder.tracks.ready;
  await decoder.completed;
  const frameCount = decoder.tracks.selectedTrack.frameCount;
  const mismatches = [];
  const durationsMs = [];
  for (let i = 0; i < Math.min(frameCount, pngs.length); i++) {
    const { image } = await decoder.decode({ frameIndex: i });
    const w = image.displayWidth;
    const h = image.displayHeight;
    durationsMs.push((image.duration ?? 0) / 1000);
    const a = pixels(image, w, h);
    image.close();
    const b = pixels(await createImageBitmap(new Blob([bytes(pngs[i])], { type: 'image/png' })), w, h);
    let differ = 0;
    for (let p = 0; p < a.length; p += 4) {
      if (a[p] !== b[p] || a[p + 1] !== b[p + 1] || a[p + 2] !== b[p + 2] || a[p + 3] !== b[p + 3]) differ++;
    }
    if (differ > 0) mismatches.push('frame ' + i + ': ' + differ + ' pixels differ');
  }
  decoder.close();
  return { frameCount, mismatches, durationsMs };
}`;

async function main(): Promise<void> {
  const theme = args.theme as Theme;
  const work = mkdtempSync(join(tmpdir(), 'model-lens-capture-'));
  const framesDir = join(REPO_ROOT, 'test-results', 'capture');
  rmSync(framesDir, { recursive: true, force: true });
  mkdirSync(framesDir, { recursive: true });
  let session: VSCodeSession | undefined;
  try {
    const workspace = join(work, 'workspace');
    mkdirSync(workspace);
    writeFileSync(join(workspace, 'notes.txt'), '');
    session = await startVSCode({
      workspace,
      theme,
      viewport: { width: 1280, height: 360 },
      settings: {
        'modelLens.model': args.model,
        'modelLens.inlineLogits.topK': 3,
        'modelLens.inlineLogits.enabled': true,
        'editor.cursorBlinking': 'solid',
        'editor.minimap.enabled': false,
        'editor.fontSize': 16,
        'editor.renderLineHighlight': 'none',
        // No suggestion list over the hint: it would be part of every frame.
        'editor.quickSuggestions': { other: false, comments: false, strings: false },
        'editor.wordBasedSuggestions': 'off',
        'editor.suggestOnTriggerCharacters': false,
        'git.openRepositoryInParentFolders': 'never',
        'workbench.statusBar.visible': false,
      },
    });
    const s = session;
    await s.openFile('notes.txt');
    // The whole width for the editor, so the hint fits.
    await s.runCommand('View: Close Primary Side Bar');
    await s.page.locator('.part.sidebar').waitFor({ state: 'hidden' });
    await s.page.locator('.editor-instance .view-lines').first().click();
    await s.page.keyboard.press('Control+End');
    const clip = await editorClip(s);
    const frames: ApngFrame[] = [];
    const shot = async (delayMs: number, png?: Buffer): Promise<Buffer> => {
      const image = png ?? (await s.page.screenshot({ clip }));
      frames.push({ png: image, delayMs });
      writeFileSync(join(framesDir, `frame-${String(frames.length).padStart(3, '0')}.png`), image);
      return image;
    };
    await shot(600);
    const words = args.text.split(' ');
    let typed = '';
    for (const [i, word] of words.entries()) {
      const piece = i === 0 ? word : ` ${word}`;
      let before: Buffer = Buffer.alloc(0);
      for (const ch of piece) {
        await s.page.keyboard.type(ch);
        typed += ch;
        before = await shot(KEY_MS);
      }
      await shot(i === words.length - 1 ? LAST_MS : HINT_MS, await waitForNewHint(s, clip, before, typed));
    }
    const apng = assembleApng(frames);
    const merged = mergeRepeats(frames);
    const check = await decodeInBrowser(s, apng, merged);
    const problems = [
      ...(check.frameCount !== merged.length ? [`Chromium decodes ${check.frameCount} frames, ${merged.length} were written`] : []),
      ...check.mismatches,
      ...check.durationsMs.flatMap((d, i) =>
        Math.abs(d - merged[i]!.delayMs) > 1 ? [`frame ${i} lasts ${d} ms, not ${merged[i]!.delayMs}`] : [],
      ),
    ];
    if (problems.length > 0) throw new Error(`the APNG does not decode as written:\n${problems.join('\n')}`);
    const out = resolve(args.out);
    writeFileSync(out, apng);
    console.log(
      `${out}: ${merged.length} frames (${clip.width}×${clip.height}), ${(apng.length / 1024).toFixed(0)} KB, ` +
        `checked frame by frame in Chromium's decoder; screenshots in ${framesDir}`,
    );
  } finally {
    await session?.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
