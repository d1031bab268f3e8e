"""The `sso:` section and tenants' `managed_settings` in config-as-code: validated, applied, exported back."""

from __future__ import annotations

import pytest
import yaml

from router.config.drafts import ConfigInvalid
from router.config.schema import parse_config
from router.config.validate import validate_config
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.signin import AdminMapping, MemberMapping, list_sso_mappings
from tests.config.conftest import apply, export

CONFIG = """
tenants:
  - name: eng
    managed_settings: {model: claude-sonnet-4-5, env: {OTEL_METRICS_EXPORTER: otlp}}
  - name: ops
sso:
  members:
    - {group: engineering, tenant: eng}
    - {group: ml, tenant: eng, managed_settings: {availableModels: [sonnet]}}
    - {group: sre, tenant: ops}
  admins:
    - {group: platform, role: owner}
    - {group: eng-leads, role: tenant-admin, tenants: [eng]}
"""


async def test_sso_mappings_and_managed_settings_apply_and_export_back(
    database: Database, cipher: CredentialCipher
) -> None:
    result = await apply(database, CONFIG, cipher)
    assert "~ sso (3 member groups, 2 admin groups)" in result.lines()
    async with database.session() as session:
        members, admins = await list_sso_mappings(session)
    assert members == [
        MemberMapping("engineering", "eng"),
        MemberMapping("ml", "eng", {"availableModels": ["sonnet"]}),
        MemberMapping("sre", "ops"),
    ]
    assert admins == [AdminMapping("platform", "owner"), AdminMapping("eng-leads", "tenant-admin", ("eng",))]

    exported = yaml.safe_load((await export(database)).text)
    assert exported["sso"] == yaml.safe_load(CONFIG)["sso"]
    eng = next(t for t in exported["tenants"] if t["name"] == "eng")
    assert eng["managed_settings"] == {"model": "claude-sonnet-4-5", "env": {"OTEL_METRICS_EXPORTER": "otlp"}}
    # Applying the same file again changes nothing.
    assert (await apply(database, CONFIG, cipher)).lines() == ["no changes"]


async def test_a_file_without_sso_removes_the_mappings(database: Database, cipher: CredentialCipher) -> None:
    await apply(database, CONFIG, cipher)
    await apply(database, "tenants: [{name: eng}, {name: ops}]", cipher)
    async with database.session() as session:
        assert await list_sso_mappings(session) == ([], [])


@pytest.mark.parametrize(
    ("sso", "path", "message"),
    [
        ("{members: [{group: engineering, tenant: nope}]}", "sso.members[0].tenant", "unknown tenant 'nope'"),
        ("{members: [{group: '', tenant: eng}]}", "sso.members[0].group", "must not be empty"),
        ("{admins: [{group: p, role: god}]}", "sso.admins[0].role", "must be one of owner, admin"),
        ("{admins: [{group: p, role: tenant-admin}]}", "sso.admins[0].tenants", "needs the tenants"),
        ("{admins: [{group: p, role: owner, tenants: [eng]}]}", "sso.admins[0].tenants", "not limited"),
        (
            "{members: [{group: g, tenant: eng, managed_settings: [1]}]}",
            "sso.members[0].managed_settings",
            "valid dictionary",
        ),
        ("{members: [{group: g, tenant: eng}, {group: g, tenant: eng}]}", "sso.members[1]", "twice"),
    ],
)
def test_sso_problems_name_their_place(sso: str, path: str, message: str) -> None:
    text = f"tenants: [{{name: eng}}]\nsso: {sso}\n"
    try:
        issues = validate_config(parse_config(text, {}))
    except ConfigInvalid as exc:
        issues = list(exc.issues)
    assert any(i.path == path and message in i.message for i in issues), issues


def test_an_unknown_key_under_sso_is_an_error() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config("sso: {members: [], owners: []}", {})
    assert [i.path for i in caught.value.issues] == ["sso.owners"]


def test_a_huge_managed_settings_document_is_refused() -> None:
    big = {"env": {f"K{i}": "x" * 100 for i in range(1000)}}
    text = yaml.safe_dump({"tenants": [{"name": "eng", "managed_settings": big}]})
    issues = validate_config(parse_config(text, {}))
    assert [i.path for i in issues] == ["tenants[0].managed_settings"]
