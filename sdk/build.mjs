// Builds the publishable package with esbuild and checks the H5 size budget.
//   dist/siyu.h5.min.js          <script> build (IIFE), defines window.siyu   (budget: 15 KB gzipped)
//   dist/siyu.h5.mjs             ES module for bundlers and node (`import siyu from 'siyu-js'`)
//   dist/siyu.h5.cjs             CommonJS (`require('siyu-js')` returns the SDK)
//   dist/miniprogram/index.js    CommonJS for mini-programs (`require('siyu-js/miniprogram')`,
//                                or WeChat's "build npm", or a copy required by path)
//   dist/siyu.snippet.js         the async-loading snippet for H5 pages, minified
//   dist/types/                  .d.ts declarations (tsc)
//   build/test/core.mjs          unminified ES module of the core for node's test runner (not shipped)
import { build, transform } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 15 * 1024;
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const common = {
  bundle: true,
  target: ['es2017'],
  legalComments: 'none',
  logLevel: 'warning',
  define: { __SIYU_VERSION__: JSON.stringify(version) },
};
// require(...) returns the SDK itself; `.default` and `.siyu` serve ESM-style imports.
const cjsFooter = (extra) => ({
  js: `module.exports=Object.assign(module.exports.default,{default:module.exports.default,siyu:module.exports.default${extra}});`,
});

rmSync('dist', { recursive: true, force: true });
rmSync('build', { recursive: true, force: true });
await Promise.all([
  build({ ...common, entryPoints: ['src/h5/browser.ts'], outfile: 'dist/siyu.h5.min.js', format: 'iife', minify: true }),
  build({ ...common, entryPoints: ['src/h5/index.ts'], outfile: 'dist/siyu.h5.mjs', format: 'esm', minify: true }),
  build({ ...common, entryPoints: ['src/h5/index.ts'], outfile: 'dist/siyu.h5.cjs', format: 'cjs', minify: true, footer: cjsFooter('') }),
  build({
    ...common,
    entryPoints: ['src/mp/index.ts'],
    outfile: 'dist/miniprogram/index.js',
    format: 'cjs',
    minify: true,
    // createSdk makes further instances (several projects in one mini-program).
    footer: cjsFooter(',createSdk:module.exports.createSdk'),
  }),
  build({ ...common, entryPoints: ['src/core/index.ts'], outfile: 'build/test/core.mjs', format: 'esm' }),
]);
const snippet = await transform(readFileSync('src/h5/snippet.js', 'utf8'), { minify: true, target: 'es5', legalComments: 'none' });
writeFileSync('dist/siyu.snippet.js', snippet.code);
execFileSync('npx', ['--no-install', 'tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

function report(file) {
  const raw = readFileSync(file);
  const gz = gzipSync(raw, { level: 9 }).length;
  console.log(`${file}: ${raw.length} bytes, ${gz} bytes gzipped (${(gz / 1024).toFixed(2)} KB)`);
  return gz;
}

const h5 = report('dist/siyu.h5.min.js');
report('dist/siyu.h5.mjs');
report('dist/siyu.h5.cjs');
report('dist/miniprogram/index.js');
report('dist/siyu.snippet.js');
if (h5 > BUDGET_BYTES) {
  console.error(`H5 build is ${h5} bytes gzipped, over the ${BUDGET_BYTES}-byte budget`);
  process.exit(1);
}
console.log(`H5 size budget: ${h5} / ${BUDGET_BYTES} bytes gzipped, ok`);
