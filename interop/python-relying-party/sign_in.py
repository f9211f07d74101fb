"""A relying party that signs its users in with "Sign in with shenfen"
through Authlib (PyPI), as a Python web application would: discovery, the
authorization code flow with PKCE and a nonce, ``private_key_jwt`` at the
token endpoint (RFC 7523, as Singpass and eSignet require), the id_token
validated here with Authlib's ``CodeIDToken`` against the provider's JWKS,
and the level reached (``acr``) checked against the level asked.

It uses nothing of shenfen's: the browser tests run it as an independent
client, and docs/INTEGRATION.md shows it as the Python example.

    python3 sign_in.py --issuer https://id.example \\
        --client-id https://shop.example --redirect-uri https://shop.example/callback \\
        --key-file rp-key.json --listen 127.0.0.1:8082

The private key (a P-256 JWK) is made on first run; register its public half
(``GET /jwks.json``, or the file written with ``--public-jwks``) with
``shenfen rp add --client-jwks``. ``GET /login?acr=L3`` starts a sign-in;
``/callback`` answers the signed-in user as JSON, or the error.
"""

import argparse
import json
import os
import secrets
import threading
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import ECKey, KeySet
from joserfc.jws import JWSRegistry

# The most a client assertion may live: providers refuse long-lived ones
# (Authlib's default is an hour).
ASSERTION_SECONDS = 60
# How long a sign-in may take, and how many may be in progress: /login is
# open to anyone, so what it keeps is bounded in time and number.
PENDING_SECONDS = 600
MAX_PENDING = 10_000
# The cookie that ties a sign-in's state to the browser that started it.
STATE_COOKIE = "rp_sign_in_state"
# Seconds before a call to the provider is given up.
HTTP_TIMEOUT = 30
LEVELS = ("L1", "L2", "L3")


def load_key(path: Path) -> ECKey:
    """The relying party's signing key, made and saved on first run."""
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text()))
    key = ECKey.generate_key("P-256", parameters={"kid": secrets.token_urlsafe(8), "alg": "ES256", "use": "sig"})
    # Created readable by its owner only, never for a moment by others.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(json.dumps(key.as_dict(private=True)))
    return key


class RelyingParty:
    """What the application knows of the provider, and the sign-ins in progress."""

    def __init__(self, issuer: str, client_id: str, redirect_uri: str, key: ECKey):
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.key = key
        self.secure = "; Secure" if redirect_uri.startswith("https://") else ""
        self.metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT).json()
        if self.metadata["issuer"] != issuer:
            raise SystemExit(f"the discovery document names another issuer: {self.metadata['issuer']}")
        self.keys = self.fetch_keys()
        self.pending = {}
        self.lock = threading.Lock()

    def fetch_keys(self) -> KeySet:
        return KeySet.import_key_set(requests.get(self.metadata["jwks_uri"], timeout=HTTP_TIMEOUT).json())

    def public_jwks(self) -> dict:
        return {"keys": [self.key.as_dict(private=False)]}

    def session(self) -> OAuth2Session:
        session = OAuth2Session(
            self.client_id,
            self.key,
            token_endpoint_auth_method="private_key_jwt",
            redirect_uri=self.redirect_uri,
            scope="openid profile",
            code_challenge_method="S256",
            default_timeout=HTTP_TIMEOUT,
        )
        endpoint = self.metadata["token_endpoint"]
        # A fresh dict per session: Authlib writes the assertion's jti into it.
        expiry = {"exp": int(time.time()) + ASSERTION_SECONDS}
        session.register_client_auth_method(PrivateKeyJWT(endpoint, claims=expiry, alg="ES256"))
        return session

    def login(self, level: str) -> tuple:
        """The provider's authorization URL for a new sign-in at ``level``, and its state."""
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(24)
        url, state = self.session().create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, acr_values=level
        )
        now = time.monotonic()
        with self.lock:
            self.pending = {k: v for k, v in self.pending.items() if now - v["started"] < PENDING_SECONDS}
            if len(self.pending) >= MAX_PENDING:
                raise ValueError("too many sign-ins in progress; try again shortly")
            self.pending[state] = {"verifier": verifier, "nonce": nonce, "level": level, "started": now}
        return url, state

    def callback(self, query: dict, cookie_state) -> dict:
        """The signed-in user, from the provider's answer in the browser that
        started the sign-in (its cookie holds the state: no login CSRF);
        raises ValueError when refused."""
        if cookie_state is None or cookie_state != query.get("state"):
            raise ValueError("this browser did not start this sign-in")
        with self.lock:
            pending = self.pending.pop(query.get("state", ""), None)
        if pending is None or time.monotonic() - pending["started"] >= PENDING_SECONDS:
            raise ValueError("unknown, expired or reused state")
        # RFC 9207: the answer names the provider that gave it.
        if query.get("iss") != self.metadata["issuer"]:
            raise ValueError("the answer does not come from the expected provider")
        if "error" in query:
            raise ValueError(query["error"])
        token = self.session().fetch_token(
            self.metadata["token_endpoint"],
            grant_type="authorization_code",
            code=query.get("code"),
            code_verifier=pending["verifier"],
        )
        registry = JWSRegistry(algorithms=self.metadata["id_token_signing_alg_values_supported"])
        try:
            decoded = jwt.decode(token["id_token"], self.keys, registry=registry)
        except InvalidKeyIdError:
            # The provider rotated its keys since they were fetched.
            self.keys = self.fetch_keys()
            decoded = jwt.decode(token["id_token"], self.keys, registry=registry)
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"essential": True, "values": [self.metadata["issuer"]]}},
            {"nonce": pending["nonce"], "client_id": self.client_id},
        )
        claims.validate(leeway=60)
        acr = claims.get("acr", "")
        if acr not in LEVELS or LEVELS.index(acr) < LEVELS.index(pending["level"]):
            raise ValueError(f"asked for {pending['level']}, the provider answered {acr}")
        return {"sub": claims["sub"], "acr": acr, "amr": claims.get("amr", []), "name": claims.get("name")}


