"""The APNs benchmark still runs end to end (tiny numbers: this proves the harness, not the speed)."""

from __future__ import annotations

import pytest

from bench.bench_apns import main


@pytest.mark.slow
def test_the_benchmark_reports_every_client_against_the_sandbox_process(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # When the benchmark runs with a handful of notifications per client
    exit_code = main(["--count", "60", "--httpx-count", "60", "--in-flight", "10", "--repeat", "1"])

    # Then it prints one row per client, with the ratios against aioapns and the raw-h2 ceiling
    table = capsys.readouterr().out
    rows = [
        line.split("|")[1].strip()
        for line in table.splitlines()
        if line.startswith("| ") and "---" not in line
    ]
    assert exit_code == 0
    assert rows == ["client", "ours", "aioapns", "raw-h2", "httpx"]
    assert "medians of 1 runs" in table
