"""TOTP codes from pyotp, an implementation nobody here wrote, for the
second-factor tests.

    totp.py OTPAUTH_URI [UNIX_TIME]

Parses the otpauth:// URI the server handed out (as an authenticator app
does when it scans the QR code) and prints, as JSON, what it read and the
code at UNIX_TIME (default: now).
"""

import json
import sys
import time

import pyotp


def main() -> None:
    totp = pyotp.parse_uri(sys.argv[1])
    at = int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time())
    print(
        json.dumps(
            {
                "code": totp.at(at),
                "secret": totp.secret,
                "name": totp.name,
                "issuer": totp.issuer,
                "digits": totp.digits,
                "interval": totp.interval,
                "digest": totp.digest().name,
            }
        )
    )


if __name__ == "__main__":
    main()
