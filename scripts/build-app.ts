// Builds the run app (ui://durable-agent/run) into one self-contained HTML file: the app's code,
// bundled by esbuild, and its stylesheet are inlined, and a CSP <meta> allows exactly those two
// (by hash) and nothing else — no network, no other script, no frames.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { RUN_APP_HTML_PATH } from '../src/server/app/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ui = path.join(root, 'src', 'server', 'app', 'ui');

// zod re-exports every locale (`z.locales`) and so keeps ~250 KB of translated messages alive; the
// app only ever uses the English one zod installs itself, so the re-export shrinks to that one.
const englishOnlyZod: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

const bundled = await build({
  entryPoints: [path.join(ui, 'main.ts')],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
  plugins: [englishOnlyZod],
});
// "</script" inside the code would end the inline element early; "<\/script" means the same in JS.
const script = bundled.outputFiles[0]!.text.replace(/<\/(script)/gi, '<\\/$1');
const style = readFileSync(path.join(ui, 'styles.css'), 'utf8');

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
const csp = [
  "default-src 'none'",
  `script-src ${sha256(script)}`,
  `style-src ${sha256(style)}`,
  'img-src data:',
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const html = readFileSync(path.join(ui, 'template.html'), 'utf8')
  .replace('__CSP__', () => csp)
  .replace('__STYLE__', () => style)
  .replace('__SCRIPT__', () => script);
writeFileSync(RUN_APP_HTML_PATH, html);
process.stderr.write(`run app written to ${RUN_APP_HTML_PATH} (${html.length} bytes)\n`);
