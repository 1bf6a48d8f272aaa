// Runs the Node recipe of docs/verifying.md, as printed there, against a
// running server: a service that copied it must accept the server's
// tokens, whatever the algorithm of its keys, and refuse the forgeries
// given.
//
// Usage: node verify-recipe.mjs ISSUER AUDIENCE EXPECTED_ALG TOKEN [FORGERY...]
//
// TOKEN must verify, its header naming EXPECTED_ALG; each FORGERY must be
// refused. `revoked` (the feed, another section of the page) is stubbed to
// "nothing revoked": revocation is not what this checks.

import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { decodeProtectedHeader } from "jose";

const [issuer, audience, expectedAlg, token, ...forgeries] = process.argv.slice(2);

const page = readFileSync(new URL("../../docs/verifying.md", import.meta.url), "utf8");
const section = page.split("## Node (jose)")[1];
let recipe = section.match(/```js\n([\s\S]*?)```/)[1];
// The recipe's two settings, replaced by this server's; anything else runs
// as printed.
const replace = (pattern, line) => {
  const matches = recipe.match(new RegExp(pattern, "gm")) ?? [];
  if (matches.length !== 1) throw new Error(`the recipe sets ${pattern} ${matches.length} times`);
  recipe = recipe.replace(new RegExp(pattern, "m"), line);
};
replace("^const ISSUER = .*$", `const ISSUER = ${JSON.stringify(issuer)};`);
replace("^const AUDIENCE = .*$", `const AUDIENCE = ${JSON.stringify(audience)};`);
recipe += "\nfunction revoked() { return false; }\n";

// Written beside this script, so that `import "jose"` resolves from the
// same node_modules.
const module = new URL(`./recipe-${process.pid}.mjs`, import.meta.url);
writeFileSync(module, recipe);
try {
  const { verify } = await import(module.href);
  const alg = decodeProtectedHeader(token).alg;
  if (alg !== expectedAlg) throw new Error(`the token is ${alg}, not ${expectedAlg}`);
  const claims = await verify(token);
  if (claims.iss !== issuer) throw new Error(`iss is ${claims.iss}`);
  console.log(`accepted: ${alg} token of ${claims.sub}`);
  for (const forgery of forgeries) {
    let accepted = false;
    try {
      await verify(forgery);
      accepted = true;
    } catch (e) {
      console.log(`refused: ${decodeProtectedHeader(forgery).alg} (${e.code ?? e.name})`);
    }
    if (accepted) throw new Error(`a forgery was accepted: ${forgery.slice(0, 60)}...`);
  }
} finally {
  rmSync(module, { force: true });
}
