"""Asks a citizen for claims online through the authority's verifier
(OpenID4VP), as a relying party's back end would: one authenticated call
creates the request, the citizen's wallet opens the link (shown as a QR code,
or followed on the same phone), the citizen consents, and the back end reads
the verified answer once.

    SHENFEN_API_KEY=… python3 online_request.py --authority https://id.example \\
        --client-id https://hotel.example --claims name --question age_over_18 \\
        --purpose "guest register"

It prints the wallet link on the first line, then the verified answer as JSON
(the claims, the answers to the questions, the relying party's pairwise
pseudonym, the level reached); exit status 0 when verified, 1 when refused or
expired. The API key is the one `shenfen rp add` or the operator console
showed at registration.
"""

import argparse
import json
import os
import sys
import time

import requests

POLL_SECONDS = 2


def ask(args, key: str) -> dict:
    """Creates the presentation request; answers its id and wallet link."""
    body = {
        "client_id": args.client_id,
        "claims": args.claims,
        "optional_claims": args.optional,
        "questions": args.question,
        "purpose": args.purpose,
        "level": args.level,
    }
    response = requests.post(
        f"{args.authority}/verifier/requests", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    if response.status_code != 201:
        raise SystemExit(f"refused: {response.json().get('detail', response.text)}")
    return response.json()


def answer(args, key: str, created: dict) -> dict:
    """Polls until the wallet has answered (the answer is given once) or the request expires."""
    url = f"{args.authority}/verifier/requests/{created['request_id']}"
    while True:
        response = requests.get(
            url, params={"client_id": args.client_id}, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        if response.status_code == 404:
            return {"status": "expired"}
        outcome = response.json()
        if outcome["status"] != "pending":
            return outcome
        time.sleep(POLL_SECONDS)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authority", required=True, help="the authority's base URL")
    parser.add_argument("--client-id", required=True, help="this relying party's client id, as registered")
    parser.add_argument("--claims", nargs="*", default=[], help="claims to ask for (name, id_number_masked, …)")
    parser.add_argument("--optional", action="append", default=[], help="a claim the citizen may decline")
    parser.add_argument("--question", action="append", default=[], help="a yes/no question (age_over_18, region=Guangdong)")
    parser.add_argument("--purpose", required=True, help="why, in words the citizen reads")
    parser.add_argument("--level", default="L1", choices=["L1", "L2", "L3"])
    args = parser.parse_args()
    key = os.environ.get("SHENFEN_API_KEY") or sys.exit("set SHENFEN_API_KEY to the relying party's API key")
    created = ask(args, key)
    print(created["authorization_request"], flush=True)
    outcome = answer(args, key, created)
    print(json.dumps(outcome, ensure_ascii=False), flush=True)
    sys.exit(0 if outcome["status"] == "verified" else 1)


if __name__ == "__main__":
    main()
