"""What checking a signed-in member's token costs on the request path, beside a proxy key's check.

    .venv/bin/python -m bench.signin_tokens [--n 50000]

Both run in memory, as the gateway does them: a proxy key is hashed (SHA-256) and looked up in the snapshot's
dict; a minted token's HS256 signature, expiry and issuer are checked (joserfc) and its session looked up in
the revoked set, then its key hash in the same dict; a token seen before skips the signature check (a
bounded per-process cache). Prints microseconds per check (median of 5 runs).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from router.identity.members import IdentitySnapshot, MemberTokens
from router.identity.tokens import TokenSigner
from router.store.keys import generate_key, hash_key


def _per_call_us(fn: Callable[[], object], n: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    n = parser.parse_args().n
    key = generate_key()
    keys = {hash_key(key): "spec"}
    signer = TokenSigner("bench-secret", "https://router.example.com")
    token, _ = signer.mint(
        session_id="f" * 32,
        key_hash="sso:" + "0" * 60,
        tenant_id=1,
        member="alice@example.com",
        subject="alice",
        groups=["engineering"],
        ttl=3600,
    )
    members = MemberTokens(None, signer, 3600)  # type: ignore[arg-type]
    members.snapshot = IdentitySnapshot(
        version=1, revoked_sessions=frozenset(f"{i:032x}" for i in range(1000))
    )
    keys["sso:" + "0" * 60] = "spec"

    proxy = _per_call_us(lambda: keys.get(hash_key(key)), n)
    minted = _per_call_us(lambda: keys.get(members.key_hash(token)), n)

    def first_sight() -> object:
        members._verified.clear()
        return keys.get(members.key_hash(token))

    uncached = _per_call_us(first_sight, max(1, n // 10))
    print(f"| credential | check per request (µs, median of 5 runs of {n}) |")
    print("|---|---|")
    print(f"| proxy key (SHA-256 + dict) | {proxy:.2f} |")
    print(f"| minted token, seen before (cache + expiry + revoked set + dict) | {minted:.2f} |")
    print(f"| minted token, first request (HS256 verify + claims + revoked set + dict) | {uncached:.2f} |")


if __name__ == "__main__":
    main()
