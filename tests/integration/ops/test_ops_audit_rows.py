"""`audit list` shows the app's erasure rows, as the processor writes them, beside ours."""

from __future__ import annotations

from datetime import UTC, datetime

from azure.data.tables import TableServiceClient

from processor.deletions import audit_entity
from shared.erasure import ErasureResult, UserDeletion
from shared.tablestore import AzureTableStore
from tests.integration.ops.test_ops_outage import with_setting


def test_audit_list_merges_the_apps_erasures_with_the_operators_rows(
    ops_env, table_name_factory
) -> None:
    # Given: the processor erased a user (its row in the app's own table), then an operator purged
    env = ops_env()
    app_table = table_name_factory("apperase")
    with_setting(env, "APP_AUDIT_TABLE", app_table)
    service = TableServiceClient.from_connection_string(env.tables_connection_string)
    store = AzureTableStore(service.get_table_client(app_table))
    store.ensure_table()
    deleted_at = datetime(2026, 11, 27, 8, tzinfo=UTC)
    deletion = UserDeletion.of("acme", "auth0|gone", deleted_at, "event-stream")
    result = ErasureResult(deleted_at, entities=1, index_entries=1)
    store.upsert(audit_entity(deletion, "del_0123", result, deleted_at))
    env.seed(["auth0|purged"])
    purge = env.ops("--operator", "ana", "dlq", "purge", "--all", "--yes")
    assert purge.returncode == 0, purge.stderr

    # Then: both rows, newest first, and the app's row names no user id
    rows = env.json_lines("audit", "list")
    assert [(r["action"], r["operator"]) for r in rows] == [
        ("purge", "local:ana"),
        ("erase", "app:processor"),
    ]
    erase = rows[1]
    assert erase["outcome"] == "completed"
    assert erase["counts"]["entities"] == 1
    assert "auth0|gone" not in str(erase)
    human = env.ops("audit", "list")
    assert human.returncode == 0, human.stderr
    assert "app:processor" in human.stdout
