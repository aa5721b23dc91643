"""A stand-in for `kubectl`, for the two calls the gate makes.

`port-forward svc/S LOCAL:REMOTE --address 127.0.0.1` listens on LOCAL and answers every
connection with `HTTP/1.0 200` and the forwarded target, until terminated; `get secrets -o
json` prints one Secret holding EVENTS_API_KEYS. $FAKE_KUBECTL_FAIL=port-forward makes the
forward exit at once, as kubectl does when the Service does not exist.
"""

import base64
import json
import os
import socket
import sys


def main(argv: list[str]) -> None:
    namespace = argv[argv.index("-n") + 1]
    if "port-forward" in argv:
        if os.environ.get("FAKE_KUBECTL_FAIL") == "port-forward":
            sys.stderr.write(f'error: services "{argv[argv.index("port-forward") + 1][4:]}" not found\n')
            sys.exit(1)
        local, remote = argv[argv.index("port-forward") + 2].split(":")
        target = f"{argv[argv.index('port-forward') + 1]}.{namespace}:{remote}"
        with socket.socket() as srv:
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("127.0.0.1", int(local)))
            srv.listen()
            while True:
                conn, _ = srv.accept()
                with conn:
                    try:  # readiness probes connect and close without a request
                        if conn.recv(65536):
                            conn.sendall(f"HTTP/1.0 200 OK\r\n\r\n{target}".encode())
                    except OSError:
                        pass
    elif argv[-4:] == ["get", "secrets", "-o", "json"]:
        keys = base64.b64encode(b"key-one,key-two").decode()
        print(json.dumps({"items": [
            {"metadata": {"name": "other"}, "data": {"x": "eA=="}},
            {"metadata": {"name": "api-keys"}, "data": {"EVENTS_API_KEYS": keys}},
        ]}))
    else:
        sys.stderr.write(f"fake kubectl: unexpected {argv}\n")
        sys.exit(3)


if __name__ == "__main__":
    main(sys.argv[1:])
