// Builds the SDK with esbuild and checks the H5 size budget.
//   dist/siyu.h5.min.js   <script> build, defines window.siyu   (budget: 15 KB gzipped)
//   dist/siyu.h5.esm.js   ES module for bundlers
//   dist/siyu.mp.js       CommonJS for mini-programs: require('./siyu.mp.js')
//   dist/test/*.mjs       unminified ES modules of the core for node's test runner
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 15 * 1024;
const common = { bundle: true, target: ['es2017'], legalComments: 'none', logLevel: 'warning' };

rmSync('dist', { recursive: true, force: true });
await Promise.all([
  build({ ...common, entryPoints: ['src/h5/browser.ts'], outfile: 'dist/siyu.h5.min.js', format: 'iife', minify: true }),
  build({ ...common, entryPoints: ['src/h5/index.ts'], outfile: 'dist/siyu.h5.esm.js', format: 'esm', minify: true }),
  build({
    ...common,
    entryPoints: ['src/mp/index.ts'],
    outfile: 'dist/siyu.mp.js',
    format: 'cjs',
    minify: true,
    // require('./siyu.mp.js') returns the SDK itself (with createSdk for several instances).
    footer: { js: 'module.exports=Object.assign(module.exports.default,{createSdk:module.exports.createSdk});' },
  }),
  build({ ...common, entryPoints: ['src/core/index.ts'], outfile: 'dist/test/core.mjs', format: 'esm' }),
]);

function report(file) {
  const raw = readFileSync(file);
  const gz = gzipSync(raw, { level: 9 }).length;
  console.log(`${file}: ${raw.length} bytes, ${gz} bytes gzipped (${(gz / 1024).toFixed(2)} KB)`);
  return gz;
}

const h5 = report('dist/siyu.h5.min.js');
report('dist/siyu.mp.js');
if (h5 > BUDGET_BYTES) {
  console.error(`H5 build is ${h5} bytes gzipped, over the ${BUDGET_BYTES}-byte budget`);
  process.exit(1);
}
console.log(`H5 size budget: ${h5} / ${BUDGET_BYTES} bytes gzipped, ok`);
