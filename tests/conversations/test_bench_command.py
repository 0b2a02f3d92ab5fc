from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from conversations.benchmarks import generate_emails
from conversations.mime import parse_email
from conversations.models import Conversation, RawEmail
from kommunikation.models import BusinessEntity


@pytest.mark.django_db(transaction=True)
def test_bench_ingests_the_emails_prints_a_table_and_json_and_cleans_up(tmp_path):
    out = io.StringIO()
    target = tmp_path / "bench.json"

    call_command(
        "bench", "--only", "ingest", "--messages", "200", "--json", str(target), stdout=out
    )

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Messung")
    assert any(line.startswith("ingest") and "Nachrichten/s" in line for line in lines)
    result = json.loads(lines[-1])
    assert result == json.loads(target.read_text(encoding="utf-8"))
    assert result["database"].startswith(("sqlite", "postgresql"))
    metrics = {row["metric"]: row["value"] for row in result["results"]}
    assert metrics["messages"] == 200
    assert metrics["rate"] > 0
    assert metrics["flagged"] == 0
    assert 0 < metrics["threaded"] < 200
    assert 0 < metrics["conversations"] < 200
    # the throwaway brand is gone with everything it received
    assert not BusinessEntity.objects.exists()
    assert not Conversation.objects.exists()
    assert not RawEmail.objects.exists()


def test_the_corpus_mixes_replies_html_newsletters_and_attachments():
    parsed = [parse_email(raw) for raw in generate_emails(300, seed=1, domain="bench.example")]

    assert all(p.to == ["support@bench.example"] and not p.problems for p in parsed)
    assert sum(bool(p.in_reply_to) for p in parsed) > 30
    assert sum(p.is_bulk for p in parsed) > 10
    assert sum(bool(p.html) and not p.is_bulk for p in parsed) > 10
    assert sum(bool(p.attachments) for p in parsed) > 3
    assert any("ü" in p.text or "ä" in p.text for p in parsed)
    again = generate_emails(300, seed=1, domain="bench.example")
    assert [parse_email(raw).subject for raw in again] == [p.subject for p in parsed]


@pytest.mark.django_db(transaction=True)
def test_batch_size_zero_measures_one_message_at_a_time_with_the_same_result():
    def run(*args) -> dict:
        out = io.StringIO()
        call_command("bench", "--only", "ingest", "--messages", "120", *args, stdout=out)
        return {
            r["metric"]: r["value"] for r in json.loads(out.getvalue().splitlines()[-1])["results"]
        }

    single, batched = run("--batch-size", "0"), run("--batch-size", "50")

    assert (single["batch_size"], batched["batch_size"]) == (0, 50)
    for metric in ("threaded", "conversations", "flagged"):
        assert single[metric] == batched[metric]
    assert single["cpu_per_message"] > 0
