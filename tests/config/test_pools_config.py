"""`pools:` in the config file: parsed strictly, validated, applied, exported, loaded into the snapshot."""

from __future__ import annotations

import pytest

from router.config.drafts import ConfigInvalid
from router.routing.resolve import Resolver
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.snapshot import ModelFacts, load_routing_config
from tests.config.conftest import apply, export

BASE = """
providers:
  - {name: azure-eu, kind: azure, api_base: "https://eu.example.com", api_key: "${AZURE_API_KEY}"}
  - {name: openai, kind: openai, api_key: "${OPENAI_API_KEY}"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-eu, model: gpt-4o}
  - {name: gpt4o-us, provider: azure-eu, deployment: gpt-4o-us, model: gpt-4o}
"""

POOLS = (
    BASE
    + """
pools:
  - name: gpt4o
    strategy: weighted
    members:
      - {target: deployment/gpt4o-eu, weight: 3, rpm: 600}
      - {target: deployment/gpt4o-us, weight: 1, tpm: 90000}
chains:
  - {name: big, targets: [pool/gpt4o, openai/gpt-4.1]}
rules:
  - {match: "*opus*", chain: big}
  - {match: "*", target: pool/gpt4o}
"""
)


async def test_a_pool_applies_exports_and_routes(database: Database, cipher: CredentialCipher) -> None:
    result = await apply(database, POOLS, cipher)
    assert "+ pool gpt4o (weighted): deployment/gpt4o-eux3 + deployment/gpt4o-usx1" in result.lines()
    assert (await apply(database, POOLS, cipher)).lines() == ["no changes"]

    exported = (await export(database)).text
    assert "pools:" in exported and "rpm: 600" in exported and "tpm: 90000" in exported

    async with database.session() as session:
        snapshot = await load_routing_config(session, cipher, lambda kind, model: ModelFacts())
    pool = snapshot.pools["gpt4o"]
    assert [(m.target.ref, m.weight, m.rpm, m.tpm) for m in pool.members] == [
        ("deployment/gpt4o-eu", 3, 600, None),
        ("deployment/gpt4o-us", 1, None, 90000),
    ]
    compiled = Resolver(snapshot).candidates(None, "claude-sonnet-4")
    assert [t.ref for t in compiled[0].targets] == ["pool/gpt4o"]
    assert [t.ref for t in Resolver(snapshot).candidates(None, "claude-opus-4")[0].targets] == [
        "pool/gpt4o",
        "openai/gpt-4.1",
    ]

    changed = POOLS.replace("weight: 3, rpm: 600", "weight: 5").replace(
        "strategy: weighted", "strategy: least-busy"
    )
    lines = (await apply(database, changed, cipher)).lines()
    assert any(line.startswith("~ pool gpt4o (members, strategy)") for line in lines), lines

    removed = BASE + "\nrules:\n  - {match: '*', target: openai/gpt-4.1}\n"
    lines = (await apply(database, removed, cipher)).lines()
    assert "- pool gpt4o" in lines


@pytest.mark.parametrize(
    ("snippet", "where", "message"),
    [
        ("strategy: fastest", "pools[0].strategy", "must be one of weighted, least-busy, lowest-latency"),
        ("target: deployment/nowhere", "pools[0].members[0].target", "unknown deployment 'nowhere'"),
        ("target: pool/gpt4o", "pools[0].members[0].target", "a pool's members must be targets"),
        ("weight: 0", "pools[0].members[0].weight", "must be a whole number from 1 to 1000"),
        ("rpm: -1", "pools[0].members[0].rpm", "must be a whole number >= 1"),
    ],
)
async def test_a_bad_pool_is_refused_naming_the_place(
    database: Database, cipher: CredentialCipher, snippet: str, where: str, message: str
) -> None:
    key = snippet.split(":")[0]
    text = POOLS
    if key == "strategy":
        text = text.replace("strategy: weighted", snippet)
    elif key == "target":
        text = text.replace("target: deployment/gpt4o-eu, weight: 3", snippet + ", weight: 3")
    else:
        text = text.replace({"weight": "weight: 3", "rpm": "rpm: 600"}[key], snippet)
    with pytest.raises(ConfigInvalid) as caught:
        await apply(database, text, cipher)
    assert any(i.path == where and message in i.message for i in caught.value.issues), caught.value.issues


async def test_a_rule_naming_an_unknown_pool_is_refused(database: Database, cipher: CredentialCipher) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        await apply(database, BASE + "\nrules:\n  - {match: '*', target: pool/missing}\n", cipher)
    assert [str(i) for i in caught.value.issues] == [
        "rules[0].target: unknown pool 'missing' in 'pool/missing'"
    ]
