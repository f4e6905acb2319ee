// Compiles the bridge contracts with solcjs into one JSON file per contract
// ({ abi, bytecode }) in the directory given as the first argument.
// crates/l1/build.rs runs it into its OUT_DIR; nothing compiled is committed.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node build.js OUT_DIR');
  process.exit(2);
}
const root = __dirname;
const sources = {};
for (const dir of ['src', 'test']) {
  for (const file of fs.readdirSync(path.join(root, dir)).sort()) {
    if (file.endsWith('.sol')) {
      sources[`${dir}/${file}`] = { content: fs.readFileSync(path.join(root, dir, file), 'utf8') };
    }
  }
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    evmVersion: 'prague',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input), {
  import: (p) => {
    const file = path.join(root, p);
    return fs.existsSync(file) ? { contents: fs.readFileSync(file, 'utf8') } : { error: `not found: ${p}` };
  },
}));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);
fs.mkdirSync(outDir, { recursive: true });
for (const [, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue;
    const artifact = { abi: c.abi, bytecode: { object: '0x' + c.evm.bytecode.object } };
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact));
  }
}
console.error(`compiled with solc ${solc.version()} into ${outDir}`);
