// The publishable package: entry points, module formats, types, the async snippet and its docs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const require = createRequire(import.meta.url);
// Methods that return a value: the snippet's stub cannot answer them (use `ready`).
const RETURNING = ['share', 'flush', 'getAnonymousId', 'getIdentities', 'queued'];
const methods = (sdk) => Object.keys(sdk).filter((k) => typeof sdk[k] === 'function').sort();

describe('package.json', () => {
  test('publishable: named, versioned, not private, ships dist only', () => {
    assert.equal(pkg.name, 'siyu-js');
    assert.match(pkg.version, /^\d+\.\d+\.\d+$/);
    assert.equal(pkg.private, undefined);
    assert.deepEqual(pkg.files, ['dist']);
    assert.deepEqual(Object.keys(pkg.dependencies || {}), [], 'no runtime dependencies');
  });

  test('every entry point exists after the build', () => {
    const paths = [pkg.main, pkg.module, pkg.types, pkg.unpkg, pkg.miniprogram + '/index.js'];
    const walk = (v) => (typeof v === 'string' ? paths.push(v) : Object.values(v).forEach(walk));
    walk(pkg.exports);
    for (const p of paths) assert.ok(existsSync(new URL(p.replace(/^\.\//, ''), root)), p);
  });
});

describe('module formats', () => {
  test('CommonJS and ES module builds give the same SDK, at the package version', async () => {
    const cjs = require('../dist/siyu.h5.cjs');
    const esm = (await import('../dist/siyu.h5.mjs')).default;
    assert.equal(cjs.default, cjs);
    assert.equal(cjs.siyu, cjs);
    assert.deepEqual(methods(cjs), methods(esm));
    assert.equal(esm.version, pkg.version);
    for (const name of ['login', 'logout', 'identify', 'setProfile', 'setOnceProfile', 'incrementProfile', 'appendProfile', 'unsetProfile', 'deleteProfile', 'registerPage', 'trackTimerStart', 'trackTimerEnd']) {
      assert.equal(typeof esm[name], 'function', name);
    }
    assert.equal(esm.reset, undefined, 'one name per operation: logout(true), not reset');
  });

  test('the mini-program build has the same code API', () => {
    const mp = require('../dist/miniprogram/index.js');
    const h5Only = ['init', 'ready', 'share', 'trackPageview'];
    const mpOnly = ['init', 'App', 'Page', 'shareParams', 'createSdk'];
    const esm = require('../dist/siyu.h5.cjs');
    assert.deepEqual(
      methods(mp).filter((m) => !mpOnly.includes(m)),
      methods(esm).filter((m) => !h5Only.includes(m)),
    );
  });

  test('the type declarations declare every method of the code API', () => {
    const dts = readFileSync(new URL('dist/types/core/api.d.ts', root), 'utf8');
    const declared = [...dts.matchAll(/^\s+(\w+)\(/gm)].map((m) => m[1]).sort();
    const mp = require('../dist/miniprogram/index.js');
    const common = methods(mp).filter((m) => !['init', 'App', 'Page', 'shareParams', 'createSdk'].includes(m));
    assert.deepEqual(declared, common);
    assert.ok(existsSync(new URL('dist/types/mp/index.d.ts', root)));
  });

  test('a TypeScript user of the package typechecks through its exports; misuse does not', () => {
    // test/types/consumer.ts imports 'siyu-js' and 'siyu-js/miniprogram' (resolved by the
    // package's own "exports" to dist/types) and marks wrong calls with @ts-expect-error.
    const tsc = new URL('node_modules/typescript/bin/tsc', root).pathname;
    execFileSync(process.execPath, [tsc, '-p', new URL('test/types/tsconfig.json', root).pathname], { stdio: 'pipe' });
  });
});

describe('async-loading snippet', () => {
  const snippet = readFileSync(new URL('dist/siyu.snippet.js', root), 'utf8');
  const stubbed = snippet.match(/"(init track[\w ]+)"/)[1].split(' ').sort();

  test('stubs every method that returns nothing, and only methods the SDK has', () => {
    const sdk = require('../dist/siyu.h5.cjs');
    assert.deepEqual(stubbed, methods(sdk).filter((m) => !RETURNING.includes(m)));
  });

  test('the end-to-end page uses the snippet as built', () => {
    const page = readFileSync(new URL('e2e/async.html', root), 'utf8');
    assert.ok(page.includes(snippet.trim().replace('https://cdn.example.com/siyu.h5.min.js', '/dist/siyu.h5.min.js')));
  });

  test('docs/sdk.md shows the snippet as built', () => {
    const docs = readFileSync(new URL('../docs/sdk.md', root), 'utf8');
    assert.ok(docs.includes(snippet.trim()), 'copy dist/siyu.snippet.js into docs/sdk.md');
  });
});