def handler_for(party: RelyingParty):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            if url.path == "/login":
                level = query.get("acr", "L1")
                if level not in LEVELS:
                    return self.answer(400, {"error": f"acr is one of {', '.join(LEVELS)}"})
                try:
                    location, state = party.login(level)
                except ValueError as busy:
                    return self.answer(503, {"error": str(busy)})
                self.send_response(303)
                self.send_header("Location", location)
                self.send_header("Set-Cookie", f"{STATE_COOKIE}={state}; Path=/callback; HttpOnly; SameSite=Lax; Max-Age={PENDING_SECONDS}{party.secure}")
                self.end_headers()
            elif url.path == "/callback":
                cookies = SimpleCookie(self.headers.get("Cookie", ""))
                cookie_state = cookies[STATE_COOKIE].value if STATE_COOKIE in cookies else None
                cleared = f"{STATE_COOKIE}=; Path=/callback; HttpOnly; SameSite=Lax; Max-Age=0{party.secure}"
                try:
                    self.answer(200, party.callback(query, cookie_state), cleared)
                # Ours, Authlib's, joserfc's and requests' errors alike: the sign-in fails, the server stays up.
                except Exception as refused:
                    self.answer(403, {"error": f"{type(refused).__name__}: {refused}"}, cleared)
            elif url.path == "/jwks.json":
                self.answer(200, party.public_jwks())
            else:
                self.answer(404, {"error": "not found"})

        def answer(self, status: int, body: dict, cookie: str = None):
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            if cookie:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issuer", required=True, help="the provider's issuer identifier")
    parser.add_argument("--client-id", required=True, help="this relying party's client id, as registered")
    parser.add_argument("--redirect-uri", required=True, help="the registered redirect URI: this application's /callback")
    parser.add_argument("--key-file", required=True, type=Path, help="the private JWK (made on first run)")
    parser.add_argument("--public-jwks", type=Path, help="write the public JWK Set here, for registration, and exit")
    parser.add_argument("--listen", default="127.0.0.1:8082")
    args = parser.parse_args()
    key = load_key(args.key_file)
    if args.public_jwks:
        args.public_jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
        return
    party = RelyingParty(args.issuer, args.client_id, args.redirect_uri, key)
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), handler_for(party))
    print(f"relying party listening on {host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
