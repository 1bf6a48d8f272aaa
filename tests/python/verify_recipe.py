"""Runs the Python recipe of docs/verifying.md, as printed there, against a
running server: a service that copied it must accept the server's tokens,
whatever the algorithm of its keys, and refuse the forgeries given.

Usage: python verify_recipe.py ISSUER AUDIENCE EXPECTED_ALG TOKEN [FORGERY...]

TOKEN must verify, its header naming EXPECTED_ALG; each FORGERY must be
refused. Prints one line per token. `revoked` (the feed, another section
of the page) is stubbed to "nothing revoked": revocation is not what this
checks.
"""

import re
import sys
from pathlib import Path

import jwt

issuer, audience, expected_alg, token, *forgeries = sys.argv[1:]

page = (Path(__file__).parent / "../../docs/verifying.md").read_text()
section = page.split("## Python (PyJWT)", 1)[1]
recipe = re.search(r"```python\n(.*?)```", section, re.S).group(1)
# The recipe's two settings, replaced by this server's; anything else runs
# as printed.
recipe, n = re.subn(r'^ISSUER = .*$', f"ISSUER = {issuer!r}", recipe, flags=re.M)
assert n == 1, "the recipe sets ISSUER once"
recipe, n = re.subn(r'^AUDIENCE = .*$', f"AUDIENCE = {audience!r}", recipe, flags=re.M)
assert n == 1, "the recipe sets AUDIENCE once"

scope = {"revoked": lambda claims: False}
exec(compile(recipe, "docs/verifying.md (Python)", "exec"), scope)
verify = scope["verify"]

assert jwt.get_unverified_header(token)["alg"] == expected_alg
claims = verify(token)
assert claims["iss"] == issuer
print(f"accepted: {expected_alg} token of {claims['sub']}")

for forgery in forgeries:
    try:
        verify(forgery)
    except jwt.PyJWTError as e:
        print(f"refused: {jwt.get_unverified_header(forgery).get('alg')} ({type(e).__name__})")
    else:
        raise AssertionError(f"a forgery was accepted: {forgery[:60]}...")
